package attention

import (
	"math/rand/v2"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/layertest"
	"github.com/implicit-ml/implicit/layers"
)

// rdConfig is the small recurrent-depth model of the tests: the sizes of
// the block checks, learned positions, one prelude and one coda block, a
// core of one block, truncated backpropagation through 2 iterations.
func rdConfig() RecurrentConfig {
	return RecurrentConfig{
		Vocab:   tsV,
		Core:    CoreConfig{Block: BlockConfig{Dim: tsD, Heads: tsH, SeqLen: tsT, Hidden: tsF, Gated: true, Sandwich: true}},
		Prelude: 1, Coda: 1, Backprop: 2, Positions: true,
	}
}

// rdModel builds the test model in g (seeded, parameters perturbed so
// that gains are not all ones) and its loss, an MSE of the logits against
// a random target.
func rdModel(g *G.ExprGraph, cfg RecurrentConfig) (*RecurrentDepth, *G.Node, *G.Node, error) {
	rng := rand.New(rand.NewPCG(60, 60))
	s := layers.NewScope(g, tensor.Float64, rng)
	m := NewRecurrentDepth(s, "rd", cfg)
	randomize(rng, 0.1, m.Params()...)
	y, err := m.Fwd(idsNode(g, tensor.Float64, rng, tsB, tsT, tsV))
	if err != nil {
		return nil, nil, nil, err
	}
	loss, err := mseTo(g, rng, y)
	return m, y, loss, err
}

// TestRecurrentDepthGradients: when r equals Backprop the whole recurrence
// is in the graph, so the gradient of every parameter is exact: it
// matches central differences. Every parameter's gradient is non-zero
// (a part left out of the model would pass the comparison with zeros).
func TestRecurrentDepthGradients(t *testing.T) {
	reps := layertest.CheckGrads(t, gradTol, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
		m, _, loss, err := rdModel(g, rdConfig())
		if err != nil {
			return nil, nil, err
		}
		return loss, m.Params(), m.SetRecurrence(2)
	})
	for _, r := range reps {
		if layertest.Dot(r.Analytic, r.Analytic) == 0 {
			t.Errorf("%s: zero gradient", r.Name)
		}
	}
}

