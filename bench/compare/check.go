package main

import (
	"encoding/json"
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
	// checkInitTol bounds the relative difference of the standard
	// deviations of the two sides' initial draws of a parameter of at
	// least checkInitMin values (a uniform draw of n values has a relative
	// standard error of the std of about 0.9/√n: 9% at 100 values).
	checkInitTol = 0.25
	checkInitMin = 100
	// checkInferTol bounds the largest difference of the two sides'
	// inference outputs, relative to the largest Go output.
	checkInferTol = 1e-3
)

// runCheck starts every PyTorch variant of every case from the Go side's
// initial weights and compares the first c.trace steps' losses and
// iteration counts with the Go side's, and the predictions for the
// smallest inference batch at those weights (implicit models at the
// workload's inference iterations).
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
			msgs := append(append(compareTraces(g, t), compareInfer(g, t)...), compareInit(params, t)...)
			status := "same"
			if len(msgs) > 0 {
				status, failed = "DIFFERENT", failed+1
			}
			fmt.Fprintf(stdout, "%-28s %-16s %s\n", cs, sd.label, status)
			for _, m := range msgs {
				fmt.Fprintln(stdout, "    "+m)
			}
			d, _, _ := inferDiff(g, t)
			fmt.Fprintf(stderr, "%s | %s | inference outputs %.2g apart\n", traceLine(g, "go"), traceLine(t, sd.label), d)
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

// compareInfer holds the twin's inference outputs (infer_output, the
// predictions for the first samples) against the Go side's.
func compareInfer(g, t result) []string {
	d, at, n := inferDiff(g, t)
	switch {
	case at < 0:
		return []string{fmt.Sprintf("inference outputs of %d and %d values", n[0], n[1])}
	case !(d <= checkInferTol):
		return []string{fmt.Sprintf("inference: output %d is %.6g (Go) against %.6g, %.2g of the largest output", at, g["infer_output"].([]any)[at], t["infer_output"].([]any)[at], d)}
	}
	return nil
}

// inferDiff returns the largest difference of the two sides' inference
// outputs relative to the largest Go output, and where it is; at is −1
// when the outputs' lengths n differ or are zero.
func inferDiff(g, t result) (d float64, at int, n [2]int) {
	gv, _ := g["infer_output"].([]any)
	tv, _ := t["infer_output"].([]any)
	n = [2]int{len(gv), len(tv)}
	if len(gv) == 0 || len(gv) != len(tv) {
		return 0, -1, n
	}
	var diff, scale float64
	for i := range gv {
		a, _ := gv[i].(float64)
		b, _ := tv[i].(float64)
		scale = math.Max(scale, math.Abs(a))
		if e := math.Abs(a - b); !(e <= diff) {
			diff, at = e, i
		}
	}
	return diff / math.Max(scale, 1e-12), at, n
}

func traceLine(r result, label string) string {
	s := label + ":"
	for _, row := range traceRows(r) {
		s += fmt.Sprintf(" %.5g(%v/%v)", row["loss"], row["forward_iterations"], row["backward_iterations"])
	}
	return s
}

// compareInit holds the twin's own initial draws (summarised by their
// standard deviations, bench.py's init_std) against the Go side's
// (gobench -params-out): the same weights make -check's steps agree, the
// same distributions make the timed runs' iteration counts agree.
func compareInit(paramsFile string, t result) []string {
	b, err := os.ReadFile(paramsFile)
	if err != nil {
		return []string{err.Error()}
	}
	var ps []struct {
		Name  string    `json:"name"`
		Data  []float64 `json:"data"`
		Fixed bool      `json:"fixed"`
	}
	if err := json.Unmarshal(b, &ps); err != nil {
		return []string{err.Error()}
	}
	stds, _ := t["init_std"].(map[string]any)
	var msgs []string
	for _, p := range ps {
		if p.Fixed || len(p.Data) < checkInitMin {
			continue
		}
		ts, ok := stds[p.Name].(float64)
		if !ok {
			msgs = append(msgs, fmt.Sprintf("%s: the twin reports no initial draw", p.Name))
			continue
		}
		gs := std(p.Data)
		if d := math.Abs(gs-ts) / math.Max(gs, 1e-12); !(d <= checkInitTol) {
			msgs = append(msgs, fmt.Sprintf("%s: initial std %.4g (Go) against %.4g (twin): the twin draws its weights from another distribution", p.Name, gs, ts))
		}
	}
	return msgs
}

func std(v []float64) float64 {
	var m, s float64
	for _, x := range v {
		m += x
	}
	m /= float64(len(v))
	for _, x := range v {
		s += (x - m) * (x - m)
	}
	return math.Sqrt(s / float64(len(v)-1))
}
