package layers

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
)

// Sizes of the small convolutional models of these tests: B images of
// H×W pixels (not square, so rows and columns cannot be confused), C
// channels.
const cvB, cvH, cvW, cvC = 2, 7, 8, 3

// TestConv2DMatchesDefinition compares the op with the sum that defines a
// zero-padded convolution, with and without an addend, in float64.
func TestConv2DMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	for _, k := range []int{1, 3, 5} {
		g := G.NewGraph()
		s := NewScope(g, tensor.Float64, rng)
		c := s.Conv2D("c", cvH, cvW, 2, cvC, k, Identity)
		for _, v := range [][]float64{c.B.Value().Data().([]float64)} {
			for i := range v {
				v[i] = rng.NormFloat64()
			}
		}
		x := input(g, tensor.Float64, rng, "x", cvB, cvH*cvW*2)
		add := input(g, tensor.Float64, rng, "add", cvB, cvH*cvW*cvC)
		y, err := c.Apply(x, add)
		if err != nil {
			t.Fatal(err)
		}
		vm := G.NewTapeMachine(g)
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		got := y.Value().Data().([]float64)
		xv, wv, bv, av := x.Value().Data().([]float64), c.W.Value().Data().([]float64), c.B.Value().Data().([]float64), add.Value().Data().([]float64)
		for s := range cvB {
			for i := range cvH {
				for j := range cvW {
					for co := range cvC {
						at := ((s*cvC+co)*cvH+i)*cvW + j
						want := bv[co] + av[at]
						for a := range k {
							for b := range k {
								r, q := i+a-k/2, j+b-k/2
								if r < 0 || r >= cvH || q < 0 || q >= cvW {
									continue
								}
								for ci := range 2 {
									want += wv[co*k*k*2+(ci*k+a)*k+b] * xv[((s*2+ci)*cvH+r)*cvW+q]
								}
							}
						}
						if v := got[at]; math.Abs(v-want) > 1e-12 {
							t.Fatalf("k=%d: y[%d,%d,%d,%d] = %v, want %v", k, s, i, j, co, v, want)
						}
					}
				}
			}
		}
		vm.Close()
	}
}

// conv2DModel is x → Conv2D(tanh) → Conv2D(identity, plus x as the
// addend) → MSE, for the finite-difference checks.
func conv2DModel(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
	rng := rand.New(rand.NewPCG(53, 54))
	s := NewScope(g, tensor.Float64, rng)
	x := input(g, tensor.Float64, rng, "x", cvB, cvH*cvW*2)
	c1 := s.Conv2D("c1", cvH, cvW, 2, cvC, 3, Tanh)
	c2 := s.Conv2D("c2", cvH, cvW, cvC, 2, 3, Identity)
	for _, c := range []*Conv2D{c1, c2} {
		for i, v := range c.B.Value().Data().([]float64) {
			c.B.Value().Data().([]float64)[i] = v + 0.1*rng.NormFloat64()
		}
	}
	h, err := c1.Fwd(x)
	if err != nil {
		return nil, nil, err
	}
	y, err := c2.Apply(h, x)
	if err != nil {
		return nil, nil, err
	}
	loss, err := MSE(y, input(g, tensor.Float64, rng, "target", cvB, cvH*cvW*2))
	return loss, append(G.Nodes{x}, append(c1.Params(), c2.Params()...)...), err
}

func TestConv2DGradients(t *testing.T) {
	checkGrads(t, 1e-6, conv2DModel)
}

