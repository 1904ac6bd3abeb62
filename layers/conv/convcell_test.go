package conv

import (
	"math/rand/v2"
	"testing"

	"github.com/implicit-ml/implicit/internal/layertest"
	"github.com/implicit-ml/implicit/layers"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
)

// convModel is x (B, N) → per-position embedding → implicit or unrolled
// ConvCell → per-position readout → MSE.
func convModel(g *G.ExprGraph, offsets []int, mode deq.Backward, hidden int) (*G.Node, G.Nodes, error) {
	rng := rand.New(rand.NewPCG(21, 21))
	s := layers.NewScope(g, tensor.Float64, rng)
	const b, n, c = 2, 5, 3
	x := layertest.Input(g, tensor.Float64, rng, "x", b*n, 1)
	ic := c
	if hidden > 0 {
		ic = hidden
	}
	e, err := s.Dense("embed", 1, ic, layers.Identity).Fwd(x)
	if err != nil {
		return nil, nil, err
	}
	inj, err := G.Reshape(e, tensor.Shape{b, n * ic})
	if err != nil {
		return nil, nil, err
	}
	var cell *ConvCell
	if hidden > 0 {
		cell = NewConvCellHidden(s, "conv", c, hidden, offsets, layers.Tanh)
		layertest.ScaleToSpectralNorm(cell.W2, 0.8, rng)
	} else {
		cell = NewConvCell(s, "conv", c, offsets, layers.Tanh)
	}
	layertest.ScaleToSpectralNorm(cell.W, 0.6, rng)
	stop := deq.Stop{Tol: 1e-14, Mode: deq.Absolute, MaxIter: 300}
	z, err := s.Implicit("deq", cell, layers.ImplicitConfig{Stop: stop, Backward: mode}).Fwd(inj)
	if err != nil {
		return nil, nil, err
	}
	zr, err := G.Reshape(z, tensor.Shape{b * n, c})
	if err != nil {
		return nil, nil, err
	}
	y, err := s.Dense("read", c, 1, layers.Identity).Fwd(zr)
	if err != nil {
		return nil, nil, err
	}
	loss, err := layers.MSE(y, layertest.Input(g, tensor.Float64, rng, "t", b*n, 1))
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
			layertest.CheckGrads(t, 1e-6, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) { return convModel(g, c.offsets, c.mode, c.hidden) })
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
