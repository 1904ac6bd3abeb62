package fourier

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/layertest"
	"github.com/implicit-ml/implicit/internal/opkit"
	"github.com/implicit-ml/implicit/layers"
)

// Sizes of the frames of these tests: 2 input channels (a forcing), a
// projection of 5 hidden units; B, S, C and M are fno_test.go's.
const frameIn, frameH = 2, 5

// perturbParams adds 0.3·N(0, 1) to every parameter, so that biases are
// not zero and the GELUs see both signs.
func perturbParams(ps G.Nodes, rng *rand.Rand) {
	for _, p := range ps {
		d := p.Value().Data().([]float64)
		for i := range d {
			d[i] += 0.3 * rng.NormFloat64()
		}
	}
}

// TestFourierLayerGradients checks a Fourier layer with and without
// injection, and the output layer, against central differences: with
// respect to the state, the injection and every parameter.
func TestFourierLayerGradients(t *testing.T) {
	n := fnoS * fnoS * fnoC
	for _, c := range []struct {
		name             string
		activated, withI bool
	}{{"gelu+injection", true, true}, {"gelu", true, false}, {"output", false, false}} {
		t.Run(c.name, func(t *testing.T) {
			layertest.CheckGrads(t, 1e-6, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
				rng := rand.New(rand.NewPCG(71, 71))
				s := layers.NewScope(g, tensor.Float64, rng)
				f := newFourierLayer(s, "layer", fnoS, fnoC, fnoM, c.activated)
				perturbParams(f.Params(), rng)
				z := layertest.Input(g, tensor.Float64, rng, "z", fnoB, n)
				wrt := append(G.Nodes{z}, f.Params()...)
				var inj *G.Node
				if c.withI {
					inj = layertest.Input(g, tensor.Float64, rng, "inj", fnoB, n)
					wrt = append(wrt, inj)
				}
				y, err := f.Apply(z, inj)
				if err != nil {
					return nil, nil, err
				}
				loss, err := layers.MSE(y, layertest.Input(g, tensor.Float64, rng, "target", fnoB, n))
				return loss, wrt, err
			})
		})
	}
}

// TestFourierStackKernel checks the stack's kernels against the stack
// built in a graph (Eval) and against central differences (VJP), for one
// and three layers.
func TestFourierStackKernel(t *testing.T) {
	for _, c := range []struct {
		depth int
		relax float64
	}{{1, 0}, {2, 0}, {3, 0}, {3, 0.5}} {
		rng := rand.New(rand.NewPCG(72, uint64(c.depth)))
		g := G.NewGraph()
		s := layers.NewScope(g, tensor.Float64, rng)
		cell := NewFourierStack(s, "G", c.depth, fnoS, fnoC, fnoM)
		cell.Relax = c.relax
		perturbParams(cell.Params(), rng)
		n := fnoS * fnoS * fnoC
		z := layertest.Input(g, tensor.Float64, rng, "z", fnoB, n)
		inj := layertest.Input(g, tensor.Float64, rng, "inj", fnoB, n)
		if err := layers.CheckCellKernel(cell, z, inj, rng); err != nil {
			t.Errorf("depth %d, relax %g: %v", c.depth, c.relax, err)
		}
	}
}

// TestFourierStackRelax: the averaged cell is (1−α)z + α·G(z), with G's
// fixed points; an α outside (0, 1] is an error.
func TestFourierStackRelax(t *testing.T) {
	rng := rand.New(rand.NewPCG(75, 75))
	s := layers.NewScope(G.NewGraph(), tensor.Float64, rng)
	cell := NewFourierStack(s, "G", 2, fnoS, fnoC, fnoM)
	n := fnoB * fnoS * fnoS * fnoC
	shape := []tensor.Shape{{fnoB, n / fnoB}}
	z, inj := layertest.RandVec(rng, n), layertest.RandVec(rng, n)
	var ps []G.Value
	for _, p := range cell.Params() {
		ps = append(ps, p.Value())
	}
	eval := func(relax float64) []float64 {
		c := *cell
		c.Relax, c.cache = relax, &opkit.Cache{}
		k, err := c.Kernel64(shape)
		if err != nil {
			t.Fatal(err)
		}
		if err := k.Bind([]G.Value{tensor.New(tensor.WithShape(shape[0]...), tensor.WithBacking(inj))}, ps); err != nil {
			t.Fatal(err)
		}
		out := make([]float64, n)
		k.Eval(out, z)
		return out
	}
	g, avg := eval(0), eval(0.25)
	for i := range g {
		if want := 0.75*z[i] + 0.25*g[i]; math.Abs(avg[i]-want) > 1e-12 {
			t.Fatalf("averaged cell [%d] = %g, want %g", i, avg[i], want)
		}
	}
	for _, bad := range []float64{-0.5, 1.5} {
		c := *cell
		c.Relax, c.cache = bad, &opkit.Cache{}
		if _, err := c.Kernel64(shape); err == nil {
			t.Errorf("Relax %g: no error", bad)
		}
	}
}

