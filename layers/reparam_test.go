package layers

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/layertest"
)

// reparamModel is x → Dense(no bias) → implicit DenseCell with the given
// reparametrisation → Dense → MSE.
func reparamModel(g *G.ExprGraph, r Reparam, act Activation) (*G.Node, G.Nodes, *Implicit, error) {
	rng := rand.New(rand.NewPCG(40, 40))
	s := NewScope(g, tensor.Float64, rng)
	x := layertest.Input(g, tensor.Float64, rng, "x", 3, 4)
	stop := deq.Stop{Tol: 1e-14, Mode: deq.Absolute, MaxIter: 2000}
	layer := s.Implicit("deq", s.DenseCell("cell", 5, act, WithReparam(r)), ImplicitConfig{Stop: stop, Backward: deq.IFT{Solver: deq.GMRES{}, Stop: stop}})
	y, err := Sequential{s.Dense("in", 4, 5, Identity, NoBias()), layer, s.Dense("out", 5, 2, Identity)}.Fwd(x)
	if err != nil {
		return nil, nil, nil, err
	}
	loss, err := MSE(y, layertest.Input(g, tensor.Float64, rng, "t", 3, 2))
	return loss, append(G.Nodes{x}, s.Params()...), layer, err
}

func TestReparamGradients(t *testing.T) {
	for name, c := range map[string]struct {
		r   Reparam
		act Activation
	}{
		"weightnorm": {WeightNorm{}, Tanh},
		"spectral":   {SpectralNorm{Gamma: 0.7}, Tanh},
		"monotone":   {Monotone{M: 0.5}, Softplus},
	} {
		t.Run(name, func(t *testing.T) {
			layertest.CheckGrads(t, 1e-6, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
				loss, wrt, _, err := reparamModel(g, c.r, c.act)
				return loss, wrt, err
			})
		})
	}
}

// TestSpectralNormBoundsTheWeight checks W = γV/σ(V) has ‖W‖₂ = γ.
func TestSpectralNormBoundsTheWeight(t *testing.T) {
	g := G.NewGraph()
	rng := rand.New(rand.NewPCG(41, 41))
	s := NewScope(g, tensor.Float64, rng)
	w, err := SpectralNorm{Gamma: 0.8, Init: GlorotUniform(3)}.Weight(s, "w", 7, 7)
	if err != nil {
		t.Fatal(err)
	}
	if err := G.NewTapeMachine(g).RunAll(); err != nil {
		t.Fatal(err)
	}
	n, _ := deq.SpectralNorm(w.Value().Data().([]float64), 7, 7, 500, rng)
	if math.Abs(n-0.8) > 1e-6 {
		t.Fatalf("‖W‖₂ = %v, want γ = 0.8", n)
	}
}

// TestMonotoneCellHasAUniqueFixedPoint: every solver, from random starts,
// finds the same equilibrium of a monotone ReLU cell.
func TestMonotoneCellHasAUniqueFixedPoint(t *testing.T) {
	g := G.NewGraph()
	rng := rand.New(rand.NewPCG(42, 42))
	s := NewScope(g, tensor.Float64, rng)
	cell := s.DenseCell("cell", 12, ReLU, WithReparam(Monotone{M: 0.3, Init: GlorotUniform(1.5)}))
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	inj := layertest.Input(g, tensor.Float64, rng, "inj", 4, 12)
	// Evaluate the effective weight, then solve with the cell's kernel.
	if _, err := cell.Apply(inj, G.Nodes{inj}); err != nil {
		t.Fatal(err)
	}
	if err := G.NewTapeMachine(g).RunAll(); err != nil {
		t.Fatal(err)
	}
	k, err := cell.Kernel64([]tensor.Shape{{4, 12}})
	if err != nil {
		t.Fatal(err)
	}
	vals := []G.Value{cell.W.Value(), cell.B.Value()}
	if err := k.Bind([]G.Value{inj.Value()}, vals); err != nil {
		t.Fatal(err)
	}
	var first []float64
	stop := deq.Stop{Tol: 1e-11, Mode: deq.Absolute, MaxIter: 5000}
	for _, solver := range []deq.Solver{deq.Picard{}, deq.Anderson{}, deq.Broyden{}} {
		for trial := 0; trial < 3; trial++ {
			z0 := make([]float64, 48)
			for i := range z0 {
				z0[i] = 10 * rng.NormFloat64()
			}
			r := deq.Solve(solver, deq.Problem[float64]{F: k.Eval, Batch: 4, Dim: 12, Z0: z0}, stop)
			if err := r.Err(); err != nil {
				t.Fatalf("%s from a random start: %v", solver.Name(), err)
			}
			if first == nil {
				first = r.Z
				continue
			}
			for i := range first {
				if math.Abs(first[i]-r.Z[i]) > 1e-8 {
					t.Fatalf("%s found another fixed point: |Δ| = %v", solver.Name(), math.Abs(first[i]-r.Z[i]))
				}
			}
		}
	}
}
