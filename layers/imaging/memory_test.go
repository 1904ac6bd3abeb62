package imaging

import (
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/layertest"
	"github.com/implicit-ml/implicit/internal/memtest"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/layers/conv"
)

// deblurSizes are the shapes of a deblurring training step: batch images
// of side×side pixels blurred by the camera-shake kernel, a bounded
// residual CNN of depth convolutions with channels channels.
type deblurSizes struct {
	dt                           tensor.Dtype
	batch, side, channels, depth int
}

// The deblur workload's step (train/experiments/deblur.go: batch 16,
// 28×28 MNIST, 16 channels, 5 convolutions, float32) and a small float64
// one for the test.
var (
	deblurWorkload = deblurSizes{tensor.Float32, 16, 28, 16, 5}
	deblurSmall    = deblurSizes{tensor.Float64, 4, 16, 4, 3}
)

// deblurStep is a training step of the PGD or HQS operator (op) on
// random images, loss the MSE to a random target. Implicit: the
// workload's layer — iters plain iterations from y₀ = Aᵀx, IFT gradient
// with a Picard adjoint of exactly iters iterations (deq.Never); otherwise
// the cell unrolled iters times in the graph.
func deblurStep(sz deblurSizes, op string, implicit bool) func(iters int) memtest.Build {
	return func(iters int) memtest.Build {
		return func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
			rng := rand.New(rand.NewPCG(3, 4))
			s := layers.NewScope(g, sz.dt, rng)
			a, err := NewBlur("shake", sz.side, sz.side)
			if err != nil {
				return nil, nil, err
			}
			n := sz.side * sz.side
			atx, err := a.ApplyT(layertest.Input(g, sz.dt, rng, "x", sz.batch, n))
			if err != nil {
				return nil, nil, err
			}
			d := conv.NewResCNN(s, op+".D", sz.side, sz.side, sz.channels, sz.depth, layers.ReLU, conv.ResNoiseLevel(0.03), conv.ResLipschitz(1))
			var cell layers.Cell
			if op == "hqs" {
				cell = NewHQSCell(s, op, a, d)
			} else {
				cell = NewPGDCell(s, op, a, d)
			}
			var y *G.Node
			if implicit {
				never := deq.Stop{Tol: deq.Never, MaxIter: iters}
				l := s.Implicit("deq", cell, layers.ImplicitConfig{Stop: never, Backward: deq.IFT{Solver: deq.Picard{}, Stop: never}})
				l.SetControls(layers.Controls{Iterations: iters, StartAtInjection: true})
				y, err = l.Fwd(atx)
			} else {
				y, err = (&layers.Unrolled{Cell: cell, Steps: iters}).Fwd(atx)
			}
			if err != nil {
				return nil, nil, err
			}
			loss, err := layers.MSE(y, layertest.Input(g, sz.dt, rng, "target", sz.batch, n))
			return loss, s.Params(), err
		}
	}
}

// TestDeblurTrainingMemoryIsFlatInIterations: the bytes a training step
// of the implicit PGD and HQS models holds are the same at 5 and 100
// forward and adjoint iterations, where the unrolled twin's grow.
func TestDeblurTrainingMemoryIsFlatInIterations(t *testing.T) {
	for _, op := range []string{"pgd", "hqs"} {
		t.Run(op, func(t *testing.T) {
			memtest.Check(t, 5, 100, deblurStep(deblurSmall, op, true), deblurStep(deblurSmall, op, false))
		})
	}
}

// BenchmarkDeblurStepMemory: the bytes a training step of the deblur
// workload's implicit PGD and HQS models holds (held-B) at 5 and 40
// iterations, and its unrolled twin's at K = 5 and 40.
func BenchmarkDeblurStepMemory(b *testing.B) {
	for _, op := range []string{"pgd", "hqs"} {
		b.Run(op, func(b *testing.B) {
			memtest.Benchmark(b, []int{5, 40}, deblurStep(deblurWorkload, op, true), deblurStep(deblurWorkload, op, false))
		})
	}
}
