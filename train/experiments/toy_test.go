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
	m := toyGatedModel(Options{Seed: 1}, 16)
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
