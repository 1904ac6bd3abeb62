package imaging

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/implicit-ml/implicit/internal/layertest"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/layers/conv"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
)

// Sizes of the small convolutional models of these tests: B images of
// H×W pixels (not square, so rows and columns cannot be confused), C
// channels.
const cvB, cvH, cvW, cvC = 2, 7, 8, 3

// TestBlurOp checks the op's adjoint (the dot-product test through the
// graph) and its gradient.
func TestBlurOp(t *testing.T) {
	for _, kernel := range []string{"gaussian", "motion"} {
		a, err := NewBlur(kernel, 9, 11)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(55, 56))
		g := G.NewGraph()
		x := layertest.Input(g, tensor.Float64, rng, "x", 3, 99)
		y := layertest.Input(g, tensor.Float64, rng, "y", 3, 99)
		ax, err := a.Apply(x)
		if err != nil {
			t.Fatal(err)
		}
		aty, err := a.ApplyT(y)
		if err != nil {
			t.Fatal(err)
		}
		vm := G.NewTapeMachine(g)
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		l := layertest.Dot(ax.Value().Data().([]float64), y.Value().Data().([]float64))
		r := layertest.Dot(x.Value().Data().([]float64), aty.Value().Data().([]float64))
		vm.Close()
		if math.Abs(l-r) > 1e-10*math.Max(1, math.Abs(l)) {
			t.Errorf("%s: ⟨Ax, y⟩ = %.15g, ⟨x, Aᵀy⟩ = %.15g", kernel, l, r)
		}
		layertest.CheckGrads(t, 1e-6, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
			rng := rand.New(rand.NewPCG(57, 58))
			x := layertest.Input(g, tensor.Float64, rng, "x", 2, 99)
			ax, err := a.Apply(x)
			if err != nil {
				return nil, nil, err
			}
			atax, err := a.ApplyT(ax)
			if err != nil {
				return nil, nil, err
			}
			loss, err := layers.MSE(atax, layertest.Input(g, tensor.Float64, rng, "target", 2, 99))
			return loss, G.Nodes{x}, err
		})
	}
	if _, err := NewBlur("box", 28, 28); err == nil {
		t.Error("unknown kernel accepted")
	}
	if _, err := NewBlur("gaussian", 5, 5); err == nil {
		t.Error("5×5 images accepted for a 7×7 kernel")
	}
}

// pgdModel is x → Aᵀx → implicit PGD layer (or the denoiser alone) → MSE
// against a random image; every parameter and x are checked.
func pgdModel(g *G.ExprGraph, mode deq.Backward, implicit bool) (*G.Node, G.Nodes, error) {
	rng := rand.New(rand.NewPCG(59, 60))
	s := layers.NewScope(g, tensor.Float64, rng)
	a, err := NewBlur("gaussian", cvH, cvW)
	if err != nil {
		return nil, nil, err
	}
	x := layertest.Input(g, tensor.Float64, rng, "x", cvB, cvH*cvW)
	atx, err := a.ApplyT(x)
	if err != nil {
		return nil, nil, err
	}
	cell := NewPGDCell(s, "pgd", a, conv.NewResCNN(s, "pgd.D", cvH, cvW, 2, 3, layers.ReLU, conv.ResSkip(0.7)))
	cell.Lambda = 0.5 // a contraction, so the fixed point is well defined
	perturb(cell.Denoiser.Params(), rng, 0.05)
	var y *G.Node
	if implicit {
		stop := deq.Stop{Tol: 1e-13, Mode: deq.Absolute, MaxIter: 400}
		y, err = s.Implicit("deq", cell, layers.ImplicitConfig{Stop: stop, Backward: mode}).Fwd(atx)
	} else {
		y, err = cell.Denoiser.Fwd(atx)
	}
	if err != nil {
		return nil, nil, err
	}
	loss, err := layers.MSE(y, layertest.Input(g, tensor.Float64, rng, "target", cvB, cvH*cvW))
	if !implicit {
		return loss, append(G.Nodes{x}, cell.Denoiser.Params()...), err
	}
	return loss, append(G.Nodes{x}, cell.Params()...), err
}

