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

// penaltyModel is x → Dense → implicit tanh DenseCell with a Jacobian
// penalty → Dense → MSE + penalty.
func penaltyModel(g *G.ExprGraph, weight float64) (*G.Node, G.Nodes, *Implicit, error) {
	rng := rand.New(rand.NewPCG(50, 50))
	s := NewScope(g, tensor.Float64, rng)
	x := layertest.Input(g, tensor.Float64, rng, "x", 3, 4)
	stop := deq.Stop{Tol: 1e-14, Mode: deq.Absolute, MaxIter: 400}
	cell := s.DenseCell("cell", 5, Tanh)
	layer := s.Implicit("deq", cell, ImplicitConfig{Stop: stop, Backward: deq.IFT{Stop: stop}, JacobianWeight: weight, JacobianSeed: 9})
	y, err := Sequential{s.Dense("in", 4, 5, Identity, NoBias()), layer, s.Dense("out", 5, 2, Identity)}.Fwd(x)
	if err != nil {
		return nil, nil, nil, err
	}
	loss, err := MSE(y, layertest.Input(g, tensor.Float64, rng, "t", 3, 2))
	if err != nil {
		return nil, nil, nil, err
	}
	if loss, err = G.Add(loss, layer.Penalty()); err != nil {
		return nil, nil, nil, err
	}
	return loss, append(G.Nodes{x}, s.Params()...), layer, nil
}

// TestJacobianPenaltyGradient checks the penalty's second-order path: the
// gradient of ‖vᵀJ_f(z)‖² with respect to the cell's parameters and the
// injection at a fixed z (as the penalty treats z*, following Bai et al.
// 2021), against finite differences, and vᵀJ against the kernel's VJP.
func TestJacobianPenaltyGradient(t *testing.T) {
	for _, act := range []Activation{Tanh, Sigmoid, Softplus, Identity} {
		t.Run(act.String(), func(t *testing.T) {
			reps, err := CheckJacobianVJP(func(g *G.ExprGraph) (Cell, *G.Node, *G.Node) {
				rng := rand.New(rand.NewPCG(51, 51))
				s := NewScope(g, tensor.Float64, rng)
				return s.DenseCell("cell", 5, act), layertest.Input(g, tensor.Float64, rng, "z", 3, 5), layertest.Input(g, tensor.Float64, rng, "inj", 3, 5)
			}, 1e-6)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range reps {
				t.Logf("%s: relative error %.2g", r.Name, r.RelErr)
			}
		})
	}
}

// TestJacobianPenaltyMatchesExactFrobeniusNorm: the Hutchinson estimate's
// mean over many draws is the exact ‖J_f(z*)‖²_F/d within sampling error.
func TestJacobianPenaltyMatchesExactFrobeniusNorm(t *testing.T) {
	g := G.NewGraph()
	loss, _, layer, err := penaltyModel(g, 1)
	if err != nil {
		t.Fatal(err)
	}
	fzNode := layer.Penalty()
	if _, err := G.Grad(loss, layer.Params()...); err != nil { // a backward pass linearises the kernel at z*
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	// The exact ‖J‖²_F/d at z*, averaged over the batch, from the kernel's
	// VJPs on the basis vectors.
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	// Average many Hutchinson draws.
	const draws = 4000
	sum, sum2 := 0.0, 0.0
	for i := 0; i < draws; i++ {
		vm.Reset()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		v, _ := Scalar(fzNode)
		sum += v
		sum2 += v * v
	}
	mean := sum / draws
	se := math.Sqrt((sum2/draws - mean*mean) / draws)
	exact := exactJacobianFrobenius(t, layer)
	t.Logf("Hutchinson mean %.5f ± %.5f, exact %.5f", mean, se, exact)
	if math.Abs(mean-exact) > 4*se {
		t.Fatalf("Hutchinson mean %v differs from the exact %v by more than 4 standard errors (%v)", mean, exact, se)
	}
}

// exactJacobianFrobenius computes mean over the batch of ‖J_f(z*)‖²_F/d
// with J from the layer's kernel at its last linearisation.
func exactJacobianFrobenius(t *testing.T, l *Implicit) float64 {
	t.Helper()
	cell := l.Cell.(*DenseCell)
	k, _ := cell.Kernel64([]tensor.Shape{{3, 5}})
	const b, d = 3, 5
	total := 0.0
	for j := 0; j < d; j++ { // rows of J: J_fᵀ e_j for every sample at once
		e := make([]float64, b*d)
		for s := 0; s < b; s++ {
			e[s*d+j] = 1
		}
		out := make([]float64, b*d)
		if err := k.VJP(out, e); err != nil {
			t.Fatal(err)
		}
		for _, v := range out {
			total += v * v
		}
	}
	return total / (b * d)
}
