package graph

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/implicit-ml/implicit/layers"

	"github.com/implicit-ml/implicit/internal/layertest"
	"github.com/implicit-ml/implicit/internal/opkit"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// edges returns a (B, M·N) input of edge weights with about a third of
// the entries zero (absent edges), like an LP's sparse constraint matrix.
func edges(g *G.ExprGraph, rng *rand.Rand, b, m, n int) *G.Node {
	vals := make([]float64, b*m*n)
	for i := range vals {
		if rng.IntN(3) > 0 {
			vals[i] = rng.NormFloat64()
		}
	}
	return G.NewTensor(g, tensor.Float64, 2, G.WithShape(b, m*n), G.WithName("A"), G.WithValue(opkit.NewTensor(tensor.Float64, tensor.Shape{b, m * n}, vals)))
}

// TestBipartiteAggregateMatchesDense checks the edge-wise sum against a
// dense product A·M (and Aᵀ·M) per instance.
func TestBipartiteAggregateMatchesDense(t *testing.T) {
	const b, m, n, w = 3, 4, 5, 2
	for _, dir := range []BipartiteDir{VarToCons, ConsToVar} {
		t.Run(dir.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(dir)))
			g := G.NewGraph()
			a := edges(g, rng, b, m, n)
			src, dst := dir.sizes(m, n)
			msg := layertest.Input(g, tensor.Float64, rng, "msg", b*src, w)
			out, err := BipartiteAggregate(a, msg, m, n, dir)
			if err != nil {
				t.Fatal(err)
			}
			vm := G.NewTapeMachine(g)
			defer vm.Close()
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			av, mv, ov := a.Value().Data().([]float64), msg.Value().Data().([]float64), out.Value().Data().([]float64)
			for s := 0; s < b; s++ {
				for t2 := 0; t2 < dst; t2++ {
					for k := 0; k < w; k++ {
						want := 0.0
						for u := 0; u < src; u++ {
							i, j := t2, u // constraint, variable
							if dir == ConsToVar {
								i, j = u, t2
							}
							want += av[s*m*n+i*n+j] * mv[(s*src+u)*w+k]
						}
						if got := ov[(s*dst+t2)*w+k]; math.Abs(got-want) > 1e-12 {
							t.Fatalf("instance %d node %d channel %d: %v, want %v", s, t2, k, got, want)
						}
					}
				}
			}
		})
	}
}

func TestBipartiteAggregateGradients(t *testing.T) {
	const b, m, n, w = 2, 3, 4, 2
	for _, dir := range []BipartiteDir{VarToCons, ConsToVar} {
		t.Run(dir.String(), func(t *testing.T) {
			layertest.CheckGrads(t, 1e-7, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
				rng := rand.New(rand.NewPCG(2, uint64(dir)))
				a := edges(g, rng, b, m, n)
				src, dst := dir.sizes(m, n)
				msg := layertest.Input(g, tensor.Float64, rng, "msg", b*src, w)
				out, err := BipartiteAggregate(a, msg, m, n, dir)
				if err != nil {
					return nil, nil, err
				}
				loss, err := layers.MSE(out, layertest.Input(g, tensor.Float64, rng, "target", b*dst, w))
				return loss, G.Nodes{a, msg}, err
			})
		})
	}
}

type convCase struct {
	dir BipartiteDir
	opt ConvOptions
}

var convCases = []convCase{{VarToCons, ConvOptions{}}, {ConsToVar, ConvOptions{}}, {VarToCons, ConvOptions{DstMLP: true}}, {ConsToVar, ConvOptions{DstMLP: true, Init: layers.Orthogonal(1)}}}

