package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// MetricsLog appends one JSON object per line to metrics.jsonl: a line per
// logged step and per epoch of every model. Values depend only on the
// seed and the data order, except the wall-clock fields ("seconds").
type MetricsLog struct {
	mu   sync.Mutex
	path string
	f    *os.File
	w    *bufio.Writer
}

// Record is one line of the log.
type Record struct {
	Model string `json:"model"`
	// Event is "step" or "epoch".
	Event string  `json:"event"`
	Epoch int     `json:"epoch"`
	Step  int     `json:"step"`
	Loss  float64 `json:"loss"`
	LR    float64 `json:"lr,omitempty"`
	// ForwardIters and BackwardIters are means over the logged interval.
	ForwardIters  float64 `json:"fwd_iters,omitempty"`
	BackwardIters float64 `json:"bwd_iters,omitempty"`
	// NotConverged is the fraction of forward samples above tolerance in
	// the interval.
	NotConverged float64 `json:"not_converged,omitempty"`
	// BackwardNotConverged is the same fraction for the adjoint solves.
	BackwardNotConverged float64 `json:"bwd_not_converged,omitempty"`
	// SpectralRadius is the monitored spectral radius of J_f(z*) (epoch
	// lines, with Config.MonitorSpectralRadius).
	SpectralRadius float64 `json:"spectral_radius,omitempty"`
	// Skipped counts optimizer steps skipped in the interval because a
	// backward solve failed (Config.SkipNonConvergedBackward).
	Skipped int `json:"skipped_steps,omitempty"`
	// Seconds is the training time so far (wall clock).
	Seconds float64 `json:"seconds"`
	// Metric is a validation metric, for epoch lines when evaluated.
	Metric *float64 `json:"metric,omitempty"`
}

// OpenMetrics opens (creating) the log at path for appending. A last line
// that a killed run left half written is dropped first, so the next
// record starts on a line of its own.
func OpenMetrics(path string) (*MetricsLog, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	if err := dropTornTail(path); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	return &MetricsLog{path: path, f: f, w: bufio.NewWriter(f)}, nil
}

// Write appends a record and flushes it, so a crash loses nothing logged.
func (m *MetricsLog) Write(r Record) error {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	m.w.Write(b)
	m.w.WriteByte('\n')
	return m.w.Flush()
}

// Rewind drops the lines of model whose step is past step: the lines a
// run logged after the checkpoint it is resumed from, which the resumed
// run will log again.
func (m *MetricsLog) Rewind(model string, step int) error {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.w.Flush(); err != nil {
		return err
	}
	raw, err := os.ReadFile(m.path)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	var kept bytes.Buffer
	for _, line := range bytes.SplitAfter(raw, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r Record
		if json.Unmarshal(line, &r) != nil || (r.Model == model && r.Step > step) {
			continue // a record the resumed run logs again, or a torn one
		}
		kept.Write(line)
	}
	tmp := m.path + ".tmp"
	if err := os.WriteFile(tmp, kept.Bytes(), 0o644); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	m.f.Close()
	if err := os.Rename(tmp, m.path); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	f, err := os.OpenFile(m.path, os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	m.f, m.w = f, bufio.NewWriter(f)
	return nil
}

// dropTornTail truncates the file at path after its last newline: a
// record is written whole with its newline, so bytes after the last one
// are a record a killed write left incomplete.
func dropTornTail(path string) error {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) || len(raw) == 0 || raw[len(raw)-1] == '\n' {
		return nil
	}
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if err := os.Truncate(path, int64(bytes.LastIndexByte(raw, '\n')+1)); err != nil {
		return fmt.Errorf("train: dropping the incomplete last line of %s: %w", path, err)
	}
	return nil
}

// Close flushes and closes the log.
func (m *MetricsLog) Close() error {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.w.Flush(); err != nil {
		m.f.Close()
		return err
	}
	return m.f.Close()
}
