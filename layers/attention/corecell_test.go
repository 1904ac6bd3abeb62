package attention

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/layertest"
	"github.com/implicit-ml/implicit/layers"
)

// coreCfg is the core of the one-application tests: Huginn's form
// (sandwich norms, a gated MLP), two blocks per iteration and StateGain
// set.
func coreCfg() CoreConfig {
	return CoreConfig{
		Block:     BlockConfig{Dim: tsD, Heads: tsH, SeqLen: tsT, Hidden: tsF, Gated: true, Sandwich: true},
		Layers:    2,
		StateGain: 0.3,
	}
}

// TestCoreCellComposition: the cell (built through its Builder, on
// parameters handed over as a list) equals the adapter and the blocks
// composed directly from their own fields: no parameter lands in another
// one's place.
func TestCoreCellComposition(t *testing.T) {
	rng := rand.New(rand.NewPCG(50, 50))
	g := G.NewGraph()
	s := layers.NewScope(g, tensor.Float64, rng)
	c := NewCoreCell(s, "core", coreCfg())
	randomize(rng, 0.2, c.Params()...)
	z := layertest.Input(g, tensor.Float64, rng, "z", tsB, tsT*tsD)
	e := layertest.Input(g, tensor.Float64, rng, "e", tsB, tsT*tsD)
	got, err := c.Apply(z, G.Nodes{e})
	if err != nil {
		t.Fatal(err)
	}
	direct := func() (*G.Node, error) {
		zr, err := ToTokens(z, tsD)
		if err != nil {
			return nil, err
		}
		er, err := ToTokens(e, tsD)
		if err != nil {
			return nil, err
		}
		inj, err := layers.Affine(er, c.We, nil, nil, layers.Identity)
		if err != nil {
			return nil, err
		}
		u, err := layers.Affine(zr, c.Wz, inj, nil, layers.Identity)
		if err != nil {
			return nil, err
		}
		for _, b := range c.Blocks {
			if u, err = b.Fwd(u); err != nil {
				return nil, err
			}
		}
		return u, nil
	}
	want, err := direct()
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	gv, _ := layers.Floats64(got.Value())
	wv, _ := layers.Floats64(want.Value())
	layertest.Compare(t, "CoreCell.Apply", gv, wv)
}

// TestCoreCellKernel: the builder kernels evaluate the cell as Apply
// builds it, and their VJP is the derivative in z.
func TestCoreCellKernel(t *testing.T) {
	for _, sandwich := range []bool{false, true} {
		t.Run(fmt.Sprint("sandwich=", sandwich), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(51, 51))
			g := G.NewGraph()
			s := layers.NewScope(g, tensor.Float64, rng)
			cfg := coreCfg()
			cfg.Block.Sandwich = sandwich
			c := NewCoreCell(s, "core", cfg)
			randomize(rng, 0.2, c.Params()...)
			z := layertest.Input(g, tensor.Float64, rng, "z", tsB, tsT*tsD)
			e := layertest.Input(g, tensor.Float64, rng, "e", tsB, tsT*tsD)
			if err := layers.CheckCellKernel(c, z, e, rng); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestCoreCellGradients: one application of the cell against central
// differences in the state, the injection and every parameter.
func TestCoreCellGradients(t *testing.T) {
	layertest.CheckGrads(t, gradTol, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
		rng := rand.New(rand.NewPCG(52, 52))
		s := layers.NewScope(g, tensor.Float64, rng)
		c := NewCoreCell(s, "core", coreCfg())
		randomize(rng, 0.2, c.Params()...)
		z := layertest.Input(g, tensor.Float64, rng, "z", tsB, tsT*tsD)
		e := layertest.Input(g, tensor.Float64, rng, "e", tsB, tsT*tsD)
		y, err := c.Apply(z, G.Nodes{e})
		if err != nil {
			return nil, nil, err
		}
		loss, err := mseTo(g, rng, y)
		return loss, append(G.Nodes{z, e}, c.Params()...), err
	})
}

// The implicit layer's checks differentiate through two solves per
// finite difference, so they run on a smaller core: B = 2 sequences of
// T = 3 tokens of width D = 4 in H = 2 heads (RoPE on one pair per head),
// one block. Its parameters are perturbed (gains away from one), then Wz
// is scaled to spectral norm 0.2: contractive, but coupled enough that
// Picard needs about 28 steps to 1e-13 (a factor near 0.35 per step), so
// the adjoint's J_fᵀ terms weigh in the gradient.
const icB, icT, icD, icH = 2, 3, 4, 2

// coreGraph is the test model x (B·T, D) → ToState → implicit CoreCell
// → ToTokens → MSE, x standing for the prelude's output.
type coreGraph struct {
	loss, x, z *G.Node
	cell       *CoreCell
	layer      *layers.Implicit
}

func coreModel(g *G.ExprGraph, dt tensor.Dtype, forward deq.Solver, backward deq.Backward) (*coreGraph, error) {
	rng := rand.New(rand.NewPCG(53, 53))
	s := layers.NewScope(g, dt, rng)
	m := &coreGraph{x: layertest.Input(g, dt, rng, "x", icB*icT, icD)}
	e, err := ToState(m.x, icT)
	if err != nil {
		return nil, err
	}
	m.cell = NewCoreCell(s, "core", CoreConfig{
		Block: BlockConfig{Dim: icD, Heads: icH, SeqLen: icT, Hidden: 6, Gated: true, Sandwich: true},
	})
	randomize(rng, 0.2, m.cell.Params()...)
	if err := scaleSpectralNorm(m.cell.Wz, 0.2, rng); err != nil { // contractive again
		return nil, err
	}
	stop := deq.Stop{Tol: 1e-13, Mode: deq.Absolute, MaxIter: 200}
	if dt == tensor.Float32 {
		stop.Tol = 1e-6
	}
	m.layer = s.Implicit("deq", m.cell, layers.ImplicitConfig{Forward: forward, Stop: stop, Backward: backward, Strict: true})
	if m.z, err = m.layer.Fwd(e); err != nil {
		return nil, err
	}
	y, err := ToTokens(m.z, icD)
	if err != nil {
		return nil, err
	}
	m.loss, err = mseTo(g, rng, y)
	return m, err
}

// TestCoreCellImplicit: the IFT gradient of an implicit layer on the
// core (strict solves: a solve that misses its tolerance fails the test)
// matches central differences, in the injection and every parameter with
// Anderson, in the injection with Picard.
func TestCoreCellImplicit(t *testing.T) {
	stop := deq.Stop{Tol: 1e-13, Mode: deq.Absolute, MaxIter: 200}
	for _, c := range []struct {
		name       string
		forward    deq.Solver
		backward   deq.Backward
		withParams bool
	}{
		{"anderson/ift", deq.Anderson{}, deq.IFT{Stop: stop}, true},
		{"picard/ift", deq.Picard{}, deq.IFT{Solver: deq.Picard{}, Stop: stop}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var layer *layers.Implicit
			layertest.CheckGrads(t, gradTol, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
				m, err := coreModel(g, tensor.Float64, c.forward, c.backward)
				if err != nil {
					return nil, nil, err
				}
				layer = m.layer
				if c.withParams {
					return m.loss, append(G.Nodes{m.x}, m.cell.Params()...), nil
				}
				return m.loss, G.Nodes{m.x}, nil
			})
			st := layer.Stats()
			t.Logf("%.1f forward and %.1f backward iterations per solve", st.MeanForwardIters(), st.MeanBackwardIters())
		})
	}
}

