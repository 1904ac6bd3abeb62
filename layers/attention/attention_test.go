package attention

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/internal/layertest"
	"github.com/implicit-ml/implicit/internal/opkit"
	"github.com/implicit-ml/implicit/layers"
)

// refAttention is causal multi-head attention written from its
// definition, one query at a time with no fusion, shared buffers or
// products: the reference the op is compared with. qkv is (B·T, 3·D).
func refAttention(qkv []float64, b, n, h, dh int, base float64) []float64 {
	d := h * dh
	at := func(s, t, block, head, c int) float64 { return qkv[(s*n+t)*3*d+block*d+head*dh+c] }
	rot := func(x []float64, t int) []float64 {
		if base == 0 {
			return x
		}
		y := make([]float64, dh)
		for i := 0; i < dh/2; i++ {
			angle := float64(t) * math.Pow(base, -2*float64(i)/float64(dh))
			c, s := math.Cos(angle), math.Sin(angle)
			y[2*i] = x[2*i]*c - x[2*i+1]*s
			y[2*i+1] = x[2*i]*s + x[2*i+1]*c
		}
		return y
	}
	vec := func(s, t, block, head int) []float64 {
		v := make([]float64, dh)
		for c := range v {
			v[c] = at(s, t, block, head, c)
		}
		return v
	}
	out := make([]float64, b*n*d)
	for s := 0; s < b; s++ {
		for head := 0; head < h; head++ {
			for i := 0; i < n; i++ {
				q := rot(vec(s, i, 0, head), i)
				w := make([]float64, i+1)
				m := math.Inf(-1)
				for j := 0; j <= i; j++ {
					k := rot(vec(s, j, 1, head), j)
					for c := range k {
						w[j] += q[c] * k[c]
					}
					w[j] /= math.Sqrt(float64(dh))
					m = math.Max(m, w[j])
				}
				sum := 0.0
				for j := range w {
					w[j] = math.Exp(w[j] - m)
					sum += w[j]
				}
				for j := range w {
					for c := 0; c < dh; c++ {
						out[(s*n+i)*d+head*dh+c] += w[j] / sum * at(s, j, 2, head, c)
					}
				}
			}
		}
	}
	return out
}

// attnCases are the attention core's shapes under test: with and without
// RoPE, one and several heads, head widths that take the float32 tile
// kernel (≥ 16) and the ones that do not.
var attnCases = []struct {
	b, t, h, dh int
	base        float64
}{
	{2, 5, 2, 4, 10000},
	{1, 7, 1, 6, 0},
	{3, 4, 3, 2, 100},
	{2, 17, 2, 16, 10000},
}

// attnNode is the attention core on a random qkv input node.
func attnNode(g *G.ExprGraph, dt tensor.Dtype, qkv []float64, b, t, h, dh int, base float64) (*G.Node, *G.Node, error) {
	x := G.NewTensor(g, dt, 2, G.WithShape(b*t, 3*h*dh), G.WithName("qkv"), G.WithValue(opkit.NewTensor(dt, tensor.Shape{b * t, 3 * h * dh}, qkv)))
	y, err := CausalSelfAttention(x, t, h, base)
	return x, y, err
}

// TestAttentionMatchesReference: the op equals the definition to 1e-12
// in float64.
func TestAttentionMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, c := range attnCases {
		t.Run(fmt.Sprintf("B%d-T%d-H%d-dh%d-base%v", c.b, c.t, c.h, c.dh, c.base), func(t *testing.T) {
			qkv := layertest.RandVec(rng, c.b*c.t*3*c.h*c.dh)
			_, y, err := attnNode(G.NewGraph(), tensor.Float64, qkv, c.b, c.t, c.h, c.dh, c.base)
			if err != nil {
				t.Fatal(err)
			}
			layertest.Compare(t, "attention", run(t, y), refAttention(qkv, c.b, c.t, c.h, c.dh, c.base))
		})
	}
}

// TestAttentionFloat32: the float32 kernels (forward and backward) agree
// with the float64 ones to float32 rounding. The inputs are N(0, 1), so
// the logits are O(1) and the softmax is well conditioned: 1e-5 relative
// to the largest entry is a few hundred float32 ulps.
func TestAttentionFloat32(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for _, c := range attnCases {
		t.Run(fmt.Sprintf("B%d-T%d-H%d-dh%d", c.b, c.t, c.h, c.dh), func(t *testing.T) {
			qkv := layertest.RandVec(rng, c.b*c.t*3*c.h*c.dh)
			dout := layertest.RandVec(rng, c.b*c.t*c.h*c.dh)
			var outs, grads [2][]float64
			for i, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
				g := attnGeom{b: c.b, t: c.t, h: c.h, dh: c.dh, base: c.base}
				op := newAttnOp(g, dt)
				x := opkit.NewTensor(dt, tensor.Shape{c.b * c.t, 3 * c.h * c.dh}, qkv)
				y, err := op.Do(x)
				if err != nil {
					t.Fatal(err)
				}
				if outs[i], err = layers.Floats64(y); err != nil {
					t.Fatal(err)
				}
				d, err := op.grad().Do(x, opkit.NewTensor(dt, tensor.Shape{c.b * c.t, c.h * c.dh}, dout))
				if err != nil {
					t.Fatal(err)
				}
				if grads[i], err = layers.Floats64(d); err != nil {
					t.Fatal(err)
				}
			}
			eo, eg := relMax(outs[1], outs[0]), relMax(grads[1], grads[0])
			if !(eo < 1e-5 && eg < 1e-5) {
				t.Errorf("float32 differs from float64 by %.3g (output) and %.3g (gradient) relative", eo, eg)
			}
			t.Logf("float32 against float64: output %.2g, gradient %.2g relative", eo, eg)
		})
	}
}

