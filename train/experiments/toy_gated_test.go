package experiments

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/internal/layertest"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/train"
)

// TestToyGatedGradients checks the gated operator's pieces against
// central finite differences: the gate a(u), one application of G, and
// the closed-form iterate y_T that the loss scores.
func TestToyGatedGradients(t *testing.T) {
	const B = 5
	for _, T := range []int{1, 7} {
		layertest.CheckGrads(t, 1e-6, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
			rng := rand.New(rand.NewPCG(3, uint64(T)))
			u := layertest.Input(g, tensor.Float64, rng, "u", B, 1)
			b := layertest.Input(g, tensor.Float64, rng, "b", B, 1)
			y := layertest.Input(g, tensor.Float64, rng, "y", B, 1)
			a, err := squareGate(u, 0.5)
			if err != nil {
				return nil, nil, err
			}
			yT, err := gatedIterate(a, b, T)
			if err != nil {
				return nil, nil, err
			}
			inj, err := G.Concat(1, a, b)
			if err != nil {
				return nil, nil, err
			}
			g1, err := gatedCell(y, inj, nil)
			if err != nil {
				return nil, nil, err
			}
			w1 := layertest.Input(g, tensor.Float64, rng, "w1", B, 1)
			w2 := layertest.Input(g, tensor.Float64, rng, "w2", B, 1)
			l1, err := G.HadamardProd(yT, w1)
			if err != nil {
				return nil, nil, err
			}
			l2, err := G.HadamardProd(g1, w2)
			if err != nil {
				return nil, nil, err
			}
			s, err := G.Add(l1, l2)
			if err != nil {
				return nil, nil, err
			}
			loss, err := G.Sum(s)
			return loss, G.Nodes{u, b, y}, err
		})
	}
}

// TestToyGatedIterateIsPlainIteration: the closed form y_T equals T
// applications of gatedCell from y₀ = 0, for gates from the floor up.
func TestToyGatedIterateIsPlainIteration(t *testing.T) {
	const B = 4
	for _, T := range []int{1, 3, 40} {
		g := G.NewGraph()
		a := G.NewTensor(g, tensor.Float64, 2, G.WithShape(B, 1), G.WithName("a"), G.WithValue(tensor.New(tensor.WithShape(B, 1), tensor.WithBacking([]float64{toyGateFloor, 0.01, 0.3, 0.97}))))
		b := G.NewTensor(g, tensor.Float64, 2, G.WithShape(B, 1), G.WithName("b"), G.WithValue(tensor.New(tensor.WithShape(B, 1), tensor.WithBacking([]float64{0.2, -1.5, 3, 0.7}))))
		closed, err := gatedIterate(a, b, T)
		if err != nil {
			t.Fatal(err)
		}
		inj, err := G.Concat(1, a, b)
		if err != nil {
			t.Fatal(err)
		}
		y := G.NewTensor(g, tensor.Float64, 2, G.WithShape(B, 1), G.WithName("y0"), G.WithInit(G.Zeroes()))
		for range T {
			if y, err = gatedCell(y, inj, nil); err != nil {
				t.Fatal(err)
			}
		}
		vm := G.NewTapeMachine(g)
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		vm.Close()
		got, want := closed.Value().Data().([]float64), y.Value().Data().([]float64)
		for i := range got {
			if math.Abs(got[i]-want[i]) > 1e-12*(1+math.Abs(want[i])) {
				t.Errorf("T = %d, row %d: closed form %.15g, iteration %.15g", T, i, got[i], want[i])
			}
		}
	}
}

