package attention

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/layers"
)

// AttentionConfig is the static shape of a causal self-attention layer.
type AttentionConfig struct {
	// Dim is the token width D (required).
	Dim int
	// Heads is the number of heads H; D must be a multiple of H. Zero
	// means 1.
	Heads int
	// SeqLen is the sequence length T (required): the layer's input rows
	// are whole sequences of T tokens.
	SeqLen int
	// RoPEBase is the base of the rotary angles; zero means
	// DefaultRoPEBase (10000). The head width D/H must be even.
	RoPEBase float64
	// NoRoPE turns the rotary encoding off (use a PositionEmbedding, or
	// none: a causal model can still tell positions apart by counting).
	NoRoPE bool
}

// resolved fills in the defaults and checks the shapes.
func (c AttentionConfig) resolved() (AttentionConfig, error) {
	if c.Heads == 0 {
		c.Heads = 1
	}
	if c.RoPEBase == 0 {
		c.RoPEBase = DefaultRoPEBase
	}
	switch {
	case c.Dim < 1 || c.SeqLen < 1 || c.Heads < 1:
		return c, fmt.Errorf("attention: needs positive Dim, SeqLen and Heads, got %d, %d and %d", c.Dim, c.SeqLen, c.Heads)
	case c.Dim%c.Heads != 0:
		return c, fmt.Errorf("attention: Dim %d is not a multiple of Heads %d", c.Dim, c.Heads)
	}
	if c.NoRoPE {
		return c, nil
	}
	return c, checkRoPE(c.RoPEBase, c.Dim/c.Heads)
}

// rope is the base the op receives: 0 without rotation.
func (c AttentionConfig) rope() float64 {
	if c.NoRoPE {
		return 0
	}
	return c.RoPEBase
}

// HeadDim is D/H.
func (c AttentionConfig) HeadDim() int { return c.Dim / max(c.Heads, 1) }

// smallInit is Huginn's initialisation of its linear maps, N(0, 2/(5·fanIn)).
func smallInit(fanIn int) layers.Init { return Normal(math.Sqrt(2 / (5 * float64(fanIn)))) }

// Attention is multi-head causal self-attention with rotary positions:
//
//	[Q | K | V] = x·Wqkv,  o = CausalSelfAttention(Q, K, V),  y = o·Wo (+ residual)
//
// Shapes: x and y are (B·T, D), tokens batch-major (row b·T + t); Wqkv is
// (D, 3·D) — [Wq | Wk | Wv], so the three projections are one product —
// and Wo is (D, D). No biases (as Huginn). The projections are
// layers.Affine ops; the core (RoPE, scores, causal softmax, weighted sum)
// is one op with a hand-written backward (CausalSelfAttention).
type Attention struct {
	Wqkv, Wo *G.Node
	// Config is the resolved configuration.
	Config AttentionConfig
	err    error
}

var _ layers.Layer = (*Attention)(nil)

// NewAttention creates an attention layer with parameters name.Wqkv and
// name.Wo, initialised from N(0, 2/(5D)) as Huginn's.
func NewAttention(s *layers.Scope, name string, cfg AttentionConfig) *Attention {
	a := &Attention{}
	var err error
	if a.Config, err = cfg.resolved(); err != nil {
		a.err = s.Fail(fmt.Errorf("attention: layer %q: %w", name, err))
		return a
	}
	d := a.Config.Dim
	a.Wqkv = s.Param(name+".Wqkv", tensor.Shape{d, 3 * d}, smallInit(d))
	a.Wo = s.Param(name+".Wo", tensor.Shape{d, d}, smallInit(d))
	a.err = s.Err()
	return a
}

// Fwd implements layers.Layer.
func (a *Attention) Fwd(x *G.Node) (*G.Node, error) { return a.Apply(x, nil) }

// Apply builds the layer and adds residual (B·T, D) to its output inside
// the output projection; residual may be nil.
func (a *Attention) Apply(x, residual *G.Node) (*G.Node, error) {
	if a.err != nil {
		return nil, a.err
	}
	c := a.Config
	if s := x.Shape(); len(s) != 2 || s[1] != c.Dim || s[0]%c.SeqLen != 0 {
		return nil, fmt.Errorf("attention: Attention(T=%d, D=%d) needs x of shape (B·%d, %d), got %v", c.SeqLen, c.Dim, c.SeqLen, c.Dim, s)
	}
	qkv, err := layers.Affine(x, a.Wqkv, nil, nil, layers.Identity)
	if err != nil {
		return nil, err
	}
	o, err := CausalSelfAttention(qkv, c.SeqLen, c.Heads, c.rope())
	if err != nil {
		return nil, err
	}
	return layers.Affine(o, a.Wo, residual, nil, layers.Identity)
}

// Params implements layers.Layer: Wqkv, Wo.
func (a *Attention) Params() G.Nodes {
	if a.err != nil {
		return nil
	}
	return G.Nodes{a.Wqkv, a.Wo}
}

// with returns the layer with its parameters replaced by the first of p
// (in Params' order), and how many it took.
func (a *Attention) with(p G.Nodes) (*Attention, int) {
	c := *a
	c.Wqkv, c.Wo = p[0], p[1]
	return &c, 2
}