// TestAttentionCoreGradients: ∂qkv of the core against central
// differences, with and without RoPE.
func TestAttentionCoreGradients(t *testing.T) {
	for _, base := range []float64{0, 10000, 3} {
		t.Run(fmt.Sprint("base=", base), func(t *testing.T) {
			layertest.CheckGrads(t, gradTol, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
				rng := rand.New(rand.NewPCG(3, 3))
				x, y, err := attnNode(g, tensor.Float64, layertest.RandVec(rng, tsB*tsT*3*tsD), tsB, tsT, tsH, tsD/tsH, base)
				if err != nil {
					return nil, nil, err
				}
				loss, err := mseTo(g, rng, y)
				return loss, G.Nodes{x}, err
			})
		})
	}
}

// TestAttentionLayerGradients: the layer with its projections, against
// central differences in x, Wqkv and Wo.
func TestAttentionLayerGradients(t *testing.T) {
	layertest.CheckGrads(t, gradTol, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
		rng := rand.New(rand.NewPCG(4, 4))
		s := layers.NewScope(g, tensor.Float64, rng)
		a := NewAttention(s, "attn", AttentionConfig{Dim: tsD, Heads: tsH, SeqLen: tsT})
		randomize(rng, 0.3, a.Params()...) // logits of order one, not near-uniform weights
		x := layertest.Input(g, tensor.Float64, rng, "x", tsB*tsT, tsD)
		res := layertest.Input(g, tensor.Float64, rng, "residual", tsB*tsT, tsD)
		y, err := a.Apply(x, res)
		if err != nil {
			return nil, nil, err
		}
		loss, err := mseTo(g, rng, y)
		return loss, append(G.Nodes{x, res}, a.Params()...), err
	})
}

// TestRoPERelative: with rotary encoding, the logit of query position i
// and key position j depends on i − j only. Every token gets the same
// query and key vectors, so all differences come from the rotation; the
// logits are taken through the op's own loading and product code.
func TestRoPERelative(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	g := attnGeom{b: 1, t: 9, h: 1, dh: 6, base: 10000}
	rope := newRopeTable(g.t, g.dh, g.base)
	q0, k0 := layertest.RandVec(rng, g.dh), layertest.RandVec(rng, g.dh)
	src := make([]float64, g.t*3*g.dh) // every token's [q | k | v]
	for tok := range g.t {
		copy(src[tok*3*g.dh:], q0)
		copy(src[tok*3*g.dh+g.dh:], k0)
	}
	q, k, p := make([]float64, g.t*g.dh), make([]float64, g.t*g.dh), make([]float64, g.t*g.t)
	loadRotated(g, rope, q, src, 3*g.dh, 1)
	loadRotated(g, rope, k, src[g.dh:], 3*g.dh, 1)
	logits(g, p, q, k)
	moved := false
	for i := range g.t {
		for j := range g.t {
			// the pair with the same difference on the first row or column:
			// (i−j, 0) or (0, j−i)
			var ref float64
			if i >= j {
				ref = p[(i-j)*g.t]
			} else {
				ref = p[j-i]
			}
			if math.Abs(p[i*g.t+j]-ref) > 1e-12 {
				t.Fatalf("logit(%d, %d) = %v, but logit at the same offset %d is %v", i, j, p[i*g.t+j], i-j, ref)
			}
			moved = moved || math.Abs(p[i*g.t+j]-p[0]) > 1e-3
		}
	}
	if !moved {
		t.Error("the logits do not depend on positions at all: no rotation was applied")
	}
	// R(t)ᵀ inverts R(t): rotateBack is the adjoint the backward pass uses.
	x, y, z := layertest.RandVec(rng, g.dh), make([]float64, g.dh), make([]float64, g.dh)
	for pos := range g.t {
		rotate(rope, y, x, pos, 1)
		rotateBack(rope, z, y, pos, 1)
		layertest.Compare(t, fmt.Sprint("R(t)ᵀR(t)x at t=", pos), z, x)
	}
}

