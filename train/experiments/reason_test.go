package experiments

import (
	"context"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/network"
	"github.com/implicit-ml/implicit/train"
)

// TestReasonLoopTrainsAndExtrapolates trains the looped model on 32-bit
// strings (the experiment's quick setting) and checks it answers 128-bit
// strings when iterated more than 128 times, and not with fewer. (Trained
// on 12- or 16-bit strings, the learned rule drifted over 4x longer chains:
// 9% and 19% whole-string accuracy.)
func TestReasonLoopTrainsAndExtrapolates(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for about ten seconds")
	}
	const n, ch = 32, 16
	stop := deq.Stop{Tol: 1e-5, MaxIter: 2*n + 8}
	icfg := layers.ImplicitConfig{Forward: deq.Picard{}, Stop: stop, Backward: deq.IFT{Solver: deq.Picard{}, Stop: stop}}
	spec := network.Spec{Name: "loop", Kind: train.KindImplicit, Dtype: tensor.Float32, Seed: 3}
	m := ReasonModel(spec, n, ch, 2*ch, func(s *layers.Scope, inj *G.Node) (*G.Node, error) {
		return s.Implicit("loop", ReasonCell(s, "cell", ch, 2*ch), icfg).Fwd(inj)
	})
	data := datasets.ParitySequences(8000, n, 3)
	if _, err := train.Fit(context.Background(), m, data, train.Config{Epochs: 2, BatchSize: 64, Seed: 3, Optimizer: train.OptimizerConfig{LR: 1e-2, ClipNorm: 1}}); err != nil {
		t.Fatal(err)
	}
	long := datasets.ParitySequences(100, 4*n, 4)
	ev, err := train.NewEvaluator(reshaped(m, []int{4 * n}, []int{4 * n, 2}), 100)
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Close()
	for _, c := range []struct {
		t    int
		want func(float64) bool
	}{
		{2 * n, func(a float64) bool { return a < 0.2 }},
		{4*n + 1, func(a float64) bool { return a >= 0.95 }},
	} {
		ev.SetIterations(c.t)
		e, err := ev.Evaluate(long, sequenceAccuracy())
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("n = %d, t = %d: whole-string accuracy %.3f", 4*n, c.t, e.Mean)
		if !c.want(e.Mean) {
			t.Errorf("t = %d: whole-string accuracy %.3f on strings 4x the training length", c.t, e.Mean)
		}
	}
}