// perturb adds scale·N(0, 1) to every parameter value (non-zero biases;
// ReLU kinks away from zero).
func perturb(ps G.Nodes, rng *rand.Rand, scale float64) {
	for _, p := range ps {
		d := p.Value().Data().([]float64)
		for i := range d {
			d[i] += scale * rng.NormFloat64()
		}
	}
}

func TestPGDGradients(t *testing.T) {
	stop := deq.Stop{Tol: 1e-13, Mode: deq.Absolute, MaxIter: 400}
	layertest.CheckGrads(t, 1e-6, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) { return pgdModel(g, nil, false) })
	for name, mode := range map[string]deq.Backward{
		"ift":        deq.IFT{Stop: stop},
		"ift-gmres":  deq.IFT{Solver: deq.GMRES{}, Stop: stop},
		"unrolled-4": deq.Unrolled{Steps: 4},
	} {
		t.Run(name, func(t *testing.T) {
			layertest.CheckGrads(t, 1e-6, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) { return pgdModel(g, mode, true) })
		})
	}
}

// TestPGDInexactModesRun: JFB and phantom gradients train the PGD layer
// without error and point downhill (their inner product with the exact
// gradient is positive).
func TestPGDInexactModesRun(t *testing.T) {
	grad := func(mode deq.Backward) []float64 {
		g := G.NewGraph()
		loss, wrt, err := pgdModel(g, mode, true)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := G.Grad(loss, wrt[1:]...); err != nil {
			t.Fatal(err)
		}
		vm := G.NewTapeMachine(g)
		defer vm.Close()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		var out []float64
		for _, n := range wrt[1:] {
			gv, _ := n.Grad()
			out = append(out, gv.Data().([]float64)...)
		}
		return out
	}
	exact := grad(deq.IFT{})
	for name, mode := range map[string]deq.Backward{"jfb": deq.JFB{}, "phantom": deq.Phantom{Steps: 3, Damping: 0.8}} {
		if d := layertest.Dot(exact, grad(mode)); !(d > 0) {
			t.Errorf("%s: ⟨exact, approximate⟩ = %v, want > 0", name, d)
		}
	}
}

// BenchmarkPGDCell times one Eval and one VJP of the deblurring
// experiment's cell (28×28 images, 16 channels, 5 convolutions, batch 32)
// in float32.
func BenchmarkPGDCell(b *testing.B) {
	for _, cfg := range []struct{ ch, depth int }{{16, 4}, {16, 5}, {32, 5}} {
		b.Run(fmt.Sprintf("c%d-d%d", cfg.ch, cfg.depth), func(b *testing.B) {
			const batch, n = 32, 784
			rng := rand.New(rand.NewPCG(1, 2))
			g := G.NewGraph()
			s := layers.NewScope(g, tensor.Float32, rng)
			a, _ := NewBlur("gaussian", 28, 28)
			cell := NewPGDCell(s, "pgd", a, conv.NewResCNN(s, "pgd.D", 28, 28, cfg.ch, cfg.depth, layers.ReLU))
			k, err := cell.Kernel32([]tensor.Shape{{batch, n}})
			if err != nil {
				b.Fatal(err)
			}
			inj := tensor.New(tensor.WithShape(batch, n), tensor.Of(tensor.Float32))
			var params []G.Value
			for _, p := range cell.Params() {
				params = append(params, p.Value())
			}
			if err := k.Bind([]G.Value{inj}, params); err != nil {
				b.Fatal(err)
			}
			y, out := make([]float32, batch*n), make([]float32, batch*n)
			for i := range y {
				y[i] = float32(rng.Float64())
			}
			if err := k.Linearize(y); err != nil {
				b.Fatal(err)
			}
			b.Run("eval", func(b *testing.B) {
				for b.Loop() {
					k.Eval(out, y)
				}
			})
			b.Run("vjp", func(b *testing.B) {
				for b.Loop() {
					k.VJP(out, y)
				}
			})
		})
	}
}

