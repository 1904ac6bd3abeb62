package main

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/implicit-ml/implicit/serve"
)

// TestBadCommandLines: each is a usage error naming the problem.
func TestBadCommandLines(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "-run is required"},
		{[]string{"-run", "x", "-n", "0"}, "must be positive"},
		{[]string{"-run", "x", "-deadlines", "1,-2"}, "not a positive number"},
		{[]string{"-run", "x", "-deadlines", "fast"}, "not a positive number"},
		{[]string{"-run", "x", "-bogus"}, "flag provided but not defined"},
		{[]string{"-run", "x", "-plain", "-1"}, "out of range"},
	} {
		_, err := parse(c.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
	c, err := parse([]string{"-run", "x", "-deadlines", "0.5, 2"}, io.Discard)
	if err != nil || len(c.deadlines) != 2 || c.deadlines[0] != 0.5 || c.deadlines[1] != 2 {
		t.Errorf("%+v %v", c, err)
	}
}

// TestCurvePoints: the curve is each deadline then no budget; quantiles
// and the table read the points as measured.
func TestCurvePoints(t *testing.T) {
	bs := budgets([]float64{1, 4}, 0)
	if len(bs) != 3 || bs[0].DeadlineMs != 1 || bs[1].DeadlineMs != 4 || bs[2] != nil {
		t.Fatalf("budgets %+v", bs)
	}
	bs = budgets([]float64{1, 4}, 30)
	if len(bs) != 5 || bs[0].Iterations != 0 || *bs[2] != (serve.Budget{DeadlineMs: 1, Iterations: 30}) || bs[3].DeadlineMs != 4 || bs[4] != nil {
		t.Fatalf("budgets with plain iterations %+v", bs)
	}
	v := make([]float64, 100)
	for i := range v {
		v[i] = float64(100 - i)
	}
	if p50, p99, top := quantiles(v); p50 != 51 || p99 != 100 || top != 100 {
		t.Errorf("quantiles %v %v %v", p50, p99, top)
	}
	var b bytes.Buffer
	table(&b, []point{{Label: "deadline_ms 1", Accuracy: 0.5, MeanIterations: 2, Interrupted: 0.25, ServerP50ms: 1, ServerP99ms: 2, ServerMaxms: 3, P50ms: 4, P99ms: 5}})
	if !strings.Contains(b.String(), "| deadline_ms 1 | 0.5000 | 2.0 | 25% | 1.00 / 2.00 / 3.00 | 4.00 / 5.00 |") {
		t.Errorf("table:\n%s", b.String())
	}
}