// convModel is a bipartite convolution with feature parts on both sides
// and an MSE loss; it returns the loss and every input and parameter, the
// edge weights included.
func convModel(t *testing.T, g *G.ExprGraph, c convCase) (*G.Node, G.Nodes, error) {
	const b, m, n, width = 2, 3, 4, 3
	dir := c.dir
	rng := rand.New(rand.NewPCG(3, uint64(dir)))
	s := layers.NewScope(g, tensor.Float64, rng)
	src, dst := dir.sizes(m, n)
	conv := NewBipartiteConvWith(s, "conv", m, n, dir, []int{2, 1}, []int{3, 1}, width, c.opt)
	if (conv.Dst1 != nil) != c.opt.DstMLP {
		t.Fatalf("DstMLP %v but Dst1 %v", c.opt.DstMLP, conv.Dst1)
	}
	a := edges(g, rng, b, m, n)
	s1 := layertest.Input(g, tensor.Float64, rng, "src1", b*src, 2)
	s2 := layertest.Input(g, tensor.Float64, rng, "src2", b*src, 1)
	d1 := layertest.Input(g, tensor.Float64, rng, "dst1", b*dst, 3)
	d2 := layertest.Input(g, tensor.Float64, rng, "dst2", b*dst, 1)
	// Biases away from zero keep the ReLUs off their kinks.
	for _, p := range conv.Params() {
		if p.Shape()[0] == 1 {
			for i, v := range p.Value().Data().([]float64) {
				p.Value().Data().([]float64)[i] = v + 0.3*rng.NormFloat64()
			}
		}
	}
	out, err := conv.Apply(G.Nodes{s1, s2}, G.Nodes{d1, d2}, a)
	if err != nil {
		return nil, nil, err
	}
	if got := out.Shape(); !got.Eq(tensor.Shape{b * dst, width}) {
		t.Fatalf("output shape %v", got)
	}
	loss, err := layers.MSE(out, layertest.Input(g, tensor.Float64, rng, "target", b*dst, width))
	return loss, append(G.Nodes{a, s1, s2, d1, d2}, conv.Params()...), err
}

// TestBipartiteConvGradients checks both directions, with feature parts
// on both sides, against finite differences: every parameter and every
// input, the edge weights included.
func TestBipartiteConvGradients(t *testing.T) {
	for _, c := range convCases {
		t.Run(fmt.Sprintf("%v-dstmlp=%v", c.dir, c.opt.DstMLP), func(t *testing.T) {
			layertest.CheckGrads(t, 1e-6, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) { return convModel(t, g, c) })
		})
	}
}

// TestBipartiteConvLispMachine checks the aggregation's and the fused
// add-activation's DoDiff: the LispMachine gets the TapeMachine's
// gradients, the edge weights' included (an op without DoDiff would give
// it zeros, silently).
func TestBipartiteConvLispMachine(t *testing.T) {
	for _, c := range convCases {
		t.Run(fmt.Sprintf("%v-dstmlp=%v", c.dir, c.opt.DstMLP), func(t *testing.T) {
			layertest.CheckLispMachine(t, 1e-12, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) { return convModel(t, g, c) })
		})
	}
}

// TestSplitBipartite reads a two-instance batch laid out like the LP data.
func TestSplitBipartite(t *testing.T) {
	const m, n = 2, 3
	l := BipartiteLayout{M: m, N: n, A: 0,
		Cons: []Feature{{Offset: 6}, {Offset: 8, Scale: 2}},
		Vars: []Feature{{Offset: 10, Scale: 10}}}
	row := func(base float64) []float64 {
		r := make([]float64, 13)
		for i := range r {
			r[i] = base + float64(i)
		}
		return r
	}
	vals := append(row(0), row(100)...)
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float64, 2, G.WithShape(2, 13), G.WithName("x"), G.WithValue(tensor.New(tensor.WithShape(2, 13), tensor.WithBacking(vals))))
	a, cons, vars, err := SplitBipartite(x, l)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		got  []float64
		want []float64
	}{
		{"A", a.Value().Data().([]float64), []float64{0, 1, 2, 3, 4, 5, 100, 101, 102, 103, 104, 105}},
		{"cons", cons.Value().Data().([]float64), []float64{6, 16, 7, 18, 106, 216, 107, 218}},
		{"vars", vars.Value().Data().([]float64), []float64{100, 110, 120, 1100, 1110, 1120}},
	} {
		if len(c.got) != len(c.want) {
			t.Fatalf("%s: %v, want %v", c.name, c.got, c.want)
		}
		for i := range c.got {
			if c.got[i] != c.want[i] {
				t.Fatalf("%s: %v, want %v", c.name, c.got, c.want)
			}
		}
	}
	if _, _, _, err := SplitBipartite(x, BipartiteLayout{M: m, N: n, A: 8, Cons: l.Cons, Vars: l.Vars}); err == nil {
		t.Error("a layout past the row's end was accepted")
	}
}