// TestConv2DLispMachine: DoDiff gives the LispMachine the same gradients
// as SymDiff gives the TapeMachine.
func TestConv2DLispMachine(t *testing.T) {
	grads := func(lisp bool) [][]float64 {
		g := G.NewGraph()
		loss, wrt, err := conv2DModel(g)
		if err != nil {
			t.Fatal(err)
		}
		var vm G.VM
		if lisp {
			vm = G.NewLispMachine(g)
		} else {
			if _, err := G.Grad(loss, wrt...); err != nil {
				t.Fatal(err)
			}
			vm = G.NewTapeMachine(g)
		}
		defer vm.Close()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		var out [][]float64
		for _, n := range wrt {
			gv, err := n.Grad()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, append([]float64(nil), gv.Data().([]float64)...))
		}
		return out
	}
	tape, lisp := grads(false), grads(true)
	for i := range tape {
		compare(t, "gradient", lisp[i], tape[i])
	}
}

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
		x := input(g, tensor.Float64, rng, "x", 3, 99)
		y := input(g, tensor.Float64, rng, "y", 3, 99)
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
		l := spectralDot(ax.Value().Data().([]float64), y.Value().Data().([]float64))
		r := spectralDot(x.Value().Data().([]float64), aty.Value().Data().([]float64))
		vm.Close()
		if math.Abs(l-r) > 1e-10*math.Max(1, math.Abs(l)) {
			t.Errorf("%s: ⟨Ax, y⟩ = %.15g, ⟨x, Aᵀy⟩ = %.15g", kernel, l, r)
		}
		checkGrads(t, 1e-6, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
			rng := rand.New(rand.NewPCG(57, 58))
			x := input(g, tensor.Float64, rng, "x", 2, 99)
			ax, err := a.Apply(x)
			if err != nil {
				return nil, nil, err
			}
			atax, err := a.ApplyT(ax)
			if err != nil {
				return nil, nil, err
			}
			loss, err := MSE(atax, input(g, tensor.Float64, rng, "target", 2, 99))
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
	s := NewScope(g, tensor.Float64, rng)
	a, err := NewBlur("gaussian", cvH, cvW)
	if err != nil {
		return nil, nil, err
	}
	x := input(g, tensor.Float64, rng, "x", cvB, cvH*cvW)
	atx, err := a.ApplyT(x)
	if err != nil {
		return nil, nil, err
	}
	cell := s.PGDCell("pgd", a, s.ResCNN("pgd.D", cvH, cvW, 2, 3, ReLU, ResSkip(0.7)))
	cell.Lambda = 0.5 // a contraction, so the fixed point is well defined
	perturb(cell.Denoiser.Params(), rng, 0.05)
	var y *G.Node
	if implicit {
		stop := deq.Stop{Tol: 1e-13, Mode: deq.Absolute, MaxIter: 400}
		y, err = s.Implicit("deq", cell, ImplicitConfig{Stop: stop, Backward: mode}).Fwd(atx)
	} else {
		y, err = cell.Denoiser.Fwd(atx)
	}
	if err != nil {
		return nil, nil, err
	}
	loss, err := MSE(y, input(g, tensor.Float64, rng, "target", cvB, cvH*cvW))
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
	checkGrads(t, 1e-6, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) { return pgdModel(g, nil, false) })
	for name, mode := range map[string]deq.Backward{
		"ift":        deq.IFT{Stop: stop},
		"ift-gmres":  deq.IFT{Solver: deq.GMRES{}, Stop: stop},
		"unrolled-4": deq.Unrolled{Steps: 4},
	} {
		t.Run(name, func(t *testing.T) {
			checkGrads(t, 1e-6, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) { return pgdModel(g, mode, true) })
		})
	}
}