// TestFourierStackKernel32 checks that the float32 kernel computes what
// the float64 one does, Eval and VJP, to float32 precision.
func TestFourierStackKernel32(t *testing.T) {
	const b, s, c, m = 2, 8, 4, 3
	rng := rand.New(rand.NewPCG(73, 73))
	sc := layers.NewScope(G.NewGraph(), tensor.Float64, rng)
	cell := NewFourierStack(sc, "G", 3, s, c, m)
	perturbParams(cell.Params(), rng)
	n := b * s * s * c
	inj64, z64, v64 := layertest.RandVec(rng, n), layertest.RandVec(rng, n), layertest.RandVec(rng, n)
	run := func(k layers.Kernel[float64], inj []float64, ps []G.Value) (f, jtv []float64) {
		if err := k.Bind([]G.Value{tensor.New(tensor.WithShape(b, n/b), tensor.WithBacking(inj))}, ps); err != nil {
			t.Fatal(err)
		}
		f, jtv = make([]float64, n), make([]float64, n)
		k.Eval(f, z64)
		k.Linearize(z64)
		k.VJP(jtv, v64)
		return f, jtv
	}
	k64, err := cell.Kernel64([]tensor.Shape{{b, n / b}})
	if err != nil {
		t.Fatal(err)
	}
	var ps64 []G.Value
	for _, p := range cell.Params() {
		ps64 = append(ps64, p.Value())
	}
	f64, j64 := run(k64, inj64, ps64)

	k32, err := cell.Kernel32([]tensor.Shape{{b, n / b}})
	if err != nil {
		t.Fatal(err)
	}
	to32 := func(v []float64) []float32 {
		out := make([]float32, len(v))
		for i, x := range v {
			out[i] = float32(x)
		}
		return out
	}
	var ps32 []G.Value
	for _, p := range ps64 {
		ps32 = append(ps32, tensor.New(tensor.WithShape(p.Shape().Clone()...), tensor.WithBacking(to32(p.Data().([]float64)))))
	}
	if err := k32.Bind([]G.Value{tensor.New(tensor.WithShape(b, n/b), tensor.WithBacking(to32(inj64)))}, ps32); err != nil {
		t.Fatal(err)
	}
	f32, j32 := make([]float32, n), make([]float32, n)
	k32.Eval(f32, to32(z64))
	k32.Linearize(to32(z64))
	k32.VJP(j32, to32(v64))
	for _, c := range []struct {
		what string
		a    []float32
		b    []float64
	}{{"Eval", f32, f64}, {"VJP", j32, j64}} {
		var d, scale float64
		for i := range c.b {
			d = math.Max(d, math.Abs(float64(c.a[i])-c.b[i]))
			scale = math.Max(scale, math.Abs(c.b[i]))
		}
		if d > 1e-5*scale {
			t.Errorf("%s: float32 differs from float64 by %.2g (scale %.2g)", c.what, d, scale)
		}
	}
}

// frameModel is x (B, In, S, S) → Frame with the given body → MSE against
// a random target; it returns the loss and x with every parameter.
func frameModel(g *G.ExprGraph, body func(s *layers.Scope) layers.Layer) (*G.Node, G.Nodes, error) {
	rng := rand.New(rand.NewPCG(74, 74))
	s := layers.NewScope(g, tensor.Float64, rng)
	x := layertest.Input(g, tensor.Float64, rng, "x", fnoB, frameIn, fnoS, fnoS)
	f := NewFrame(s, "fno", FrameConfig{Size: fnoS, In: frameIn, Width: fnoC, Modes: fnoM, Hidden: frameH}, body(s))
	perturbParams(f.Params(), rng)
	y, err := f.Fwd(x)
	if err != nil {
		return nil, nil, err
	}
	loss, err := layers.MSE(y, layertest.Input(g, tensor.Float64, rng, "target", fnoB, 1, fnoS, fnoS))
	return loss, append(G.Nodes{x}, f.Params()...), err
}

