package experiments

import (
	"context"
	"testing"

	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/layers/imaging"
	"github.com/implicit-ml/implicit/train"
)

// TestDeblurImplicitTrains trains a small implicit PGD model on 300 MNIST
// pairs for two epochs and checks that its test PSNR at the fixed point
// rises well above the untrained model's.
func TestDeblurImplicitTrains(t *testing.T) {
	t.Setenv("IMPLICIT_CACHE_DIR", t.TempDir())
	tr, _, te, err := datasets.LoadDeblur("mnist", "", "", datasets.DeblurConfig{Train: 300, Val: 10, Test: 50}, 1)
	if err != nil {
		t.Fatal(err)
	}
	a, err := imaging.NewBlur("gaussian", 28, 28)
	if err != nil {
		t.Fatal(err)
	}
	st := defaultDeblurSettings().quick()
	net := deblurNets{a: a, st: st, seed: 1, copies: map[string]int{}}
	m, _ := net.implicit(tensor.Float32, layers.ImplicitConfig{Stop: deq.Stop{Tol: 1e-3, MaxIter: 30}, Backward: deq.JFB{}}, nil)
	score := func() float64 {
		ev, err := train.NewEvaluator(m, 50)
		if err != nil {
			t.Fatal(err)
		}
		defer ev.Close()
		e, err := ev.Evaluate(te, deblurPSNR())
		if err != nil {
			t.Fatal(err)
		}
		return e.Mean
	}
	before := score()
	if _, err := train.Fit(context.Background(), m, tr, train.Config{Epochs: 2, BatchSize: 20, Seed: 1,
		Optimizer: train.OptimizerConfig{LR: 2e-3, ClipNorm: 1}}); err != nil {
		t.Fatal(err)
	}
	after := score()
	t.Logf("test PSNR %.2f dB before training, %.2f dB after", before, after)
	if !(after > before+2) {
		t.Errorf("test PSNR %.2f dB before training, %.2f dB after: the implicit model did not learn", before, after)
	}
}
