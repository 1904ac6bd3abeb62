package graph

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

// lpSizes are the shapes of an LP training step: batch instances of m
// constraints and n variables, embeddings of emb channels.
type lpSizes struct {
	dt          tensor.Dtype
	batch, m, n int
	emb         int
}

// The LP workload's step (train/experiments/lp.go, -problem fast: 10
// constraints, 50 variables, width 16, batch 25, float32) and a small
// float64 one.
var (
	lpWorkload = lpSizes{tensor.Float32, 25, 10, 50, 16}
	lpSmall    = lpSizes{tensor.Float64, 8, 8, 64, 4}
)

// gnnStep is a training step of the LP workload's GNN cell on random
// edge weights and embeddings, loss the MSE of the state to a random
// target; the output map is scaled by 0.1 so that G contracts (nothing
// else does: see GNNCell) and 40 iterations stay finite. Implicit: an
// Anderson forward and a Picard adjoint (IFT) of exactly iters iterations
// each (deq.Never); otherwise the cell unrolled iters times, as the
// workload trains it (deq.Unrolled, 6 steps).
func gnnStep(sz lpSizes, implicit bool) func(iters int) memtest.Build {
	return func(iters int) memtest.Build {
		return func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
			rng := rand.New(rand.NewPCG(9, 10))
			s := layers.NewScope(g, sz.dt, rng)
			cell := NewGNNCell(s, "cell", sz.m, sz.n, sz.emb)
			if err := s.Err(); err != nil {
				return nil, nil, err
			}
			scale(cell.Out.W[0], 0.1)
			// Both layers take the three injections.
			var body interface {
				Apply(inj ...*G.Node) (*G.Node, error)
			} = &layers.Unrolled{Cell: cell, Steps: iters}
			if implicit {
				never := deq.Stop{Tol: deq.Never, MaxIter: iters}
				body = s.Implicit("deq", cell, layers.ImplicitConfig{Stop: never, Backward: deq.IFT{Solver: deq.Picard{}, Stop: never}})
			}
			inj := G.Nodes{
				layertest.Input(g, sz.dt, rng, "A", sz.batch, sz.m*sz.n),
				layertest.Input(g, sz.dt, rng, "vemb", sz.batch*sz.n, sz.emb),
				layertest.Input(g, sz.dt, rng, "cemb", sz.batch*sz.m, sz.emb),
			}
			y, err := body.Apply(inj...)
			if err != nil {
				return nil, nil, err
			}
			loss, err := layers.MSE(y, layertest.Input(g, sz.dt, rng, "target", sz.batch, sz.n))
			return loss, s.Params(), err
		}
	}
}

// scale multiplies the values of p by f in place.
func scale(p *G.Node, f float64) {
	switch d := p.Value().Data().(type) {
	case []float64:
		for i := range d {
			d[i] *= f
		}
	case []float32:
		for i := range d {
			d[i] *= float32(f)
		}
	}
}

// TestGNNTrainingMemoryIsFlatInIterations: the bytes a training step of
// the implicit GNN holds are the same at 5 and 100 forward and adjoint
// iterations, where the unrolled twin's (the workload's training) grow.
func TestGNNTrainingMemoryIsFlatInIterations(t *testing.T) {
	memtest.Check(t, 5, 100, gnnStep(lpSmall, true), gnnStep(lpSmall, false))
}

// BenchmarkGNNStepMemory: the bytes a training step of the LP workload's
// implicit GNN holds (held-B) at 5 and 40 iterations, and its unrolled
// twin's at K = 5 and 40 (the workload trains K = 6).
func BenchmarkGNNStepMemory(b *testing.B) {
	memtest.Benchmark(b, []int{5, 40}, gnnStep(lpWorkload, true), gnnStep(lpWorkload, false))
}
