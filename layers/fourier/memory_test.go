package fourier

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

// pdeSizes are the shapes of a PDE training step: batch fields on
// size×size grids, Fourier layers of width channels and modes modes, a
// projection of hidden channels; depth is the Fourier layers of the
// Navier–Stokes model's G (0: the Darcy model's FNOCell).
type pdeSizes struct {
	dt                                tensor.Dtype
	batch, size, width, modes, hidden int
	depth                             int
}

// The PDE workload's steps (train/experiments/pde_ns.go and
// pde_darcy.go, float32) and small float64 ones for the test.
var (
	nsWorkload    = pdeSizes{tensor.Float32, 16, 32, 32, 8, 128, 3}
	darcyWorkload = pdeSizes{tensor.Float32, 20, 32, 16, 8, 64, 0}
	nsSmall       = pdeSizes{tensor.Float64, 2, 8, 4, 2, 8, 2}
	darcySmall    = pdeSizes{tensor.Float64, 2, 8, 4, 2, 8, 0}
)

// pdeStep is a training step of the FNO-DEQ (depth > 0: the Navier–Stokes
// model, G a FourierStack in a Frame, relative L2 loss) or of the Darcy
// model (an FNOCell in an FNO, MSE) on random fields. Implicit: the
// workload's layer — Anderson forward of exactly iters iterations
// (deq.Never), the paper's phantom gradient (3 damped steps); otherwise
// the cell unrolled iters times in the graph.
func pdeStep(sz pdeSizes, implicit bool) func(iters int) memtest.Build {
	return func(iters int) memtest.Build {
		return func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
			rng := rand.New(rand.NewPCG(5, 6))
			s := layers.NewScope(g, sz.dt, rng)
			var cell layers.Cell
			if sz.depth > 0 {
				cell = NewFourierStack(s, "G", sz.depth, sz.size, sz.width, sz.modes)
			} else {
				cell = NewFNOCell(s, "cell", sz.size, sz.width, sz.modes, layers.ReLU)
			}
			var body layers.Layer = &layers.Unrolled{Cell: cell, Steps: iters}
			if implicit {
				body = s.Implicit("deq", cell, layers.ImplicitConfig{
					Stop:     deq.Stop{Tol: deq.Never, MaxIter: iters},
					Backward: deq.Phantom{Steps: 3, Damping: 0.8},
				})
			}
			target := layertest.Input(g, sz.dt, rng, "target", sz.batch, 1, sz.size, sz.size)
			if sz.depth > 0 {
				frame := NewFrame(s, "fno", FrameConfig{Size: sz.size, In: 2, Width: sz.width, Modes: sz.modes, Hidden: sz.hidden}, body)
				y, err := frame.Fwd(layertest.Input(g, sz.dt, rng, "f", sz.batch, 2, sz.size, sz.size))
				if err != nil {
					return nil, nil, err
				}
				loss, err := RelativeL2Loss(y, target, nil)
				return loss, s.Params(), err
			}
			y, err := NewFNO(s, "fno", sz.size, sz.width, sz.hidden, layers.ReLU, body).Fwd(layertest.Input(g, sz.dt, rng, "a", sz.batch, 1, sz.size, sz.size))
			if err != nil {
				return nil, nil, err
			}
			loss, err := layers.MSE(y, target)
			return loss, s.Params(), err
		}
	}
}

// TestPDETrainingMemoryIsFlatInIterations: the bytes a training step of
// the FNO-DEQ (Navier–Stokes) and of the implicit Darcy FNO holds are the
// same at 5 and 100 forward iterations, where the unrolled twin's grow.
func TestPDETrainingMemoryIsFlatInIterations(t *testing.T) {
	for _, c := range []struct {
		name string
		sz   pdeSizes
	}{{"navier-stokes", nsSmall}, {"darcy", darcySmall}} {
		t.Run(c.name, func(t *testing.T) {
			memtest.Check(t, 5, 100, pdeStep(c.sz, true), pdeStep(c.sz, false))
		})
	}
}

// BenchmarkPDEStepMemory: the bytes a training step of the PDE workload's
// implicit models holds (held-B) at 5 and 40 forward iterations, and its
// unrolled twin's at K = 5 and 40.
func BenchmarkPDEStepMemory(b *testing.B) {
	for _, c := range []struct {
		name string
		sz   pdeSizes
	}{{"navier-stokes", nsWorkload}, {"darcy", darcyWorkload}} {
		b.Run(c.name, func(b *testing.B) {
			memtest.Benchmark(b, []int{5, 40}, pdeStep(c.sz, true), pdeStep(c.sz, false))
		})
	}
}
