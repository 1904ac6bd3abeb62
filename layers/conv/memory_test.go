package conv

import (
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/layertest"
	"github.com/implicit-ml/implicit/internal/memtest"
	"github.com/implicit-ml/implicit/layers"
)

// loopSizes are the shapes of a reason training step: batch strings of
// length positions, a causal ReLU cell of channels channels with a hidden
// layer (and injection) of hidden.
type loopSizes struct {
	dt                              tensor.Dtype
	batch, length, channels, hidden int
}

// The reason workload's step (train/experiments/reason.go: 32 bits, 16
// channels, hidden 32, batch 64, float32) and a small float64 one.
var (
	loopWorkload = loopSizes{tensor.Float32, 64, 32, 16, 32}
	loopSmall    = loopSizes{tensor.Float64, 4, 12, 4, 8}
)

// loopStep is a training step of the reason workload's looped cell on a
// random injection, loss the MSE of the state to a random target.
// Implicit: the workload's layer — Picard forward and adjoint of exactly
// iters iterations each (deq.Never); otherwise the cell unrolled iters
// times in the graph. The embedding and readout around the loop do not
// depend on the cap and are left out.
func loopStep(sz loopSizes, implicit bool) func(iters int) memtest.Build {
	return func(iters int) memtest.Build {
		return func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
			rng := rand.New(rand.NewPCG(7, 8))
			s := layers.NewScope(g, sz.dt, rng)
			cell := NewConvCellHidden(s, "cell", sz.channels, sz.hidden, []int{-1}, layers.ReLU)
			var body layers.Layer = &layers.Unrolled{Cell: cell, Steps: iters}
			if implicit {
				never := deq.Stop{Tol: deq.Never, MaxIter: iters}
				body = s.Implicit("loop", cell, layers.ImplicitConfig{Forward: deq.Picard{}, Stop: never, Backward: deq.IFT{Solver: deq.Picard{}, Stop: never}})
			}
			z, err := body.Fwd(layertest.Input(g, sz.dt, rng, "inj", sz.batch, sz.length*sz.hidden))
			if err != nil {
				return nil, nil, err
			}
			loss, err := layers.MSE(z, layertest.Input(g, sz.dt, rng, "target", sz.batch, sz.length*sz.channels))
			return loss, s.Params(), err
		}
	}
}

// TestLoopTrainingMemoryIsFlatInIterations: the bytes a training step of
// the reason workload's implicit loop holds are the same at 5 and 100
// forward and adjoint iterations, where the unrolled twin's grow.
func TestLoopTrainingMemoryIsFlatInIterations(t *testing.T) {
	memtest.Check(t, 5, 100, loopStep(loopSmall, true), loopStep(loopSmall, false))
}

// BenchmarkLoopStepMemory: the bytes a training step of the reason
// workload's implicit loop holds (held-B) at 5 and 40 iterations, and its
// unrolled twin's at K = 5 and 40.
func BenchmarkLoopStepMemory(b *testing.B) {
	memtest.Benchmark(b, []int{5, 40}, loopStep(loopWorkload, true), loopStep(loopWorkload, false))
}
