package attention

import (
	"fmt"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/internal/layertest"
	"github.com/implicit-ml/implicit/layers"
)

// blockForms are the block variants under test: pre-norm and Huginn's
// sandwich, plain and gated MLPs, both nonlinearities.
var blockForms = []BlockConfig{
	{Dim: tsD, Heads: tsH, SeqLen: tsT, Hidden: tsF},
	{Dim: tsD, Heads: tsH, SeqLen: tsT, Hidden: tsF, Act: GELU, NoRoPE: true},
	{Dim: tsD, Heads: tsH, SeqLen: tsT, Hidden: tsF, Gated: true, Sandwich: true},
}

// TestBlockGradients: every parameter of a block (and its input) against
// central differences.
func TestBlockGradients(t *testing.T) {
	for _, cfg := range blockForms {
		t.Run(fmt.Sprintf("%v/gated=%v/sandwich=%v/rope=%v", cfg.Act, cfg.Gated, cfg.Sandwich, !cfg.NoRoPE), func(t *testing.T) {
			layertest.CheckGrads(t, gradTol, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
				rng := rand.New(rand.NewPCG(41, 41))
				s := layers.NewScope(g, tensor.Float64, rng)
				b := NewBlock(s, "block", cfg)
				randomize(rng, 0.3, b.Params()...)
				x := layertest.Input(g, tensor.Float64, rng, "x", tsB*tsT, tsD)
				y, err := b.Fwd(x)
				if err != nil {
					return nil, nil, err
				}
				loss, err := mseTo(g, rng, y)
				return loss, append(G.Nodes{x}, b.Params()...), err
			})
		})
	}
}

// lispModel is ids → Embedding → PositionEmbedding → sandwich Block →
// RMSNorm → head → cross-entropy: every op of this package once.
func lispModel(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
	rng := rand.New(rand.NewPCG(42, 42))
	s := layers.NewScope(g, tensor.Float64, rng)
	model := layers.Sequential{
		NewEmbedding(s, "emb", tsV, tsD),
		NewPositionEmbedding(s, "pos", tsT, tsD),
		NewBlock(s, "block", BlockConfig{Dim: tsD, Heads: tsH, SeqLen: tsT, Hidden: tsF, Gated: true, Sandwich: true}),
		NewRMSNorm(s, "norm", tsD, 0),
		s.Dense("head", tsD, tsV, layers.Identity),
	}
	randomize(rng, 0.3, model.Params()...)
	logits, err := model.Fwd(idsNode(g, tensor.Float64, rng, tsB, tsT, tsV))
	if err != nil {
		return nil, nil, err
	}
	loss, err := layers.SoftmaxCrossEntropy(logits, layertest.OneHot(g, tensor.Float64, rng, tsB*tsT, tsV))
	return loss, model.Params(), err
}

// TestLispMachine: the ops' DoDiff give the LispMachine the gradients
// SymDiff gives the TapeMachine (an op without DoDiff would give zeros
// there, silently).
func TestLispMachine(t *testing.T) {
	layertest.CheckLispMachine(t, 1e-12, lispModel)
}

// TestBlockConfigErrors: a bad block configuration is an error of the
// scope and of Fwd.
func TestBlockConfigErrors(t *testing.T) {
	for _, cfg := range []BlockConfig{
		{Dim: 8, Heads: 3, SeqLen: 4},
		{Dim: 8, SeqLen: 4, Eps: -1},
		{Dim: 8, SeqLen: 0},
		{Dim: 8, SeqLen: 4, Act: Nonlinearity(9)},
	} {
		g := G.NewGraph()
		s := layers.NewScope(g, tensor.Float64, rand.New(rand.NewPCG(43, 43)))
		b := NewBlock(s, "block", cfg)
		if s.Err() == nil {
			t.Errorf("%+v: no error", cfg)
		}
		if _, err := b.Fwd(layertest.Input(g, tensor.Float64, rand.New(rand.NewPCG(43, 43)), "x", 8, 8)); err == nil {
			t.Errorf("%+v: Fwd of a failed block returned no error", cfg)
		}
	}
}

