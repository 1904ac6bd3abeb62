package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/implicit-ml/implicit/train/experiments"
	"github.com/implicit-ml/implicit/train/report"
)

// curveSeries are one kind of budget's points (deadlines on the model's
// solver, or on plain iterations), in the order measured.
type curveSeries struct {
	d, acc, p50, p99, s50, s99 []float64
}

func (c *curveSeries) add(p point) {
	c.d, c.acc, c.p50, c.p99 = append(c.d, p.DeadlineMs), append(c.acc, p.Accuracy), append(c.p50, p.P50ms), append(c.p99, p.P99ms)
	c.s50, c.s99 = append(c.s50, p.ServerP50ms), append(c.s99, p.ServerP99ms)
}

// write draws the two figures and saves the points as JSON.
func write(dir string, l *experiments.Loaded, c *config, points []point) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var solver, plain curveSeries
	ref := math.NaN()
	for _, p := range points {
		switch {
		case p.Budget == nil:
			ref = p.Accuracy
		case p.Budget.Iterations > 0:
			plain.add(p)
		default:
			solver.add(p)
		}
	}
	d := solver.d
	flat := func(v float64) []float64 { return []float64{v, v} }
	span := []float64{d[0], d[len(d)-1]}
	title := fmt.Sprintf("%s of %s, %d test images, %d clients", l.Model.Name(), c.run, points[0].N, c.clients)
	acc := []report.Series{{Name: "deadline_ms, the model's solver (" + l.Settings.Solver.Name() + ")", X: d, Y: solver.acc, Points: true}}
	if len(plain.d) > 0 {
		acc = append(acc, report.Series{Name: fmt.Sprintf("deadline_ms, plain iterations (y_t, t ≤ %d)", c.plain), X: plain.d, Y: plain.acc, Points: true})
	}
	acc = append(acc, report.Series{Name: "no budget (solved to the model's tolerance)", X: span, Y: flat(ref), Dashed: true})
	if err := report.LinePlot(filepath.Join(dir, "serve-accuracy-deadline.png"), title, "deadline_ms", "test accuracy", true, false, acc); err != nil {
		return err
	}
	if err := report.LinePlot(filepath.Join(dir, "serve-latency-deadline.png"), title, "deadline_ms", "latency (ms), the model's solver", true, true, []report.Series{
		{Name: "server p50", X: d, Y: solver.s50, Points: true},
		{Name: "server p99", X: d, Y: solver.s99, Points: true},
		{Name: "client p50 (with HTTP and JSON)", X: d, Y: solver.p50, Points: true},
		{Name: "client p99", X: d, Y: solver.p99, Points: true},
		{Name: "the deadline", X: d, Y: d, Dashed: true},
	}); err != nil {
		return err
	}
	js, err := json.MarshalIndent(map[string]any{
		"run": c.run, "model": l.Model.Name(), "clients": c.clients, "plain": c.plain, "max_batch": c.server.MaxBatch, "workers": c.server.Workers,
		"max_wait_ms": float64(c.server.MaxWait) / float64(time.Millisecond), "points": points,
	}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "serve-deadline.json"), append(js, '\n'), 0o644)
}

// table prints the points as a markdown table.
func table(w io.Writer, points []point) {
	fmt.Fprintln(w, "| budget | accuracy | mean iterations | stopped by the deadline | server p50 / p99 / max (ms) | client p50 / p99 (ms) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, p := range points {
		fmt.Fprintf(w, "| %s | %.4f | %.1f | %.0f%% | %.2f / %.2f / %.2f | %.2f / %.2f |\n", p.Label, p.Accuracy, p.MeanIterations, 100*p.Interrupted,
			p.ServerP50ms, p.ServerP99ms, p.ServerMaxms, p.P50ms, p.P99ms)
	}
}
