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

// TestFloat32OpsMatchFloat64: the ops that compute in float64 whatever
// their dtype (the reparametrised weights, the Jacobian penalty's
// derivative op) give in float32 the float64 values and gradients, to
// float32 precision. The finite-difference checks run in float64 only,
// so this is what covers the conversion back to float32.
func TestFloat32OpsMatchFloat64(t *testing.T) {
	cases := map[string]func(g *G.ExprGraph, dt tensor.Dtype) (*G.Node, G.Nodes, error){
		"weightnorm": reparamLoss(WeightNorm{}),
		"spectral":   reparamLoss(SpectralNorm{Gamma: 0.7}),
		"monotone":   reparamLoss(Monotone{M: 0.5}),
		"penalty": func(g *G.ExprGraph, dt tensor.Dtype) (*G.Node, G.Nodes, error) {
			rng := rand.New(rand.NewPCG(52, 52))
			s := NewScope(g, dt, rng)
			stop := deq.Stop{Tol: 1e-6, MaxIter: 400}
			layer := s.Implicit("deq", s.DenseCell("cell", 5, Sigmoid), ImplicitConfig{Stop: stop, Backward: deq.IFT{Stop: stop}, JacobianWeight: 1, JacobianSeed: 9})
			if _, err := layer.Fwd(layertest.Input(g, dt, rng, "x", 3, 5)); err != nil {
				return nil, nil, err
			}
			return layer.Penalty(), s.Params(), nil
		},
	}
	for name, build := range cases {
		t.Run(name, func(t *testing.T) {
			want := lossAndGrads(t, build, tensor.Float64)
			got := lossAndGrads(t, build, tensor.Float32)
			for i := range want {
				if e := math.Abs(got[i] - want[i]); e > 1e-4*math.Max(1, math.Abs(want[i])) {
					t.Fatalf("value %d: float32 %g, float64 %g", i, got[i], want[i])
				}
			}
		})
	}
}

// reparamLoss is Σ C ⊙ W for the reparametrised 5×5 weight W and a fixed
// C of distinct entries, so that every entry of W and of its gradient
// counts.
func reparamLoss(r Reparam) func(g *G.ExprGraph, dt tensor.Dtype) (*G.Node, G.Nodes, error) {
	return func(g *G.ExprGraph, dt tensor.Dtype) (*G.Node, G.Nodes, error) {
		rng := rand.New(rand.NewPCG(53, 53))
		s := NewScope(g, dt, rng)
		w, err := r.Weight(s, "w", 5, 5)
		if err != nil {
			return nil, nil, err
		}
		wc, err := G.HadamardProd(w, layertest.Input(g, dt, rng, "c", 5, 5))
		if err != nil {
			return nil, nil, err
		}
		loss, err := G.Sum(wc)
		return loss, s.Params(), err
	}
}

// lossAndGrads runs build in dtype dt and returns the loss followed by
// the gradients of wrt, as float64s.
func lossAndGrads(t *testing.T, build func(*G.ExprGraph, tensor.Dtype) (*G.Node, G.Nodes, error), dt tensor.Dtype) []float64 {
	t.Helper()
	g := G.NewGraph()
	loss, wrt, err := build(g, dt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := G.Grad(loss, wrt...); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	out, err := Floats64(loss.Value())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range wrt {
		d, err := n.Grad()
		if err != nil {
			t.Fatal(err)
		}
		v, err := Floats64(d)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v...)
	}
	return out
}