// TestCoreCellFloat32: the float32 kernels reach the float64 fixed point
// (to 1e-5 relative: float32 rounding, amplified by about 1/(1 − 0.35)
// through the contraction) and give a finite loss gradient.
func TestCoreCellFloat32(t *testing.T) {
	var outs [2][]float64
	for i, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		g := G.NewGraph()
		m, err := coreModel(g, dt, deq.Anderson{}, deq.IFT{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := G.Grad(m.loss, m.x); err != nil {
			t.Fatal(err)
		}
		vm := G.NewTapeMachine(g)
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		if outs[i], err = layers.Floats64(m.z.Value()); err != nil {
			t.Fatal(err)
		}
		gx, err := m.x.Grad()
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := layers.Floats64(gx); !finite(d) {
			t.Errorf("%v: non-finite gradient", dt)
		}
		vm.Close()
	}
	e := relMax(outs[1], outs[0])
	if !(e < 1e-5) {
		t.Errorf("float32 fixed point differs from float64 by %.3g relative", e)
	}
	t.Logf("float32 fixed point against float64: %.2g relative", e)
}

func finite(v []float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

// BenchmarkCoreCellKernel: the builder kernels' Eval and VJP (one
// iteration of the forward and of the adjoint solve) at the reasoning
// workload's sizes, B = 32, T = 32, D = 64, H = 4, one sandwich block
// with a gated MLP, float32; next to them the same block's forward and
// forward+backward in a main graph (BenchmarkBlock) tell the builder's
// overhead.
func BenchmarkCoreCellKernel(b *testing.B) {
	const batch, n, d = 32, 32, 64
	rng := rand.New(rand.NewPCG(54, 54))
	g := G.NewGraph()
	s := layers.NewScope(g, tensor.Float32, rng)
	c := NewCoreCell(s, "core", CoreConfig{Block: BlockConfig{Dim: d, Heads: 4, SeqLen: n, Gated: true, Sandwich: true}, StateGain: 0.5})
	e := layertest.Input(g, tensor.Float32, rng, "e", batch, n*d)
	k, err := c.Kernel32([]tensor.Shape{e.Shape()})
	if err != nil {
		b.Fatal(err)
	}
	var params []G.Value
	for _, p := range c.Params() {
		params = append(params, p.Value())
	}
	if err := k.Bind([]G.Value{e.Value()}, params); err != nil {
		b.Fatal(err)
	}
	z, out := make([]float32, batch*n*d), make([]float32, batch*n*d)
	for i := range z {
		z[i] = float32(rng.NormFloat64())
	}
	b.Run("eval", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if err := k.Eval(out, z); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("vjp", func(b *testing.B) {
		if err := k.Linearize(z); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for range b.N {
			if err := k.VJP(out, z); err != nil {
				b.Fatal(err)
			}
		}
	})
}
