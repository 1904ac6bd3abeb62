package layers

import (
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
)

// Sizes of the small FNOs of these tests: B samples of S×S grids, width
// C, M modes, a projection of H hidden units.
const fnoB, fnoS, fnoC, fnoM, fnoH = 2, 6, 3, 2, 4

// fnoModel is x (B, 1, S, S) → FNO with the given body → MSE against a
// random target; it returns the loss and every parameter plus x.
func fnoModel(g *G.ExprGraph, body func(s *Scope) Layer) (*G.Node, G.Nodes, error) {
	rng := rand.New(rand.NewPCG(41, 42))
	s := NewScope(g, tensor.Float64, rng)
	x := input(g, tensor.Float64, rng, "x", fnoB, 1, fnoS, fnoS)
	f := s.FNO("fno", fnoS, fnoC, fnoH, Tanh, body(s))
	y, err := f.Fwd(x)
	if err != nil {
		return nil, nil, err
	}
	loss, err := MSE(y, input(g, tensor.Float64, rng, "target", fnoB, 1, fnoS, fnoS))
	return loss, append(G.Nodes{x}, f.Params()...), err
}

func TestFNOGradients(t *testing.T) {
	stop := deq.Stop{Tol: 1e-14, Mode: deq.Absolute, MaxIter: 300}
	implicit := func(b deq.Backward) func(s *Scope) Layer {
		return func(s *Scope) Layer {
			return s.Implicit("deq", s.FNOCell("cell", fnoS, fnoC, fnoM, Tanh), ImplicitConfig{Stop: stop, Backward: b})
		}
	}
	for name, body := range map[string]func(s *Scope) Layer{
		"implicit/ift":        implicit(deq.IFT{Stop: stop}),
		"implicit/ift-gmres":  implicit(deq.IFT{Solver: deq.GMRES{}, Stop: stop}),
		"implicit/unrolled-5": implicit(deq.Unrolled{Steps: 5}),
		"explicit/2-blocks": func(s *Scope) Layer {
			return Sequential{s.FourierBlock("b0", fnoS, fnoC, fnoM, ReLU), s.FourierBlock("b1", fnoS, fnoC, fnoM, Tanh)}
		},
	} {
		t.Run(name, func(t *testing.T) {
			checkGrads(t, 1e-6, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) { return fnoModel(g, body) })
		})
	}
}

// TestFNOCellKernel checks the kernels against the cell built in a graph
// (Eval) and against central differences of Eval (VJP), in float64.
func TestFNOCellKernel(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	g := G.NewGraph()
	s := NewScope(g, tensor.Float64, rng)
	cell := s.FNOCell("cell", fnoS, fnoC, fnoM, Tanh)
	for _, p := range cell.Params() { // non-zero bias, larger weights
		d := p.Value().Data().([]float64)
		for i := range d {
			d[i] += 0.3 * rng.NormFloat64()
		}
	}
	n := fnoS * fnoS * fnoC
	z := input(g, tensor.Float64, rng, "z", fnoB, n)
	inj := input(g, tensor.Float64, rng, "inj", fnoB, n)
	checkCellKernel(t, cell, z, inj, rng)
}

func TestFNOCellRejectsBadInjections(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	s := NewScope(G.NewGraph(), tensor.Float64, rng)
	cell := s.FNOCell("cell", 8, 4, 2, Tanh)
	if _, err := cell.StateShape([]tensor.Shape{{2, 8 * 8 * 3}}); err == nil {
		t.Error("injection of the wrong width: no error")
	}
	s.FNOCell("gelu", 8, 4, 2, GELU)
	if s.Err() == nil {
		t.Error("GELU cell: no error (the fused ops need φ' from φ's output)")
	}
}

// BenchmarkFNOCell times one Eval and one VJP of the experiment's cell
// (32×32 grids, width 16, 8 modes, batch 32) in float32.
func BenchmarkFNOCell(b *testing.B) {
	const batch, size, width, modes = 32, 32, 16, 8
	rng := rand.New(rand.NewPCG(1, 2))
	g := G.NewGraph()
	s := NewScope(g, tensor.Float32, rng)
	cell := s.FNOCell("cell", size, width, modes, Tanh)
	n := size * size * width
	inj := input(g, tensor.Float32, rng, "inj", batch, n)
	k, err := cell.Kernel32([]tensor.Shape{inj.Shape()})
	if err != nil {
		b.Fatal(err)
	}
	var params []G.Value
	for _, p := range cell.Params() {
		params = append(params, p.Value())
	}
	if err := k.Bind([]G.Value{inj.Value()}, params); err != nil {
		b.Fatal(err)
	}
	z, out := make([]float32, batch*n), make([]float32, batch*n)
	for i := range z {
		z[i] = float32(rng.NormFloat64())
	}
	b.Run("eval", func(b *testing.B) {
		for b.Loop() {
			k.Eval(out, z)
		}
	})
	k.Linearize(z)
	b.Run("vjp", func(b *testing.B) {
		for b.Loop() {
			k.VJP(out, z)
		}
	})
}
