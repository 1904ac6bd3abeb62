package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// metric is one row of a case's table: a key of the runs' JSON (or a
// value derived from them) and whether larger is faster.
type metric struct {
	label  string
	value  func(r result) float64
	faster bool // larger is faster: ratios are Go/PyTorch; else PyTorch/Go
	ratio  bool
}

func key(k string) func(result) float64 { return func(r result) float64 { return r.num(k) } }

// msPerIteration is a training step's time divided by its forward and
// adjoint iterations: what one iteration costs, overheads included.
func msPerIteration() func(result) float64 {
	return func(r result) float64 {
		batch := r.num("batch")
		it := r.num("forward_iterations_mean") + r.num("backward_iterations_mean")
		sps := r.num("train_samples_per_second")
		if it == 0 || sps == 0 {
			return 0
		}
		return 1000 * batch / sps / it
	}
}

func metricsFor(runs map[string][]result) []metric {
	ms := []metric{{label: "train samples/s", value: key("train_samples_per_second"), faster: true, ratio: true}}
	var batches []int
	seen := map[int]bool{}
	implicit := false
	for _, rs := range runs {
		for _, r := range rs {
			for k := range r {
				if b, err := strconv.Atoi(strings.TrimPrefix(k, "infer_samples_per_second_")); err == nil && !seen[b] {
					seen[b] = true
					batches = append(batches, b)
				}
			}
			implicit = implicit || r.num("forward_iterations_mean") > 0
		}
	}
	sort.Ints(batches)
	for _, b := range batches {
		ms = append(ms, metric{label: fmt.Sprintf("infer samples/s (batch %d)", b), value: key(fmt.Sprintf("infer_samples_per_second_%d", b)), faster: true, ratio: true})
	}
	if implicit {
		ms = append(ms,
			metric{label: "forward iterations/step", value: key("forward_iterations_mean")},
			metric{label: "backward iterations/step", value: key("backward_iterations_mean")},
			metric{label: "train ms/iteration", value: msPerIteration(), ratio: true})
	}
	return ms
}

func report(w io.Writer, c *config, all map[string]map[string][]result) {
	for _, cs := range c.cases {
		runs := all[cs.String()]
		sides := c.sides(cs)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		var b, st any = "?", "?"
		for _, rs := range runs {
			if len(rs) > 0 {
				b, st = rs[0]["batch"], rs[0]["steps"]
			}
		}
		fmt.Fprintf(w, "\n%s (batch %v, %v timed steps)\n", cs, b, st)
		hdr := "metric\t"
		for _, sd := range sides {
			hdr += sd.label + "\t"
		}
		hdr += "PyTorch best\t"
		for _, sd := range sides {
			if !sd.torch {
				hdr += sd.label + "/best\t"
			}
		}
		fmt.Fprintln(tw, hdr)
		for _, m := range metricsFor(runs) {
			fmt.Fprint(tw, row(m, sides, runs))
		}
		tw.Flush()
	}
	ceilings(w, c, all)
}

// row is one metric's line: the median of every side, the faster PyTorch
// variant, and each Go build's speed relative to it.
func row(m metric, sides []side, runs map[string][]result) string {
	s := m.label + "\t"
	med := map[string]float64{}
	best, bestLabel := 0.0, ""
	for _, sd := range sides {
		var v []float64
		for _, r := range runs[sd.label] {
			v = append(v, m.value(r))
		}
		med[sd.label] = median(v)
		s += format(med[sd.label]) + "\t"
		if sd.torch && med[sd.label] > 0 && (bestLabel == "" || (m.faster == (med[sd.label] > best))) {
			best, bestLabel = med[sd.label], sd.label
		}
	}
	if !m.ratio {
		s += "\t"
		for _, sd := range sides {
			if !sd.torch {
				s += "\t"
			}
		}
		return s + "\n"
	}
	s += fmt.Sprintf("%s (%s)\t", format(best), strings.TrimPrefix(bestLabel, "pytorch:"))
	for _, sd := range sides {
		if sd.torch {
			continue
		}
		g := med[sd.label]
		switch {
		case g == 0 || best == 0:
			s += "–\t"
		case m.faster:
			s += fmt.Sprintf("%.2fx\t", g/best)
		default:
			s += fmt.Sprintf("%.2fx\t", best/g)
		}
	}
	return s + "\n"
}

func format(v float64) string {
	switch {
	case v == 0:
		return "–"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.4f", v)
}

// ceilings prints each side's GEMM ceiling and versions.
func ceilings(w io.Writer, c *config, all map[string]map[string][]result) {
	fmt.Fprintln(w, "\nmatmul ceiling (64×784×128 float32 GEMM, median over runs):")
	for _, sd := range c.sides(benchCase{workload: "classify", model: "deq"}) { // an implicit case: every side
		var g []float64
		var any result
		for _, runs := range all {
			for _, r := range runs[sd.label] {
				g = append(g, r.num("gemm_gflops"))
				any = r
			}
		}
		if any == nil {
			continue
		}
		ver := any["go"]
		if sd.torch {
			ver = "torch " + fmt.Sprint(any["torch"])
		}
		fmt.Fprintf(w, "  %s: %.1f GFLOP/s (%v, kernel %v; %v)\n", sd.label, median(g), any["blas"], any["blas_kernel"], ver)
	}
	fmt.Fprintln(w, "ratios: each Go build's speed over the faster PyTorch variant for that metric (train ms/iteration: PyTorch's time over Go's)")
}