// TestRecurrentDepthTruncated: with r > Backprop the output is that of r
// plain iterations (layers.Unrolled), and the gradient is backpropagation
// through the last Backprop iterations only: that of a graph fed the
// iterate z_{r−k} as a constant (computed by layers.IterateCell).
func TestRecurrentDepthTruncated(t *testing.T) {
	const r, k = 5, 2
	g := G.NewGraph()
	m, y, loss, err := rdModel(g, rdConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetRecurrence(r); err != nil {
		t.Fatal(err)
	}
	got, grads := runWithGrads(t, loss, y, m.Params())

	// The reference: the same parameters in a second graph, the prefix
	// iterated outside any graph.
	g2 := G.NewGraph()
	rng := rand.New(rand.NewPCG(60, 60))
	s := layers.NewScope(g2, tensor.Float64, rng)
	ref := NewRecurrentDepth(s, "rd", rdConfig())
	randomize(rng, 0.1, ref.Params()...)
	ids := idsNode(g2, tensor.Float64, rng, tsB, tsT, tsV)
	e, err := preludeState(ref, ids)
	if err != nil {
		t.Fatal(err)
	}
	eVal := run(t, e)
	var zPrefix []float64
	if err := layers.IterateCell(ref.Core, []G.Value{tensor.New(tensor.WithShape(e.Shape()...), tensor.WithBacking(eVal))}, nil, r-k,
		func(_ int, z []float64) error { zPrefix = append(zPrefix[:0], z...); return nil }); err != nil {
		t.Fatal(err)
	}
	z := G.NewTensor(g2, tensor.Float64, 2, G.WithShape(e.Shape()...), G.WithName("zPrefix"), G.WithValue(tensor.New(tensor.WithShape(e.Shape()...), tensor.WithBacking(zPrefix))))
	for range k {
		if z, err = ref.Core.Apply(z, G.Nodes{e}); err != nil {
			t.Fatal(err)
		}
	}
	h, err := ToTokens(z, tsD)
	if err != nil {
		t.Fatal(err)
	}
	yRef, err := head(h, ref.Coda, ref.Norm, ref.Head)
	if err != nil {
		t.Fatal(err)
	}
	lossRef, err := mseTo(g2, rng, yRef)
	if err != nil {
		t.Fatal(err)
	}
	want, wantGrads := runWithGrads(t, lossRef, yRef, ref.Params())
	if e := relMax(got, want); e > 1e-12 {
		t.Errorf("output differs from the reference by %.3g relative", e)
	}
	for i := range grads {
		if e := relMax(grads[i], wantGrads[i]); e > 1e-10 {
			t.Errorf("gradient of %s differs from truncated backpropagation by %.3g relative", m.Params()[i].Name(), e)
		}
	}
	unrolled := unrolledOutput(t, r)
	if e := relMax(got, unrolled); e > 1e-12 {
		t.Errorf("output at r = %d differs from %d unrolled iterations by %.3g relative", r, r, e)
	}
}

// preludeState is the injection of m's core for ids: embed, prelude,
// ToState.
func preludeState(m *RecurrentDepth, ids *G.Node) (*G.Node, error) {
	x, err := embed(ids, m.Embed, m.Pos)
	if err != nil {
		return nil, err
	}
	if x, err = forward(x, m.Prelude); err != nil {
		return nil, err
	}
	return ToState(x, m.Core.SeqLen)
}

// unrolledOutput is the test model's output with its core as r
// applications in the graph (layers.Unrolled).
func unrolledOutput(t *testing.T, r int) []float64 {
	t.Helper()
	g := G.NewGraph()
	rng := rand.New(rand.NewPCG(60, 60))
	s := layers.NewScope(g, tensor.Float64, rng)
	m := NewRecurrentDepth(s, "rd", rdConfig())
	randomize(rng, 0.1, m.Params()...)
	e, err := preludeState(m, idsNode(g, tensor.Float64, rng, tsB, tsT, tsV))
	if err != nil {
		t.Fatal(err)
	}
	z, err := (&layers.Unrolled{Cell: m.Core, Steps: r}).Fwd(e)
	if err != nil {
		t.Fatal(err)
	}
	h, err := ToTokens(z, tsD)
	if err != nil {
		t.Fatal(err)
	}
	y, err := head(h, m.Coda, m.Norm, m.Head)
	if err != nil {
		t.Fatal(err)
	}
	return run(t, y)
}

// runWithGrads runs loss's graph with the gradients of ps and returns
// y's value and the gradients. y is read by a node of its own: the
// machine may reuse the memory of a value nothing later reads.
func runWithGrads(t *testing.T, loss, y *G.Node, ps G.Nodes) ([]float64, [][]float64) {
	t.Helper()
	var yv G.Value
	G.Read(y, &yv)
	if _, err := G.Grad(loss, ps...); err != nil {
		t.Fatal(err)
	}
	run(t, loss)
	out, err := layers.Floats64(yv)
	if err != nil {
		t.Fatal(err)
	}
	var grads [][]float64
	for _, p := range ps {
		gv, err := p.Grad()
		if err != nil {
			t.Fatal(err)
		}
		d, err := layers.Floats64(gv)
		if err != nil {
			t.Fatal(err)
		}
		grads = append(grads, d)
	}
	return out, grads
}

// TestRecurrentDepthFixedPoint: r = 0 solves the core for its fixed point
// (a contractive core: StateGain), which a long iteration reaches too.
func TestRecurrentDepthFixedPoint(t *testing.T) {
	cfg := rdConfig()
	cfg.Backprop = 1
	cfg.Core.StateGain = 0.2
	cfg.Stop = deq.Stop{Tol: 1e-12, Mode: deq.Absolute, MaxIter: 200}
	outs := map[int][]float64{}
	for _, r := range []int{0, 80} {
		g := G.NewGraph()
		rng := rand.New(rand.NewPCG(61, 61))
		s := layers.NewScope(g, tensor.Float64, rng)
		m := NewRecurrentDepth(s, "rd", cfg)
		y, err := m.Fwd(idsNode(g, tensor.Float64, rng, tsB, tsT, tsV))
		if err != nil {
			t.Fatal(err)
		}
		if err := m.SetRecurrence(r); err != nil {
			t.Fatal(err)
		}
		outs[r] = run(t, y)
		if st := m.Layer.Stats(); r == 0 && st.ForwardStatus != deq.Converged {
			t.Fatalf("the fixed-point solve ended %v after %d iterations", st.ForwardStatus, st.ForwardIters)
		}
	}
	if e := relMax(outs[0], outs[80]); e > 1e-9 {
		t.Errorf("the solved fixed point and 80 iterations differ by %.3g relative", e)
	}
}

// TestRecurrentDepthErrors: bad configurations and recurrences below the
// graph's depth are errors.
func TestRecurrentDepthErrors(t *testing.T) {
	for _, c := range []struct {
		edit func(*RecurrentConfig)
		want string
	}{
		{func(c *RecurrentConfig) { c.Vocab = 0 }, "Vocab ≥ 1"},
		{func(c *RecurrentConfig) { c.Prelude = -1 }, "Prelude, Coda ≥ 0"},
		{func(c *RecurrentConfig) { c.Backprop = -2 }, "Backprop ≥ 1"},
		{func(c *RecurrentConfig) { c.Core.Block.Heads = 3 }, "not a multiple of Heads"},
	} {
		cfg := rdConfig()
		c.edit(&cfg)
		g := G.NewGraph()
		s := layers.NewScope(g, tensor.Float64, rand.New(rand.NewPCG(62, 62)))
		m := NewRecurrentDepth(s, "rd", cfg)
		_, err := m.Fwd(idsNode(g, tensor.Float64, rand.New(rand.NewPCG(62, 62)), tsB, tsT, tsV))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one saying %q", cfg, err, c.want)
		}
	}
	g := G.NewGraph()
	m := NewRecurrentDepth(layers.NewScope(g, tensor.Float64, rand.New(rand.NewPCG(62, 62))), "rd", rdConfig())
	if err := m.SetRecurrence(1); err == nil || !strings.Contains(err.Error(), "at least 2") {
		t.Errorf("r = 1 below Backprop 2: error %v", err)
	}
	if n, err := m.Iterations(7); n != 6 || err != nil {
		t.Errorf("Iterations(7) with Backprop 2 = %d, %v; want 6", n, err)
	}
}