// blockStep is one compiled pass of a block and an MSE loss on
// (B·T, D) inputs, with or without the backward pass.
type blockStep struct {
	vm G.VM
}

func newBlockStep(tb testing.TB, dt tensor.Dtype, cfg BlockConfig, batch int, backward bool) *blockStep {
	tb.Helper()
	g := G.NewGraph()
	rng := rand.New(rand.NewPCG(44, 44))
	s := layers.NewScope(g, dt, rng)
	b := NewBlock(s, "block", cfg)
	x := layertest.Input(g, dt, rng, "x", batch*cfg.SeqLen, cfg.Dim)
	y, err := b.Fwd(x)
	if err != nil {
		tb.Fatal(err)
	}
	loss, err := mseTo(g, rng, y)
	if err != nil {
		tb.Fatal(err)
	}
	var opts []G.VMOpt
	if backward {
		if _, err := G.Grad(loss, b.Params()...); err != nil {
			tb.Fatal(err)
		}
		opts = append(opts, G.BindDualValues(b.Params()...))
	}
	prog, locs, err := G.Compile(g)
	if err != nil {
		tb.Fatal(err)
	}
	return &blockStep{vm: G.NewTapeMachine(g, append(opts, G.WithPrecompiled(prog, locs))...)}
}

func (s *blockStep) run(tb testing.TB) {
	if err := s.vm.RunAll(); err != nil {
		tb.Fatal(err)
	}
	s.vm.Reset()
}

// BenchmarkBlock: one block at the reasoning workload's largest sizes —
// B = 32 sequences of T = 32 tokens, D = 64, H = 4 heads, hidden 256 —
// forward only and forward+backward (parameter gradients), in float32.
func BenchmarkBlock(b *testing.B) {
	for _, c := range []struct {
		name string
		cfg  BlockConfig
		dt   tensor.Dtype
	}{
		{"prenorm/float32", BlockConfig{Dim: 64, Heads: 4, SeqLen: 32}, tensor.Float32},
		{"sandwich-gated/float32", BlockConfig{Dim: 64, Heads: 4, SeqLen: 32, Gated: true, Sandwich: true}, tensor.Float32},
		{"prenorm/float64", BlockConfig{Dim: 64, Heads: 4, SeqLen: 32}, tensor.Float64},
	} {
		for _, backward := range []bool{false, true} {
			pass := "forward"
			if backward {
				pass = "forward+backward"
			}
			b.Run(c.name+"/"+pass, func(b *testing.B) {
				st := newBlockStep(b, c.dt, c.cfg, 32, backward)
				st.run(b)
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					st.run(b)
				}
			})
		}
	}
}

// BenchmarkAttentionCore: the attention op alone at the same sizes, its
// forward and its backward kernel.
func BenchmarkAttentionCore(b *testing.B) {
	const batch, n, h, dh = 32, 32, 4, 16
	rng := rand.New(rand.NewPCG(45, 45))
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		op := newAttnOp(attnGeom{b: batch, t: n, h: h, dh: dh, base: DefaultRoPEBase}, dt)
		qkv := layertestTensor(dt, rng, batch*n, 3*h*dh)
		dout := layertestTensor(dt, rng, batch*n, h*dh)
		b.Run(fmt.Sprintf("%v/forward", dt), func(b *testing.B) {
			for range b.N {
				if _, err := op.Do(qkv); err != nil {
					b.Fatal(err)
				}
			}
		})
		grad := op.grad()
		b.Run(fmt.Sprintf("%v/backward", dt), func(b *testing.B) {
			for range b.N {
				if _, err := grad.Do(qkv, dout); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func layertestTensor(dt tensor.Dtype, rng *rand.Rand, rows, cols int) G.Value {
	return layertest.Input(G.NewGraph(), dt, rng, "v", rows, cols).Value()
}
