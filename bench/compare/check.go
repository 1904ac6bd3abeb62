package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
)

// Tolerances of -check: float32 rounding makes the losses of two
// implementations differ in the last digits, and a residual that lands on
// the tolerance can cost one iteration more on one side.
const (
	checkLossTol  = 1e-3 // relative
	checkIterSlip = 1    // per step
)

// runCheck starts every PyTorch variant of every case from the Go side's
// initial weights and compares the first c.trace steps' losses and
// iteration counts with the Go side's.
func runCheck(c *config, stdout, stderr io.Writer) error {
	dir, err := os.MkdirTemp("", "bench-check")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	failed := 0
	for i, cs := range c.cases {
		sides := c.sides(cs)
		params := filepath.Join(dir, strconv.Itoa(i)+".json")
		trace := map[string]string{"trace": strconv.Itoa(c.trace)}
		g, err := sides[0].run(c, cs, map[string]string{"trace": strconv.Itoa(c.trace), "params-out": params})
		if err != nil {
			return fmt.Errorf("%s, %s: %w", sides[0].label, cs, err)
		}
		trace["init"] = params
		for _, sd := range sides[1:] {
			if !sd.torch {
				continue
			}
			t, err := sd.run(c, cs, trace)
			if err != nil {
				return fmt.Errorf("%s, %s: %w", sd.label, cs, err)
			}
			msgs := compareTraces(g, t)
			status := "same"
			if len(msgs) > 0 {
				status, failed = "DIFFERENT", failed+1
			}
			fmt.Fprintf(stdout, "%-28s %-16s %s\n", cs, sd.label, status)
			for _, m := range msgs {
				fmt.Fprintln(stdout, "    "+m)
			}
			fmt.Fprintln(stderr, traceLine(g, "go"), "|", traceLine(t, sd.label))
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d twins do not compute what their Go models compute", failed)
	}
	return nil
}

func traceRows(r result) []map[string]any {
	var out []map[string]any
	rows, _ := r["trace"].([]any)
	for _, x := range rows {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func compareTraces(g, t result) []string {
	gr, tr := traceRows(g), traceRows(t)
	if len(gr) == 0 || len(gr) != len(tr) {
		return []string{fmt.Sprintf("traces of %d and %d steps", len(gr), len(tr))}
	}
	var msgs []string
	for i := range gr {
		gl, tl := gr[i]["loss"].(float64), tr[i]["loss"].(float64)
		if d := math.Abs(gl-tl) / math.Max(math.Abs(gl), 1e-12); !(d <= checkLossTol) {
			msgs = append(msgs, fmt.Sprintf("step %d: loss %.6g (Go) against %.6g (relative difference %.2g)", i, gl, tl, d))
		}
		for _, k := range []string{"forward_iterations", "backward_iterations"} {
			gi, ti := gr[i][k].(float64), tr[i][k].(float64)
			if math.Abs(gi-ti) > checkIterSlip {
				msgs = append(msgs, fmt.Sprintf("step %d: %s %v (Go) against %v", i, k, gi, ti))
			}
		}
	}
	return msgs
}

func traceLine(r result, label string) string {
	s := label + ":"
	for _, row := range traceRows(r) {
		s += fmt.Sprintf(" %.5g(%v/%v)", row["loss"], row["forward_iterations"], row["backward_iterations"])
	}
	return s
}
