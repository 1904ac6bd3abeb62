package graph

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/implicit-ml/implicit/internal/layertest"
	"github.com/implicit-ml/implicit/layers"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
)

// gnnFixture is a GNNCell with random injections in one graph.
type gnnFixture struct {
	cell     *GNNCell
	a, v, c  *G.Node
	s        *layers.Scope
	b, m, n  int
	emb      int
	injNodes G.Nodes
}

func newGNNFixture(g *G.ExprGraph, seed uint64, b, m, n, emb int, outScale float64, opt ConvOptions) gnnFixture {
	rng := rand.New(rand.NewPCG(seed, 7))
	s := layers.NewScope(g, tensor.Float64, rng)
	f := gnnFixture{s: s, b: b, m: m, n: n, emb: emb}
	f.cell = NewGNNCellWith(s, "cell", m, n, emb, opt)
	for _, p := range f.cell.Params() {
		if p.Shape()[0] == 1 { // biases off zero: ReLUs away from their kinks
			d := p.Value().Data().([]float64)
			for i := range d {
				d[i] += 0.3 * rng.NormFloat64()
			}
		}
	}
	// A small output map makes G contractive, so solves converge.
	for i := range f.cell.Out.W[0].Value().Data().([]float64) {
		f.cell.Out.W[0].Value().Data().([]float64)[i] *= outScale
	}
	f.a = edges(g, rng, b, m, n)
	f.v = layertest.Input(g, tensor.Float64, rng, "vemb", b*n, emb)
	f.c = layertest.Input(g, tensor.Float64, rng, "cemb", b*m, emb)
	f.injNodes = G.Nodes{f.a, f.v, f.c}
	return f
}

// TestGNNCellKernelMatchesGraph checks the hand-written kernels against
// the cell built from graph ops: Eval against Apply, VJP against
// Gorgonia's reverse mode, at a batch big enough to split over cores.
func TestGNNCellKernelMatchesGraph(t *testing.T) {
	for _, c := range []struct {
		b, emb int
		opt    ConvOptions
	}{{2, 3, ConvOptions{}}, {64, 8, ConvOptions{}}, {2, 3, dstMLP}, {64, 8, dstMLP}} {
		g := G.NewGraph()
		f := newGNNFixture(g, 1, c.b, 4, 6, c.emb, 1, c.opt)
		rng := rand.New(rand.NewPCG(2, 2))
		z := layertest.Input(g, tensor.Float64, rng, "z", c.b, f.n)
		w := layertest.Input(g, tensor.Float64, rng, "w", c.b, f.n)
		out, err := f.cell.Apply(z, f.injNodes)
		if err != nil {
			t.Fatal(err)
		}
		prod, err := G.HadamardProd(out, w)
		if err != nil {
			t.Fatal(err)
		}
		loss, err := G.Sum(prod)
		if err != nil {
			t.Fatal(err)
		}
		grads, err := G.Grad(loss, z)
		if err != nil {
			t.Fatal(err)
		}
		vm := G.NewTapeMachine(g)
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		k, err := f.cell.Kernel64(layers.ShapesOf(f.injNodes))
		if err != nil {
			t.Fatal(err)
		}
		var params []G.Value
		for _, p := range f.cell.Params() {
			params = append(params, p.Value())
		}
		if err := k.Bind([]G.Value{f.a.Value(), f.v.Value(), f.c.Value()}, params); err != nil {
			t.Fatal(err)
		}
		zv := z.Value().Data().([]float64)
		got := make([]float64, len(zv))
		if err := k.Eval(got, zv); err != nil {
			t.Fatal(err)
		}
		layertest.Compare(t, "Eval", got, out.Value().Data().([]float64))
		if err := k.Linearize(zv); err != nil {
			t.Fatal(err)
		}
		if err := k.VJP(got, w.Value().Data().([]float64)); err != nil {
			t.Fatal(err)
		}
		layertest.Compare(t, "VJP", got, grads[0].Value().Data().([]float64))
		vm.Close()
	}
}

// dstMLP are the options of the LP paper's convolutions.
var dstMLP = ConvOptions{DstMLP: true, Init: layers.Orthogonal(1)}

// gnnModel is embeddings → implicit (or unrolled) GNNCell → readout → MSE.
func gnnModel(g *G.ExprGraph, mode deq.Backward, opt ConvOptions) (*G.Node, G.Nodes, error) {
	const b, m, n, emb = 2, 3, 4, 3
	f := newGNNFixture(g, 3, b, m, n, emb, 0.1, opt)
	stop := deq.Stop{Tol: 1e-13, Mode: deq.Absolute, MaxIter: 200}
	y, err := f.s.Implicit("deq", f.cell, layers.ImplicitConfig{Stop: stop, Backward: mode}).Apply(f.injNodes...)
	if err != nil {
		return nil, nil, err
	}
	yc, err := G.Reshape(y, tensor.Shape{b * n, 1})
	if err != nil {
		return nil, nil, err
	}
	read, err := NewPartsDense(f.s, "read", []int{emb, 1}, 1, layers.Identity).Apply(f.v, yc)
	if err != nil {
		return nil, nil, err
	}
	rng := rand.New(rand.NewPCG(4, 4))
	loss, err := layers.MSE(read, layertest.Input(g, tensor.Float64, rng, "target", b*n, 1))
	return loss, append(G.Nodes{f.v, f.c}, f.s.Params()...), err
}

// TestGNNCellGradients: the implicit GNN's gradients, by the implicit
// function theorem (Anderson and GMRES adjoints) and unrolled, against
// finite differences.
func TestGNNCellGradients(t *testing.T) {
	stop := deq.Stop{Tol: 1e-13, Mode: deq.Absolute, MaxIter: 200}
	for name, mode := range map[string]deq.Backward{
		"ift":       deq.IFT{Stop: stop},
		"ift-gmres": deq.IFT{Solver: deq.GMRES{}, Stop: stop},
		"unrolled":  deq.Unrolled{Steps: 3},
	} {
		for _, opt := range []ConvOptions{{}, dstMLP} {
			t.Run(fmt.Sprintf("%s-dstmlp=%v", name, opt.DstMLP), func(t *testing.T) {
				layertest.CheckGrads(t, 1e-6, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) { return gnnModel(g, mode, opt) })
			})
		}
	}
}

// TestGNNCellIteratesAreUnrolled: y_t from Controls.Iterations equals t
// unrolled applications of the cell.
func TestGNNCellIteratesAreUnrolled(t *testing.T) {
	const steps = 4
	for _, opt := range []ConvOptions{{}, dstMLP} {
		layertest.Compare(t, "y_t", gnnIterate(t, opt, deq.IFT{}, steps), gnnIterate(t, opt, deq.Unrolled{Steps: steps}, 0))
	}
}

// gnnIterate is the GNN fixture's y_t by Controls.Iterations, or its
// unrolled output when iters is 0.
func gnnIterate(t *testing.T, opt ConvOptions, mode deq.Backward, iters int) []float64 {
	const b, m, n, emb = 3, 4, 5, 4
	g := G.NewGraph()
	f := newGNNFixture(g, 5, b, m, n, emb, 1, opt)
	l := f.s.Implicit("deq", f.cell, layers.ImplicitConfig{Backward: mode})
	l.SetControls(layers.Controls{Iterations: iters})
	y, err := l.Apply(f.injNodes...)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	return append([]float64(nil), y.Value().Data().([]float64)...)
}
