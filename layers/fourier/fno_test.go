package fourier

import (
	"math/rand/v2"
	"testing"

	"github.com/implicit-ml/implicit/internal/layertest"
	"github.com/implicit-ml/implicit/layers"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
)

// Sizes of the small FNOs of these tests: B samples of S×S grids, width
// C, M modes, a projection of H hidden units.
const fnoB, fnoS, fnoC, fnoM, fnoH = 2, 6, 3, 2, 4

// fnoModel is x (B, 1, S, S) → FNO with the given body → MSE against a
// random target; it returns the loss and every parameter plus x.
func fnoModel(g *G.ExprGraph, body func(s *layers.Scope) layers.Layer) (*G.Node, G.Nodes, error) {
	rng := rand.New(rand.NewPCG(41, 42))
	s := layers.NewScope(g, tensor.Float64, rng)
	x := layertest.Input(g, tensor.Float64, rng, "x", fnoB, 1, fnoS, fnoS)
	f := NewFNO(s, "fno", fnoS, fnoC, fnoH, layers.Tanh, body(s))
	y, err := f.Fwd(x)
	if err != nil {
		return nil, nil, err
	}
	loss, err := layers.MSE(y, layertest.Input(g, tensor.Float64, rng, "target", fnoB, 1, fnoS, fnoS))
	return loss, append(G.Nodes{x}, f.Params()...), err
}

func TestFNOGradients(t *testing.T) {
	stop := deq.Stop{Tol: 1e-14, Mode: deq.Absolute, MaxIter: 300}
	implicit := func(b deq.Backward) func(s *layers.Scope) layers.Layer {
		return func(s *layers.Scope) layers.Layer {
			return s.Implicit("deq", NewFNOCell(s, "cell", fnoS, fnoC, fnoM, layers.Tanh), layers.ImplicitConfig{Stop: stop, Backward: b})
		}
	}
	for name, body := range map[string]func(s *layers.Scope) layers.Layer{
		"implicit/ift":        implicit(deq.IFT{Stop: stop}),
		"implicit/ift-gmres":  implicit(deq.IFT{Solver: deq.GMRES{}, Stop: stop}),
		"implicit/unrolled-5": implicit(deq.Unrolled{Steps: 5}),
		"explicit/2-blocks": func(s *layers.Scope) layers.Layer {
			return layers.Sequential{NewFourierBlock(s, "b0", fnoS, fnoC, fnoM, layers.ReLU), NewFourierBlock(s, "b1", fnoS, fnoC, fnoM, layers.Tanh)}
		},
	} {
		t.Run(name, func(t *testing.T) {
			layertest.CheckGrads(t, 1e-6, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) { return fnoModel(g, body) })
		})
	}
}

// TestFNOCellKernel checks the kernels against the cell built in a graph
// (Eval) and against central differences of Eval (VJP), in float64.
func TestFNOCellKernel(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	g := G.NewGraph()
	s := layers.NewScope(g, tensor.Float64, rng)
	cell := NewFNOCell(s, "cell", fnoS, fnoC, fnoM, layers.Tanh)
	for _, p := range cell.Params() { // non-zero bias, larger weights
		d := p.Value().Data().([]float64)
		for i := range d {
			d[i] += 0.3 * rng.NormFloat64()
		}
	}
	n := fnoS * fnoS * fnoC
	z := layertest.Input(g, tensor.Float64, rng, "z", fnoB, n)
	inj := layertest.Input(g, tensor.Float64, rng, "inj", fnoB, n)
	if err := layers.CheckCellKernel(cell, z, inj, rng); err != nil {
		t.Fatal(err)
	}
}

func TestFNOCellRejectsBadInjections(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	s := layers.NewScope(G.NewGraph(), tensor.Float64, rng)
	cell := NewFNOCell(s, "cell", 8, 4, 2, layers.Tanh)
	if _, err := cell.StateShape([]tensor.Shape{{2, 8 * 8 * 3}}); err == nil {
		t.Error("injection of the wrong width: no error")
	}
	NewFNOCell(s, "gelu", 8, 4, 2, layers.GELU)
	if s.Err() == nil {
		t.Error("layers.GELU cell: no error (the fused ops need φ' from φ's output)")
	}
}

// BenchmarkFNOCell times one Eval and one VJP of the Darcy experiment's
// cell (32×32 grids, width 16, 8 modes, batch 32) in float32.
func BenchmarkFNOCell(b *testing.B) {
	benchmarkCell(b, 32, func(s *layers.Scope) (layers.Cell, int) {
		return NewFNOCell(s, "cell", 32, 16, 8, layers.Tanh), 32 * 32 * 16
	})
}

// benchmarkCell times Eval, Linearize and VJP of the float32 kernel of
// the cell build makes (with its state size), at batch samples.
func benchmarkCell(b *testing.B, batch int, build func(s *layers.Scope) (layers.Cell, int)) {
	rng := rand.New(rand.NewPCG(1, 2))
	g := G.NewGraph()
	cell, n := build(layers.NewScope(g, tensor.Float32, rng))
	inj := layertest.Input(g, tensor.Float32, rng, "inj", batch, n)
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
	z32, out := make([]float32, batch*n), make([]float32, batch*n)
	for i, v := range layertest.RandVec(rng, batch*n) {
		z32[i] = float32(v)
	}
	b.Run("eval", func(b *testing.B) {
		for b.Loop() {
			k.Eval(out, z32)
		}
	})
	b.Run("linearize", func(b *testing.B) {
		for b.Loop() {
			k.Linearize(z32)
		}
	})
	b.Run("vjp", func(b *testing.B) {
		for b.Loop() {
			k.VJP(out, z32)
		}
	})
}
