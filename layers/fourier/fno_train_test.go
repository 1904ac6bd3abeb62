package fourier

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/implicit-ml/implicit/layers"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/layertest"
	"github.com/implicit-ml/implicit/internal/opkit"
)

// smoothingTask returns n random fields on S×S grids and their targets,
// a nonlocal operator: the periodic 5×5 box average of a, squared — a map
// an FNO represents with a few modes and a pointwise nonlinearity.
func smoothingTask(rng *rand.Rand, n, s int) (x, y []float64) {
	x = layertest.RandVec(rng, n*s*s)
	y = make([]float64, len(x))
	for k := range n {
		a := x[k*s*s : (k+1)*s*s]
		for i := range s {
			for j := range s {
				m := 0.0
				for di := -2; di <= 2; di++ {
					for dj := -2; dj <= 2; dj++ {
						m += a[((i+di+s)%s)*s+(j+dj+s)%s]
					}
				}
				m /= 25
				y[k*s*s+i*s+j] = 4 * m * m
			}
		}
	}
	return x, y
}

// TestImplicitFNOTrains trains a tiny implicit FNO (Anderson forward,
// the paper's phantom gradient backward) with Adam and checks that the
// loss falls at least 4x and the solves keep converging.
func TestImplicitFNOTrains(t *testing.T) {
	const n, s, width, modes, hidden = 16, 8, 6, 3, 16
	rng := rand.New(rand.NewPCG(51, 52))
	xs, ys := smoothingTask(rng, n, s)
	g := G.NewGraph()
	sc := layers.NewScope(g, tensor.Float64, rng)
	x := G.NewTensor(g, tensor.Float64, 4, G.WithShape(n, 1, s, s), G.WithName("x"), G.WithValue(opkit.NewTensor(tensor.Float64, tensor.Shape{n, 1, s, s}, xs)))
	y := G.NewTensor(g, tensor.Float64, 4, G.WithShape(n, 1, s, s), G.WithName("y"), G.WithValue(opkit.NewTensor(tensor.Float64, tensor.Shape{n, 1, s, s}, ys)))
	layer := sc.Implicit("deq", NewFNOCell(sc, "cell", s, width, modes, layers.Tanh), layers.ImplicitConfig{
		Stop:     deq.Stop{Tol: 1e-4, MaxIter: 40},
		Backward: deq.Phantom{Steps: 3, Damping: 0.8},
	})
	model := NewFNO(sc, "fno", s, width, hidden, layers.Tanh, layer)
	out, err := model.Fwd(x)
	if err != nil {
		t.Fatal(err)
	}
	loss, err := layers.MSE(out, y)
	if err != nil {
		t.Fatal(err)
	}
	params := model.Params()
	if _, err := G.Grad(loss, params...); err != nil {
		t.Fatal(err)
	}
	prog, locs, err := G.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g, G.WithPrecompiled(prog, locs), G.BindDualValues(params...))
	defer vm.Close()
	solver := G.NewAdamSolver(G.WithLearnRate(1e-2))
	var first, last float64
	for step := range 150 {
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		l, err := layers.Scalar(loss)
		if err != nil {
			t.Fatal(err)
		}
		if step == 0 {
			first = l
		}
		last = l
		if err := solver.Step(G.NodesToValueGrads(params)); err != nil {
			t.Fatal(err)
		}
		vm.Reset()
	}
	st := layer.Stats()
	t.Logf("loss %.4f → %.4f (%.1fx); %.1f forward iterations per solve, %d of %d samples missed the tolerance",
		first, last, first/last, st.MeanForwardIters(), st.ForwardNotConverged, st.ForwardSamples)
	if !(first/last >= 4) || math.IsNaN(last) {
		t.Errorf("loss fell only %.2fx, want ≥ 4x", first/last)
	}
}