// TestTransformerGradients: the untied baseline against central
// differences, every gradient non-zero.
func TestTransformerGradients(t *testing.T) {
	reps := layertest.CheckGrads(t, gradTol, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
		rng := rand.New(rand.NewPCG(63, 63))
		s := layers.NewScope(g, tensor.Float64, rng)
		m := NewTransformer(s, "tf", TransformerConfig{Vocab: tsV, Depth: 2, Block: rdConfig().Core.Block, Positions: true})
		randomize(rng, 0.1, m.Params()...)
		y, err := m.Fwd(idsNode(g, tensor.Float64, rng, tsB, tsT, tsV))
		if err != nil {
			return nil, nil, err
		}
		loss, err := mseTo(g, rng, y)
		return loss, m.Params(), err
	})
	for _, r := range reps {
		if layertest.Dot(r.Analytic, r.Analytic) == 0 {
			t.Errorf("%s: zero gradient", r.Name)
		}
	}
}

// TestParamCounts: the untied transformer of depth prelude + core + coda
// has the recurrent model's parameters less the adapter's 2·D².
func TestParamCounts(t *testing.T) {
	cfg := rdConfig()
	cfg.Core.Layers = 2
	g := G.NewGraph()
	s := layers.NewScope(g, tensor.Float64, rand.New(rand.NewPCG(64, 64)))
	rd := layers.CountParams(NewRecurrentDepth(s, "rd", cfg).Params())
	tf := layers.CountParams(NewTransformer(s, "tf", TransformerConfig{Vocab: tsV, Depth: 4, Block: cfg.Core.Block, Positions: cfg.Positions}).Params())
	if rd-tf != 2*tsD*tsD {
		t.Errorf("recurrent %d parameters, transformer %d: difference %d, want 2·D² = %d", rd, tf, rd-tf, 2*tsD*tsD)
	}
}