// TestToyLossScoresIterate: the toy's recipe trains the gated model on
// MSE(y*) + w·MSE(y_T) (y_T's errors divided by 1 + |F| when the recipe
// is relative), y* and y_T as the evaluator computes them (solved, and T
// plain iterations from 0). Without the y_T term the fixed point leaves
// a's scale free and L_100 was 1.1x to 7.2x the construction's over
// seeds 1–3.
func TestToyLossScoresIterate(t *testing.T) {
	const B = 50
	if toyGate.T <= 0 || toyGate.Weight <= 0 {
		t.Fatalf("toyGate %+v scores no iterate y_T", toyGate)
	}
	T, w := toyGate.T, toyGate.Weight
	r := toyGate
	r.Bound = 5 // a small net is enough here
	m := toyGatedModel(Options{Seed: 2}, 8, r)
	data := datasets.ToyPoints(B, 0.05, 2)
	net, err := m.Build(G.NewGraph(), B, true)
	if err != nil {
		t.Fatal(err)
	}
	mask := make([]float64, B)
	for i := range mask {
		mask[i] = 1
	}
	for _, c := range []struct {
		n *G.Node
		v []float64
	}{{net.X, data.X}, {net.Y, data.Y}, {net.Mask, mask}} {
		if err := G.Let(c.n, tensor.New(tensor.WithShape(B, 1), tensor.WithBacking(append([]float64(nil), c.v...)))); err != nil {
			t.Fatal(err)
		}
	}
	vm := G.NewTapeMachine(net.X.Graph())
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	got := net.Loss.Value().Data().(float64)
	ev, err := train.NewEvaluator(m, B)
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Close()
	mse := func(iters int, relative bool) float64 {
		ev.SetIterations(iters)
		y, err := ev.Predict(data.X, B)
		if err != nil {
			t.Fatal(err)
		}
		s := 0.0
		for i := range y {
			e := y[i] - data.Y[i]
			if relative {
				e /= 1 + math.Abs(data.Y[i])
			}
			s += e * e
		}
		return s / B
	}
	want := mse(0, false) + w*mse(T, toyGate.Relative)
	if math.Abs(got-want) > 1e-6*want {
		t.Errorf("training loss %.10g, want MSE(y*) + %g·MSE(y_%d) = %.10g", got, w, T, want)
	}
}

// TestToyGatedFollowsBothPoles trains a small gated model (x-networks of
// width 32, 1000 points, the experiment's recipe and optimiser) and
// checks that its fixed point follows both poles near 0.05 of them and
// stays small just left of 0, where F = −x. With tanh x-networks every
// seed here missed the pole at 1 (y* within 7 of 0 at x = 0.95, where F
// = −19) and one blew up at x = 0.05 (y* ≈ 10⁴).
func TestToyGatedFollowsBothPoles(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for several seconds")
	}
	xs := []float64{0.05, 0.95, 1.05, -0.021}
	for _, seed := range []uint64{1, 3} {
		s, err := Resolve(Toy{}, Options{Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		m := toyGatedModelWith(toyMaker(s), 32, layers.ImplicitConfig{Forward: s.Solver, Stop: s.Stop, Backward: s.Backward}, toyGate)
		cfg := train.Config{Epochs: 600, BatchSize: s.Batch, Seed: seed, Schedule: s.Schedule, Optimizer: s.Optimizer(s.LR)}
		if _, err := train.Fit(context.Background(), m, datasets.ToyPoints(1000, s.Radius, seed), cfg); err != nil {
			t.Fatal(err)
		}
		ev, err := train.NewEvaluator(m, len(xs))
		if err != nil {
			t.Fatal(err)
		}
		y, err := ev.Predict(xs, len(xs))
		ev.Close()
		if err != nil {
			t.Fatal(err)
		}
		for i, x := range xs {
			F := datasets.ToyTarget(x)
			tol := 5.0 // |F| is about 20 at the first three points
			if x < 0 {
				tol = 4 // F = 0.021; a smooth bend at 0 leaves y* near 10 here
			}
			if math.Abs(y[i]-F) > tol {
				t.Errorf("seed %d: y*(%g) = %.3g, F = %.3g (want within %g)", seed, x, y[i], F, tol)
			}
		}
	}
}