// TestIterateCellMatchesLayer: the iterates IterateCell visits are the
// outputs of the implicit layer at fixed iteration counts, from z₀ = 0 and
// from the injection (StartAtInjection).
func TestIterateCellMatchesLayer(t *testing.T) {
	for _, fromInj := range []bool{false, true} {
		rng := rand.New(rand.NewPCG(63, 64))
		g := G.NewGraph()
		s := layers.NewScope(g, tensor.Float64, rng)
		a, _ := NewBlur("gaussian", cvH, cvW)
		cell := NewPGDCell(s, "pgd", a, conv.NewResCNN(s, "pgd.D", cvH, cvW, 2, 3, layers.ReLU))
		perturb(cell.Params(), rng, 0.1)
		inj := layertest.Input(g, tensor.Float64, rng, "inj", cvB, cvH*cvW)
		l := s.Implicit("deq", cell, layers.ImplicitConfig{})
		y, err := l.Fwd(inj)
		if err != nil {
			t.Fatal(err)
		}
		vm := G.NewTapeMachine(g)
		var z0 []float64
		if fromInj {
			z0 = inj.Value().Data().([]float64)
		}
		want := map[int][]float64{}
		for _, it := range []int{1, 2, 5} {
			l.SetControls(layers.Controls{Iterations: it, StartAtInjection: fromInj})
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			want[it] = append([]float64(nil), y.Value().Data().([]float64)...)
			vm.Reset()
		}
		vm.Close()
		err = layers.IterateCell(cell, []G.Value{inj.Value()}, z0, 5, func(it int, z []float64) error {
			if w, ok := want[it]; ok {
				layertest.Compare(t, fmt.Sprintf("y_%d (from the injection: %v)", it, fromInj), z, w)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := layers.IterateCell[float64](nil, nil, nil, 1, func(int, []float64) error { return nil }); err == nil {
		t.Error("nil cell: no error")
	}
}

// TestBoundedDenoiserMakesPGDContract: with a 1-Lipschitz denoiser (skip
// 0.5, Lip(N) ≤ 0.5) and λ > 0, plain iteration from two random starts
// reaches the same fixed point, even after the weights were scaled up
// and projected back.
func TestBoundedDenoiserMakesPGDContract(t *testing.T) {
	rng := rand.New(rand.NewPCG(67, 68))
	g := G.NewGraph()
	s := layers.NewScope(g, tensor.Float64, rng)
	a, _ := NewBlur("gaussian", cvH, cvW)
	d := conv.NewResCNN(s, "D", cvH, cvW, cvC, 4, layers.ReLU, conv.ResSkip(0.5), conv.ResLipschitz(0.5))
	cell := NewPGDCell(s, "pgd", a, d)
	cell.Lambda = 0.2
	for _, p := range cell.Params() { // push every weight far outside its bound
		v := p.Value().Data().([]float64)
		for i := range v {
			v[i] = 3*v[i] + 0.2*rng.NormFloat64()
		}
	}
	cell.Gamma.Value().Data().([]float64)[0] = 5
	if err := s.Project(); err != nil {
		t.Fatal(err)
	}
	for range 20 { // the warm-started estimates tighten over steps
		if err := s.Project(); err != nil {
			t.Fatal(err)
		}
	}
	if gm := cell.Gamma.Value().Data().([]float64)[0]; math.Abs(gm-2/1.2) > 1e-12 {
		t.Errorf("γ = %v after projection, want 2/(1+λ) = %v", gm, 2/1.2)
	}
	sameFixedPoint(t, cell, rng, cvB, cvH*cvW, 400)
}

// sameFixedPoint iterates cell steps times on one random injection of b
// images of n pixels, from zero and from a large random start, and fails
// the test unless both reach the same point.
func sameFixedPoint(t *testing.T, cell layers.Cell, rng *rand.Rand, b, n, steps int) {
	t.Helper()
	inj := tensor.New(tensor.WithShape(b, n), tensor.WithBacking(layertest.RandVec(rng, b*n)))
	var ends [][]float64
	for _, scale := range []float64{0, 10} {
		z0 := layertest.RandVec(rng, b*n)
		for i := range z0 {
			z0[i] *= scale
		}
		var last []float64
		err := layers.IterateCell(cell, []G.Value{inj}, z0, steps, func(_ int, z []float64) error {
			last = append(last[:0], z...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		ends = append(ends, last)
	}
	layertest.Compare(t, "fixed point from two starts", ends[0], ends[1])
}