// TestFrameGradients checks the FNO-DEQ and its explicit baselines end to
// end against central differences: the implicit model with the exact
// (IFT) gradient and unrolled, the FNO (no injection) and FNO++
// (injection, from z₀ = 0).
func TestFrameGradients(t *testing.T) {
	stop := deq.Stop{Tol: 1e-13, Mode: deq.Absolute, MaxIter: 400}
	implicit := func(b deq.Backward) func(s *layers.Scope) layers.Layer {
		return func(s *layers.Scope) layers.Layer {
			cell := NewFourierStack(s, "G", 2, fnoS, fnoC, fnoM)
			return s.Implicit("deq", cell, layers.ImplicitConfig{Stop: stop, Backward: b})
		}
	}
	relaxed := func(s *layers.Scope) layers.Layer {
		cell := NewFourierStack(s, "G", 2, fnoS, fnoC, fnoM)
		cell.Relax = 0.5
		return s.Implicit("deq", cell, layers.ImplicitConfig{Stop: stop, Backward: deq.IFT{Stop: stop}})
	}
	for name, body := range map[string]func(s *layers.Scope) layers.Layer{
		"implicit/ift":        implicit(deq.IFT{Stop: stop}),
		"implicit/ift-relax":  relaxed,
		"implicit/unrolled-4": implicit(deq.Unrolled{Steps: 4}),
		"fno":                 func(s *layers.Scope) layers.Layer { return NewUntied(s, "body", 1, 2, fnoS, fnoC, fnoM, false) },
		"fno++-2":             func(s *layers.Scope) layers.Layer { return NewUntied(s, "body", 2, 1, fnoS, fnoC, fnoM, true) },
	} {
		t.Run(name, func(t *testing.T) {
			layertest.CheckGrads(t, 1e-6, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) { return frameModel(g, body) })
		})
	}
}

// TestFrameEqualParameters: the FNO of one untied block has exactly the
// parameters of the implicit model around a block of the same depth.
func TestFrameEqualParameters(t *testing.T) {
	count := func(body func(s *layers.Scope) layers.Layer) int {
		s := layers.NewScope(G.NewGraph(), tensor.Float32, rand.New(rand.NewPCG(1, 1)))
		f := NewFrame(s, "fno", FrameConfig{Size: 8, In: 2, Width: 4, Modes: 3, Hidden: 6}, body(s))
		if s.Err() != nil {
			t.Fatal(s.Err())
		}
		return layers.CountParams(f.Params())
	}
	imp := count(func(s *layers.Scope) layers.Layer {
		return s.Implicit("deq", NewFourierStack(s, "G", 3, 8, 4, 3), layers.ImplicitConfig{})
	})
	fno := count(func(s *layers.Scope) layers.Layer { return NewUntied(s, "body", 1, 3, 8, 4, 3, false) })
	fno2 := count(func(s *layers.Scope) layers.Layer { return NewUntied(s, "body", 2, 3, 8, 4, 3, true) })
	// Per layer: K 2·2·3²·4² = 576, A, M, W 3·16, a, b 2·4: 632.
	if imp != fno || fno2-fno != 3*632 {
		t.Errorf("parameters: implicit %d, FNO %d, FNO++-2 %d; want implicit = FNO and one more block of 3×632", imp, fno, fno2)
	}
}

func TestFourierStackErrors(t *testing.T) {
	s := layers.NewScope(G.NewGraph(), tensor.Float64, rand.New(rand.NewPCG(1, 1)))
	cell := NewFourierStack(s, "G", 3, 8, 4, 2)
	if _, err := cell.StateShape([]tensor.Shape{{2, 8 * 8 * 3}}); err == nil {
		t.Error("injection of the wrong width: no error")
	}
	if _, err := cell.Apply(nil, nil); err == nil {
		t.Error("no injection: no error")
	}
	NewFourierStack(s, "empty", 0, 8, 4, 2)
	if s.Err() == nil {
		t.Error("a stack of no layers: no error")
	}
	s2 := layers.NewScope(G.NewGraph(), tensor.Float64, rand.New(rand.NewPCG(1, 1)))
	NewFourierStack(s2, "modes", 1, 8, 4, 5)
	if s2.Err() == nil {
		t.Error("5 modes on 8×8 grids: no error")
	}
}

// BenchmarkFourierStack times one Eval, Linearize and VJP of the
// Navier–Stokes experiment's G (3 layers, 32×32 grids, width 32, 8 modes,
// batch 16) in float32.
func BenchmarkFourierStack(b *testing.B) {
	benchmarkCell(b, 16, func(s *layers.Scope) (layers.Cell, int) {
		return NewFourierStack(s, "G", 3, 32, 32, 8), 32 * 32 * 32
	})
}
