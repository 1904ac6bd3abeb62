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

// write draws the two figures and saves the points as JSON.
func write(dir string, l *experiments.Loaded, c *config, points []point) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var d, acc, p50, p99, s50, s99 []float64
	ref := math.NaN()
	for _, p := range points {
		if p.Budget == nil {
			ref = p.Accuracy
			continue
		}
		d, acc, p50, p99 = append(d, p.DeadlineMs), append(acc, p.Accuracy), append(p50, p.P50ms), append(p99, p.P99ms)
		s50, s99 = append(s50, p.ServerP50ms), append(s99, p.ServerP99ms)
	}
	flat := func(v float64) []float64 { return []float64{v, v} }
	span := []float64{d[0], d[len(d)-1]}
	title := fmt.Sprintf("%s of %s, %d test images, %d clients", l.Model.Name(), c.run, points[0].N, c.clients)
	if err := report.LinePlot(filepath.Join(dir, "serve-accuracy-deadline.png"), title, "deadline_ms", "test accuracy", true, false, []report.Series{
		{Name: "deadline_ms budget", X: d, Y: acc, Points: true},
		{Name: "no budget (solved to the model's tolerance)", X: span, Y: flat(ref), Dashed: true},
	}); err != nil {
		return err
	}
	if err := report.LinePlot(filepath.Join(dir, "serve-latency-deadline.png"), title, "deadline_ms", "latency (ms)", true, true, []report.Series{
		{Name: "server p50", X: d, Y: s50, Points: true},
		{Name: "server p99", X: d, Y: s99, Points: true},
		{Name: "client p50 (with HTTP and JSON)", X: d, Y: p50, Points: true},
		{Name: "client p99", X: d, Y: p99, Points: true},
		{Name: "the deadline", X: d, Y: d, Dashed: true},
	}); err != nil {
		return err
	}
	js, err := json.MarshalIndent(map[string]any{
		"run": c.run, "model": l.Model.Name(), "clients": c.clients, "max_batch": c.server.MaxBatch,
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