// TestCausality: changing the token at position t' changes no output at
// positions before t' (bit for bit) and no output of other sequences, in
// a model of embeddings and two blocks, in both precisions and both
// block forms.
func TestCausality(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		for _, sandwich := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/sandwich=%v", dt, sandwich), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(6, 6))
				const vocab = 11
				g := G.NewGraph()
				s := layers.NewScope(g, dt, rng)
				ids := idsNode(g, dt, rng, tsB, tsT, vocab)
				cfg := BlockConfig{Dim: tsD, Heads: tsH, SeqLen: tsT, Hidden: tsF, Sandwich: sandwich, Gated: true}
				model := layers.Sequential{NewEmbedding(s, "emb", vocab, tsD), NewBlock(s, "b0", cfg), NewBlock(s, "b1", cfg)}
				y, err := model.Fwd(ids)
				if err != nil {
					t.Fatal(err)
				}
				vm := G.NewTapeMachine(g)
				defer vm.Close()
				outputs := func() []float64 {
					defer vm.Reset()
					if err := vm.RunAll(); err != nil {
						t.Fatal(err)
					}
					v, err := layers.Floats64(y.Value())
					if err != nil {
						t.Fatal(err)
					}
					return v
				}
				before := outputs()
				for changed := 1; changed < tsT; changed++ {
					setID(ids, changed, float64((int(idAt(ids, changed))+1+changed)%vocab)) // sequence 0, position changed
					after := outputs()
					for row := range tsB * tsT {
						same := true
						for j := range tsD {
							same = same && after[row*tsD+j] == before[row*tsD+j]
						}
						if future := row >= changed && row < tsT; same == future {
							t.Fatalf("token %d of sequence 0 changed: output row %d (sequence %d, position %d) changed = %v", changed, row, row/tsT, row%tsT, !same)
						}
					}
					before = after
				}
			})
		}
	}
}

func idAt(ids *G.Node, i int) float64 {
	v, _ := layers.Floats64(ids.Value())
	return v[i]
}

func setID(ids *G.Node, i int, v float64) {
	switch d := ids.Value().Data().(type) {
	case []float64:
		d[i] = v
	case []float32:
		d[i] = float32(v)
	}
}

// TestAttentionConfigErrors: bad shapes are construction errors naming
// the problem, recorded in the scope, never panics.
func TestAttentionConfigErrors(t *testing.T) {
	for _, c := range []struct {
		cfg  AttentionConfig
		want string
	}{
		{AttentionConfig{Dim: 8, Heads: 3, SeqLen: 4}, "not a multiple"},
		{AttentionConfig{Dim: 6, Heads: 2, SeqLen: 4}, "must be even"},
		{AttentionConfig{Dim: 0, SeqLen: 4}, "positive"},
		{AttentionConfig{Dim: 8, SeqLen: 4, RoPEBase: -1}, "must be positive"},
	} {
		s := layers.NewScope(G.NewGraph(), tensor.Float64, rand.New(rand.NewPCG(7, 7)))
		a := NewAttention(s, "attn", c.cfg)
		if err := s.Err(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one containing %q", c.cfg, err, c.want)
		}
		if _, err := a.Fwd(layertest.Input(G.NewGraph(), tensor.Float64, rand.New(rand.NewPCG(7, 7)), "x", 4, 8)); err == nil {
			t.Errorf("%+v: Fwd of a failed layer returned no error", c.cfg)
		}
	}
	// Odd head widths are fine without RoPE.
	s := layers.NewScope(G.NewGraph(), tensor.Float64, rand.New(rand.NewPCG(7, 7)))
	if NewAttention(s, "attn", AttentionConfig{Dim: 6, Heads: 2, SeqLen: 4, NoRoPE: true}); s.Err() != nil {
		t.Error(s.Err())
	}
	g := G.NewGraph()
	x := layertest.Input(g, tensor.Float64, rand.New(rand.NewPCG(7, 7)), "x", 6, 24)
	if _, err := CausalSelfAttention(x, 4, 2, 0); err == nil || !strings.Contains(err.Error(), "whole number of sequences") {
		t.Errorf("6 rows in sequences of 4: %v", err)
	}
}

// TestExp32: the float32 softmax's exponential is within 2 ulp of e^x on
// [−86, 0] (sampled every 1e-3 and at the ends), exactly 1 at 0, and 0
// below −86.
func TestExp32(t *testing.T) {
	worst := 0.0
	for i := 0; i <= 86000; i++ {
		x := float32(-float64(i) * 1e-3)
		want := math.Exp(float64(x))
		ulp := float64(math.Nextafter32(float32(want), 2) - float32(want))
		worst = math.Max(worst, math.Abs(float64(exp32(x))-want)/ulp)
	}
	if !(worst <= 2) {
		t.Errorf("exp32 is off by %.2f ulp", worst)
	}
	t.Logf("exp32: largest error %.2f ulp", worst)
	if exp32(0) != 1 || exp32(-86.5) != 0 || exp32(float32(math.Inf(-1))) != 0 {
		t.Errorf("exp32(0) = %v, exp32(−86.5) = %v, exp32(−∞) = %v", exp32(0), exp32(-86.5), exp32(float32(math.Inf(-1))))
	}
}
