package experiments

import (
	"context"
	"math"
	"testing"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/train"
)

// TestToyImplicitTrains trains a small gated implicit model on the toy
// data and checks that the loss falls and that its iterates grow steeper
// with t (L_t increases), the experiment's claim in miniature.
func TestToyImplicitTrains(t *testing.T) {
	data := datasets.ToyPoints(400, 0.05, 1)
	m := toyGatedModel(Options{Seed: 1}, 16, toyGate)
	res, err := train.Fit(context.Background(), m, data, train.Config{Epochs: 40, BatchSize: 100, Optimizer: train.OptimizerConfig{LR: 1e-2}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := train.NewEvaluator(m, 500)
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Close()
	grid := datasets.ToyGrid(1e-2, 0.05)
	first, err := ev.Evaluate(data, train.RMSError())
	if err != nil {
		t.Fatal(err)
	}
	probe := train.Probe{N: grid.Len(), X: grid.X, Deltas: [][]float64{make([]float64, grid.Len())}}
	for i, x := range grid.X {
		if datasets.ToyOutside(x+1e-2, 0.05) {
			probe.Deltas[0][i] = 1e-2
		}
	}
	curve, err := ev.Curve(grid, train.RMSError(), []int{1, 10, 100}, probe)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("final loss %.3g, train RMS %.3g, L_t %v", res.FinalLoss, first.Mean, curve)
	if math.IsNaN(res.FinalLoss) || !(curve[0].Lipschitz < curve[1].Lipschitz && curve[1].Lipschitz < curve[2].Lipschitz) {
		t.Errorf("L_t does not grow with t: %+v", curve)
	}
}

// TestToyAnalyticLipschitz: the hand-built operator's L_t, as the report
// computes it, reproduces the values the test-time-compute notebook
// prints for a grid of 2.5e-5 (1.96, 5.57, 25.6, 97.7, 521).
func TestToyAnalyticLipschitz(t *testing.T) {
	const step, radius = 2.5e-5, 0.02
	grid := datasets.ToyGrid(step, radius)
	probe := toyProbe(grid, step, radius)
	for _, c := range []struct {
		t    int
		want float64
	}{{1, 1.96}, {5, 5.57}, {25, 25.6}, {100, 97.7}, {1000, 521}} {
		if got := toyAnalyticLipschitz(grid, probe, c.t); math.Abs(got-c.want) > 0.01*c.want {
			t.Errorf("t = %d: L_t = %.4g, want %.4g", c.t, got, c.want)
		}
	}
}

// TestToyErrors: the near-pole errors of a prediction that is F but for
// a known offset near the poles, and of F itself.
func TestToyErrors(t *testing.T) {
	grid := datasets.ToyGrid(1e-2, 0.02)
	e := toyErrors(grid, grid.Y)
	for k, v := range e {
		if v != 0 {
			t.Errorf("F against itself: %s = %v", k, v)
		}
	}
	y := append([]float64(nil), grid.Y...)
	for i, x := range grid.X {
		if datasets.ToyPoleDistance(x) < nearPole {
			y[i] += 3 * (1 + math.Abs(grid.Y[i])) // relative error 3 everywhere near the poles
		}
	}
	e = toyErrors(grid, y)
	if math.Abs(e["rel_near_poles"]-3) > 1e-12 || e["rms_away"] != 0 || e["sup_away"] != 0 || !(e["rms_near_poles"] > 3) {
		t.Errorf("errors %v", e)
	}
	if !(e["rms_near_poles_clipped"] <= 2*toyClip) {
		t.Errorf("clipped RMS %v exceeds the clipped range", e["rms_near_poles_clipped"])
	}
}
