package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseCases(t *testing.T) {
	cs, err := parseCases("classify/deq@10, reason/explicit,deblur/pgd")
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 3 || cs[0].String() != "classify/deq@10" || cs[0].fixed != 10 || cs[1].implicit() || !cs[2].implicit() {
		t.Fatalf("parsed %+v", cs)
	}
	for _, bad := range []string{"classify", "classify/", "classify/deq@0", "classify/deq@x", "classify/mlp@5"} {
		if _, err := parseCases(bad); err == nil {
			t.Errorf("parseCases(%q) accepted it", bad)
		}
	}
}

func TestSidesAlternateGoThenEachTorchVariant(t *testing.T) {
	c := &config{gobench: []string{"bin/gobench", "bin/gobench-openblas"}, torchSolvers: []string{"port", "batched"}}
	var got []string
	for _, s := range c.sides(benchCase{workload: "classify", model: "deq"}) {
		got = append(got, s.label)
	}
	if strings.Join(got, " ") != "go:gobench go:gobench-openblas pytorch:port pytorch:batched" {
		t.Fatalf("implicit sides %v", got)
	}
	if n := len(c.sides(benchCase{workload: "classify", model: "mlp"})); n != 3 {
		t.Fatalf("an explicit model runs on %d sides, want the Go builds and one PyTorch", n)
	}
}

// run returns fake results per side for row.
func fakeRuns(goV, port, batched []float64, k string) ([]side, map[string][]result) {
	c := &config{gobench: []string{"gobench"}, torchSolvers: []string{"port", "batched"}}
	sides := c.sides(benchCase{workload: "classify", model: "deq"})
	runs := map[string][]result{}
	for label, vs := range map[string][]float64{"go:gobench": goV, "pytorch:port": port, "pytorch:batched": batched} {
		for _, v := range vs {
			runs[label] = append(runs[label], result{k: v, "batch": 64.0})
		}
	}
	return sides, runs
}

func TestRowQuotesTheFasterTorchVariant(t *testing.T) {
	sides, runs := fakeRuns([]float64{300, 310, 290}, []float64{100, 110, 90}, []float64{200, 150, 250}, "train_samples_per_second")
	line := row(metric{label: "train", value: key("train_samples_per_second"), faster: true, ratio: true}, sides, runs)
	if !strings.Contains(line, "200 (batched)") || !strings.Contains(line, "1.50x") {
		t.Fatalf("throughput row %q: want the batched median 200 and ratio 1.50x", line)
	}
	// Time per iteration: smaller is faster, the ratio is PyTorch's time over Go's.
	sides, runs = fakeRuns([]float64{2}, []float64{4}, []float64{8}, "t")
	line = row(metric{label: "ms", value: key("t"), ratio: true}, sides, runs)
	if !strings.Contains(line, "4.00 (port)") || !strings.Contains(line, "2.00x") {
		t.Fatalf("time row %q: want the port's 4.00 and ratio 2.00x", line)
	}
}

func TestCompareTracesFindsDifferences(t *testing.T) {
	tr := func(loss, fwd, bwd float64) result {
		return result{"trace": []any{map[string]any{"loss": loss, "forward_iterations": fwd, "backward_iterations": bwd}}}
	}
	if m := compareTraces(tr(2.5, 7, 6), tr(2.5001, 8, 6)); len(m) != 0 {
		t.Fatalf("within tolerance, got %v", m)
	}
	if m := compareTraces(tr(2.5, 7, 6), tr(2.6, 7, 6)); len(m) != 1 {
		t.Fatalf("a loss 4%% off: got %v", m)
	}
	if m := compareTraces(tr(2.5, 7, 6), tr(2.5, 7, 12)); len(m) != 1 {
		t.Fatalf("twice the backward iterations: got %v", m)
	}
	if m := compareTraces(tr(2.5, 7, 6), result{}); len(m) != 1 {
		t.Fatalf("a missing trace: got %v", m)
	}
}

func TestMedian(t *testing.T) {
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Fatal(m)
	}
	if m := median([]float64{4, 1, 2, 3}); m != 2.5 {
		t.Fatal(m)
	}
	if m := median(nil); m != 0 {
		t.Fatal(m)
	}
}

