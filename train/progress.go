package train

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// ProgressMode says how progress is shown.
type ProgressMode int

const (
	// ProgressAuto draws a bar on a terminal and writes a log line every
	// few seconds otherwise (CI, pipes): no carriage-return spam.
	ProgressAuto ProgressMode = iota
	// ProgressAlways always draws the bar.
	ProgressAlways
	// ProgressNever shows nothing.
	ProgressNever
)

// ParseProgress parses auto, always or never.
func ParseProgress(s string) (ProgressMode, error) {
	switch s {
	case "", "auto":
		return ProgressAuto, nil
	case "always":
		return ProgressAlways, nil
	case "never":
		return ProgressNever, nil
	}
	return 0, fmt.Errorf("train: unknown progress mode %q (want auto, always or never)", s)
}

// Progress reports the advance of a long task on w.
type Progress struct {
	w        io.Writer
	bar      *progressbar.ProgressBar
	lines    bool
	every    time.Duration
	last     time.Time
	desc     string
	total    int
	done     int
	started  time.Time
	describe func() string
}

// NewProgress starts reporting a task of total units on w. In auto mode a
// bar is drawn only when w is a terminal and CI is not set.
func NewProgress(w io.Writer, mode ProgressMode, desc string, total int) *Progress {
	p := &Progress{w: w, desc: desc, total: total, every: 5 * time.Second, started: time.Now()}
	p.last = p.started
	switch mode {
	case ProgressNever:
		return p
	case ProgressAuto:
		if !isTerminal(w) || os.Getenv("CI") != "" {
			p.lines = true
			return p
		}
	}
	p.bar = progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("steps"),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	return p
}

// Describe sets a function giving live details (loss, iterations) for the
// bar's description and the log lines.
func (p *Progress) Describe(f func() string) { p.describe = f }

// Add advances by n units.
func (p *Progress) Add(n int) {
	if p == nil {
		return
	}
	p.done += n
	switch {
	case p.bar != nil:
		if p.describe != nil {
			p.bar.Describe(p.desc + " " + p.describe())
		}
		_ = p.bar.Add(n)
	case p.lines:
		if now := time.Now(); now.Sub(p.last) >= p.every {
			p.last = now
			p.line()
		}
	}
}

func (p *Progress) line() {
	rate := float64(p.done) / time.Since(p.started).Seconds()
	extra := ""
	if p.describe != nil {
		extra = " " + p.describe()
	}
	fmt.Fprintf(p.w, "%s: %d/%d (%.0f%%, %.1f/s)%s\n", p.desc, p.done, p.total, 100*float64(p.done)/float64(max(p.total, 1)), rate, extra)
}

// Finish ends the report.
func (p *Progress) Finish() {
	if p == nil {
		return
	}
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
