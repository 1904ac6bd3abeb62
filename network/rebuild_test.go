package network

import (
	"context"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/train"
)

// TestEvaluatorBeforeTrainingChangesNothing: a model trains to the same
// weights, bit for bit, whether its evaluator was built before training
// (as the experiments' runner does, for validation) or after. Bounded
// layers used to project the shared weights again, from a fresh random
// vector, every time a graph was built, so the two orders trained
// different models (the toy's seed-3 clipped near-pole error: 5.2 one way, 1.4 the other).
func TestEvaluatorBeforeTrainingChangesNothing(t *testing.T) {
	spec := func() *Network {
		return New(Spec{Name: "bounded", Dtype: tensor.Float64, Seed: 4, Input: []int{1}, Target: []int{1}, Loss: MaskedMSE,
			Body: func(s *layers.Scope, x *G.Node) (*G.Node, error) {
				return layers.Sequential{
					s.Dense("fc1", 1, 16, layers.Tanh, layers.SpectralBound(0.7)),
					s.Dense("fc2", 16, 16, layers.Tanh, layers.SpectralBound(0.7)),
					s.Dense("fc3", 16, 1, layers.Identity, layers.SpectralBound(0.7)),
				}.Fwd(x)
			}})
	}
	data := datasets.ToyPoints(200, 0.05, 1)
	cfg := train.Config{Epochs: 3, BatchSize: 50, Seed: 1, Optimizer: train.OptimizerConfig{LR: 5e-2}}
	trained := func(evaluatorFirst bool) []float64 {
		m := spec()
		if evaluatorFirst {
			ev, err := train.NewEvaluator(m, 100)
			if err != nil {
				t.Fatal(err)
			}
			defer ev.Close()
		}
		res, err := train.Fit(context.Background(), m, data, cfg)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := train.NewEvaluator(m, 100)
		if err != nil {
			t.Fatal(err)
		}
		defer ev.Close()
		y, err := ev.Predict(data.X[:100], 100)
		if err != nil {
			t.Fatal(err)
		}
		return append(y, res.FinalLoss)
	}
	a, b := trained(false), trained(true)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("output %d (the last is the final loss): %v with the evaluator built after training, %v before", i, a[i], b[i])
		}
	}
}