func TestCompareInitFindsAnotherDistribution(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.json")
	data := make([]float64, 400)
	for i := range data {
		data[i] = float64(i%20-10) / 100 // std ≈ 0.058
	}
	b, _ := json.Marshal([]map[string]any{
		{"name": "inject.W", "shape": []int{20, 20}, "data": data},
		{"name": "blur.taps", "shape": []int{20, 20}, "data": data, "fixed": true},
		{"name": "cell.b", "shape": []int{1, 2}, "data": []float64{0, 0}},
	})
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	same := result{"init_std": map[string]any{"inject.W": 0.06}}
	if m := compareInit(path, same); len(m) != 0 {
		t.Fatalf("the same distribution: %v", m)
	}
	narrow := result{"init_std": map[string]any{"inject.W": 0.025}} // PyTorch's nn.Linear default at fan-in 784: 1/√784/√3 ≈ 0.0206
	if m := compareInit(path, narrow); len(m) != 1 {
		t.Fatalf("a narrower draw: %v", m)
	}
	if m := compareInit(path, result{}); len(m) != 1 {
		t.Fatalf("no init_std: %v", m)
	}
}

func TestWorkloadDefaultsAreLeftToTheSides(t *testing.T) {
	c := &config{gobench: []string{"gobench"}, torchSolvers: []string{"port"}, batch: 0, steps: -1, warmup: 10, threads: 2, script: "bench.py"}
	for _, sd := range c.sides(benchCase{workload: "deblur", model: "once"}) {
		_, args := sd.args(c, benchCase{workload: "deblur", model: "once"})
		joined := " " + strings.Join(args, " ") + " "
		if strings.Contains(joined, "batch ") || strings.Contains(joined, "steps ") || !strings.Contains(joined, "warmup 10") {
			t.Errorf("%s: %v", sd.label, args)
		}
	}
	c.batch, c.steps = 8, 5
	for _, sd := range c.sides(benchCase{workload: "deblur", model: "once"}) {
		_, args := sd.args(c, benchCase{workload: "deblur", model: "once"})
		joined := " " + strings.Join(args, " ") + " "
		if !strings.Contains(joined, "batch 8 ") || !strings.Contains(joined, "steps 5 ") {
			t.Errorf("%s with -batch 8 -steps 5: %v", sd.label, args)
		}
	}
}

func TestCompareInferFindsDifferences(t *testing.T) {
	out := func(v ...float64) result {
		a := make([]any, len(v))
		for i, x := range v {
			a[i] = x
		}
		return result{"infer_output": a}
	}
	g := out(100, -3, 0.5)
	if m := compareInfer(g, out(100.01, -3.02, 0.5)); m != nil {
		t.Errorf("outputs 2e-4 of the largest apart: %v, want none", m)
	}
	if m := compareInfer(g, out(100, -3.2, 0.5)); len(m) != 1 || !strings.Contains(m[0], "output 1") {
		t.Errorf("output 1 off by 2e-3 of the largest: %v, want one message naming it", m)
	}
	for _, tw := range []result{out(100, -3), {}} {
		if m := compareInfer(g, tw); len(m) != 1 {
			t.Errorf("twin outputs %v: %v, want one message", tw, m)
		}
	}
}

// TestDefaultCasesParse: every default case is WORKLOAD/MODEL[@K], and the
// fixed-iteration ones belong to implicit models (the PDE workloads' and
// deblur's HQS included, so their PyTorch twins run with both forward
// solvers).
func TestDefaultCasesParse(t *testing.T) {
	cs, err := parseCases(defaultCases)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range cs {
		seen[c.String()] = c.implicit()
	}
	for _, want := range []string{"pde/deq", "pde/deq@12", "darcy/implicit", "darcy/implicit@10", "deblur/hqs", "deblur/hqs@20"} {
		if imp, ok := seen[want]; !ok || !imp {
			t.Errorf("default case %s: present %v, implicit %v; want an implicit default case", want, ok, imp)
		}
	}
	for _, want := range []string{"pde/fno", "pde/fno++2", "darcy/explicit"} {
		if imp, ok := seen[want]; !ok || imp {
			t.Errorf("default case %s: present %v, implicit %v; want an explicit default case", want, ok, imp)
		}
	}
}
