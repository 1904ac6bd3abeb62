package layers

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/opkit"
)

// spirals fills x (n×2, padded with zero features to width in) and one-hot
// targets with a 3-arm spiral: a task a linear model cannot solve.
func spirals(rng *rand.Rand, n, in, classes int) (x, y []float64) {
	x = make([]float64, n*in)
	y = make([]float64, n*classes)
	for i := 0; i < n; i++ {
		c := i % classes
		r := rng.Float64()
		th := 2*math.Pi*float64(c)/float64(classes) + 3*r + 0.1*rng.NormFloat64()
		x[i*in] = r * math.Cos(th)
		x[i*in+1] = r * math.Sin(th)
		y[i*classes+c] = 1
	}
	return x, y
}

// TestComposedModelTrains: Dense → implicit → Dense →
// softmax cross-entropy trains with Gorgonia's Adam on a TapeMachine and
// the loss falls at least 5x.
func TestComposedModelTrains(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		t.Run(dt.String(), func(t *testing.T) {
			const n, in, h, classes = 96, 4, 32, 3
			rng := rand.New(rand.NewPCG(10, 10))
			xs, ys := spirals(rng, n, in, classes)
			g := G.NewGraph()
			s := NewScope(g, dt, rng)
			x := G.NewMatrix(g, dt, G.WithShape(n, in), G.WithName("x"), G.WithValue(opkit.NewTensor(dt, tensor.Shape{n, in}, xs)))
			y := G.NewMatrix(g, dt, G.WithShape(n, classes), G.WithName("y"), G.WithValue(opkit.NewTensor(dt, tensor.Shape{n, classes}, ys)))
			// The El Ghaoui cell stays well-posed while training (its
			// projection runs after every step); an unconstrained tanh
			// cell's weights grow until the solve fails on this task.
			layer := s.Implicit("deq", s.ElGhaouiCell("cell", h, Tanh, 0.95), ImplicitConfig{Stop: deq.Stop{Tol: 1e-5}})
			model := Sequential{
				s.Dense("inject", in, h, Identity),
				layer,
				s.Dense("head", h, classes, Identity),
			}
			logits, err := model.Fwd(x)
			if err != nil {
				t.Fatal(err)
			}
			loss, err := SoftmaxCrossEntropy(logits, y)
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
			solver := G.NewAdamSolver(G.WithLearnRate(0.02))
			var first, last float64
			for step := 0; step < 300; step++ {
				if err := vm.RunAll(); err != nil {
					t.Fatal(err)
				}
				l, err := Scalar(loss)
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
				if err := model.Project(); err != nil {
					t.Fatal(err)
				}
				vm.Reset()
			}
			st := layer.Stats()
			t.Logf("%v: loss %.4f → %.4f (%.1fx); forward %.1f, backward %.1f iterations per step",
				dt, first, last, first/last, st.MeanForwardIters(), st.MeanBackwardIters())
			if first/last < 5 {
				t.Errorf("loss fell only %.2fx, want ≥ 5x", first/last)
			}
		})
	}
}
