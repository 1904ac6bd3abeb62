package report

import (
	"strings"
	"testing"
)

// TestLongTitleIsWrapped: a title wider than the figure (a run's long
// dataset description with "(3 seeds)") is broken into lines that each
// fit, with every word kept in order; a short one is left alone.
func TestLongTitleIsWrapped(t *testing.T) {
	long := "recurrent on variable tracking, 8 statements and 2 queries (22 tokens): trained at depth 0-1, harder at 2-3 (3 seeds)"
	p := newPlot(long, "t", "metric")
	limit := plotWidth - 2*titleMargin
	lines := strings.Split(p.Title.Text, "\n")
	if len(lines) < 2 {
		t.Fatalf("title %q (%.0f pt wide, the figure %.0f pt) was not wrapped", long, p.Title.TextStyle.Width(long).Points(), plotWidth.Points())
	}
	for _, l := range lines {
		if w := p.Title.TextStyle.Width(l); w > limit {
			t.Errorf("line %q is %.0f pt wide, more than %.0f", l, w.Points(), limit.Points())
		}
	}
	if got := strings.Join(strings.Fields(p.Title.Text), " "); got != long {
		t.Errorf("wrapped title reads %q, want %q", got, long)
	}
	if short := newPlot("classify (3 seeds)", "t", "metric"); short.Title.Text != "classify (3 seeds)" {
		t.Errorf("a short title became %q", short.Title.Text)
	}
}