// TestPGDKernel checks the kernel against the cell built in a graph (Eval)
// and against central differences of Eval (VJP), in float64.
func TestPGDKernel(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	g := G.NewGraph()
	s := NewScope(g, tensor.Float64, rng)
	a, _ := NewBlur("motion", cvH, cvW)
	cell := s.PGDCell("pgd", a, s.ResCNN("pgd.D", cvH, cvW, cvC, 4, Tanh))
	cell.Lambda = 0.3
	perturb(cell.Params(), rng, 0.2)
	n := cvH * cvW
	y := input(g, tensor.Float64, rng, "y", cvB, n)
	inj := input(g, tensor.Float64, rng, "inj", cvB, n)
	checkCellKernel(t, cell, y, inj, rng)
	if _, err := cell.StateShape([]tensor.Shape{{2, n + 1}}); err == nil {
		t.Error("injection of the wrong size: no error")
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
		if d := spectralDot(exact, grad(mode)); !(d > 0) {
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
			s := NewScope(g, tensor.Float32, rng)
			a, _ := NewBlur("gaussian", 28, 28)
			cell := s.PGDCell("pgd", a, s.ResCNN("pgd.D", 28, 28, cfg.ch, cfg.depth, ReLU))
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
		s := NewScope(g, tensor.Float64, rng)
		a, _ := NewBlur("gaussian", cvH, cvW)
		cell := s.PGDCell("pgd", a, s.ResCNN("pgd.D", cvH, cvW, 2, 3, ReLU))
		perturb(cell.Params(), rng, 0.1)
		inj := input(g, tensor.Float64, rng, "inj", cvB, cvH*cvW)
		l := s.Implicit("deq", cell, ImplicitConfig{})
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
			l.SetControls(Controls{Iterations: it, StartAtInjection: fromInj})
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			want[it] = append([]float64(nil), y.Value().Data().([]float64)...)
			vm.Reset()
		}
		vm.Close()
		err = IterateCell(cell, []G.Value{inj.Value()}, z0, 5, func(it int, z []float64) error {
			if w, ok := want[it]; ok {
				compare(t, fmt.Sprintf("y_%d (from the injection: %v)", it, fromInj), z, w)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := IterateCell[float64](nil, nil, nil, 1, func(int, []float64) error { return nil }); err == nil {
		t.Error("nil cell: no error")
	}
}

// convMatrix returns the convolution as a dense (Out·H·W) × (In·H·W)
// matrix, column by column.
func convMatrix(t *testing.T, c *Conv2D) *mat.Dense {
	t.Helper()
	g := c.geom()
	w, err := Floats64(c.W.Value())
	if err != nil {
		t.Fatal(err)
	}
	m := mat.NewDense(g.outSize(), g.inSize(), nil)
	e, col := make([]float64, g.inSize()), make([]float64, g.outSize())
	for j := range e {
		clear(e)
		e[j] = 1
		convForward(g, c.pool, col, e, w, nil, nil, 1, Identity, nil)
		m.SetCol(j, col)
	}
	return m
}

// TestConvBound: the power-iteration estimate matches the largest
// singular value of the convolution's matrix, and a bounded layer is
// scaled to its bound (and left alone below it).
func TestConvBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(65, 66))
	s := NewScope(G.NewGraph(), tensor.Float64, rng)
	c := s.Conv2D("c", cvH, cvW, 2, cvC, 3, Identity)
	var svd mat.SVD
	if !svd.Factorize(convMatrix(t, c), mat.SVDNone) {
		t.Fatal("SVD failed")
	}
	want := svd.Values(nil)[0]
	got, err := c.OperatorNorm(3000) // the top singular values of a convolution lie close together
	if err != nil {
		t.Fatal(err)
	}
	if got > want*(1+1e-12) || got < want*(1-1e-4) {
		t.Errorf("operator norm %v, SVD %v", got, want)
	}
	for _, bound := range []float64{0.5 * want, 2 * want} {
		b := NewScope(G.NewGraph(), tensor.Float64, rand.New(rand.NewPCG(65, 66))).Conv2D("c", cvH, cvW, 2, cvC, 3, Identity, ConvBound(bound))
		if !svd.Factorize(convMatrix(t, b), mat.SVDNone) {
			t.Fatal("SVD failed")
		}
		if got := svd.Values(nil)[0]; got > bound*(1+1e-3) || (bound > want && math.Abs(got-want) > 1e-9) {
			t.Errorf("bound %v: norm %v after projection (unbounded %v)", bound, got, want)
		}
	}
}

// TestBoundedDenoiserMakesPGDContract: with a 1-Lipschitz denoiser (skip
// 0.5, Lip(N) ≤ 0.5) and λ > 0, plain iteration from two random starts
// reaches the same fixed point, even after the weights were scaled up
// and projected back.
func TestBoundedDenoiserMakesPGDContract(t *testing.T) {
	rng := rand.New(rand.NewPCG(67, 68))
	g := G.NewGraph()
	s := NewScope(g, tensor.Float64, rng)
	a, _ := NewBlur("gaussian", cvH, cvW)
	d := s.ResCNN("D", cvH, cvW, cvC, 4, ReLU, ResSkip(0.5), ResLipschitz(0.5))
	cell := s.PGDCell("pgd", a, d)
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
	inj := tensor.New(tensor.WithShape(cvB, cvH*cvW), tensor.WithBacking(spectralRand(rng, cvB*cvH*cvW)))
	var ends [][]float64
	for _, scale := range []float64{0, 10} {
		z0 := spectralRand(rng, cvB*cvH*cvW)
		for i := range z0 {
			z0[i] *= scale
		}
		var last []float64
		err := IterateCell(cell, []G.Value{inj}, z0, 400, func(_ int, z []float64) error {
			last = append(last[:0], z...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		ends = append(ends, last)
	}
	compare(t, "fixed point from two starts", ends[0], ends[1])
}
