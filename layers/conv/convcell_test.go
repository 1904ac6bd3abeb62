package layers

import (
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
)

// convModel is x (B, N) → per-position embedding → implicit or unrolled
// ConvCell → per-position readout → MSE.
func convModel(g *G.ExprGraph, offsets []int, mode deq.Backward, hidden int) (*G.Node, G.Nodes, error) {
	rng := rand.New(rand.NewPCG(21, 21))
	s := NewScope(g, tensor.Float64, rng)
	const b, n, c = 2, 5, 3
	x := input(g, tensor.Float64, rng, "x", b*n, 1)
	ic := c
	if hidden > 0 {
		ic = hidden
	}
	e, err := s.Dense("embed", 1, ic, Identity).Fwd(x)
	if err != nil {
		return nil, nil, err
	}
	inj, err := G.Reshape(e, tensor.Shape{b, n * ic})
	if err != nil {
		return nil, nil, err
	}
	var cell *ConvCell
	if hidden > 0 {
		cell = s.ConvCellHidden("conv", c, hidden, offsets, Tanh)
		scaleToSpectralNorm(cell.W2, 0.8, rng)
	} else {
		cell = s.ConvCell("conv", c, offsets, Tanh)
	}
	scaleToSpectralNorm(cell.W, 0.6, rng)
	stop := deq.Stop{Tol: 1e-14, Mode: deq.Absolute, MaxIter: 300}
	z, err := s.Implicit("deq", cell, ImplicitConfig{Stop: stop, Backward: mode}).Fwd(inj)
	if err != nil {
		return nil, nil, err
	}
	zr, err := G.Reshape(z, tensor.Shape{b * n, c})
	if err != nil {
		return nil, nil, err
	}
	y, err := s.Dense("read", c, 1, Identity).Fwd(zr)
	if err != nil {
		return nil, nil, err
	}
	loss, err := MSE(y, input(g, tensor.Float64, rng, "t", b*n, 1))
	return loss, append(G.Nodes{x}, s.Params()...), err
}

func TestConvCellGradients(t *testing.T) {
	stop := deq.Stop{Tol: 1e-14, Mode: deq.Absolute, MaxIter: 300}
	for name, c := range map[string]struct {
		offsets []int
		mode    deq.Backward
		hidden  int
	}{
		"symmetric/ift":        {[]int{-1, 0, 1}, deq.IFT{Stop: stop}, 0},
		"symmetric/unrolled":   {[]int{-1, 0, 1}, deq.Unrolled{Steps: 6}, 0},
		"causal/ift-gmres":     {[]int{-1}, deq.IFT{Solver: deq.GMRES{}, Stop: stop}, 0},
		"hidden/ift":           {[]int{-1, 0, 1}, deq.IFT{Stop: stop}, 4},
		"hidden-causal/unroll": {[]int{-1}, deq.Unrolled{Steps: 6}, 4},
	} {
		t.Run(name, func(t *testing.T) {
			checkGrads(t, 1e-6, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) { return convModel(g, c.offsets, c.mode, c.hidden) })
		})
	}
}

func TestGatherScatterAreAdjoint(t *testing.T) {
	rng := rand.New(rand.NewPCG(22, 22))
	const b, n, c = 3, 7, 2
	offsets := []int{-2, 0, 1}
	z := make([]float64, b*n*c)
	w := make([]float64, b*n*len(offsets)*c)
	for i := range z {
		z[i] = rng.NormFloat64()
	}
	for i := range w {
		w[i] = rng.NormFloat64()
	}
	gz := make([]float64, len(w))
	gather(gz, z, b, n, c, offsets)
	sw := make([]float64, len(z))
	scatter(sw, w, b, n, c, offsets)
	var lhs, rhs float64
	for i := range w {
		lhs += gz[i] * w[i]
	}
	for i := range z {
		rhs += z[i] * sw[i]
	}
	if d := lhs - rhs; d > 1e-12 || d < -1e-12 {
		t.Fatalf("⟨gather z, w⟩ = %v, ⟨z, scatter w⟩ = %v", lhs, rhs)
	}
}
