package attention

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/implicit-ml/implicit/layers"
)

// BlockConfig is the static shape of a transformer block.
type BlockConfig struct {
	// Dim (D) and SeqLen (T) are required; Heads zero means 1.
	Dim, Heads, SeqLen int
	// Hidden is the MLP's hidden width; zero means 4·Dim.
	Hidden int
	// Act is the MLP's nonlinearity (zero value SiLU); Gated makes the
	// MLP a gated linear unit (Huginn's).
	Act   Nonlinearity
	Gated bool
	// RoPEBase (zero: DefaultRoPEBase) and NoRoPE set the rotary
	// encoding, as in AttentionConfig.
	RoPEBase float64
	NoRoPE   bool
	// Eps is the RMSNorms' ε; zero means DefaultEps.
	Eps float64
	// Sandwich selects Huginn's sandwich normalisation, a norm after
	// each residual sum as well as before each sublayer; false is the
	// pre-norm block. See Block.
	Sandwich bool
}

// Attention returns the configuration of the block's attention.
func (c BlockConfig) Attention() AttentionConfig {
	return AttentionConfig{Dim: c.Dim, Heads: c.Heads, SeqLen: c.SeqLen, RoPEBase: c.RoPEBase, NoRoPE: c.NoRoPE}
}

// MLP returns the configuration of the block's MLP.
func (c BlockConfig) MLP() MLPConfig {
	return MLPConfig{Dim: c.Dim, Hidden: c.Hidden, Act: c.Act, Gated: c.Gated}
}

// Block is a transformer block on (B·T, D) token rows. Pre-norm (the
// default):
//
//	h = x + Attn(N1(x)),        y = h + MLP(N3(h))
//
// and with Sandwich (Huginn's SandwichBlock, a norm after each residual
// sum too, which keeps the state's scale fixed however often a
// weight-tied block is iterated):
//
//	h = N2(x + Attn(N1(x))),    y = N4(h + MLP(N3(h)))
//
// The N are RMSNorms with their own gains; the residual sums happen
// inside the sublayers' output products. Shapes: x and y are (B·T, D),
// tokens batch-major (row b·T + t).
type Block struct {
	Norm1, Norm2, Norm3, Norm4 *RMSNorm // Norm2 and Norm4 are nil without Sandwich
	Attn                       *Attention
	MLP                        *MLP
	// Config is the configuration the block was built with.
	Config BlockConfig
	err    error
}

var _ layers.Layer = (*Block)(nil)

// NewBlock creates a block with parameters name.n1.gain, name.attn.Wqkv,
// name.attn.Wo, name.n3.gain, name.mlp.W1 (name.mlp.Wg), name.mlp.W2 and,
// with Sandwich, name.n2.gain and name.n4.gain.
func NewBlock(s *layers.Scope, name string, cfg BlockConfig) *Block {
	b := &Block{Config: cfg}
	b.Norm1 = NewRMSNorm(s, name+".n1", cfg.Dim, cfg.Eps)
	b.Attn = NewAttention(s, name+".attn", cfg.Attention())
	if cfg.Sandwich {
		b.Norm2 = NewRMSNorm(s, name+".n2", cfg.Dim, cfg.Eps)
	}
	b.Norm3 = NewRMSNorm(s, name+".n3", cfg.Dim, cfg.Eps)
	b.MLP = NewMLP(s, name+".mlp", cfg.MLP())
	if cfg.Sandwich {
		b.Norm4 = NewRMSNorm(s, name+".n4", cfg.Dim, cfg.Eps)
	}
	if err := s.Err(); err != nil {
		b.err = fmt.Errorf("attention: block %q: %w", name, err)
	}
	return b
}

// Fwd implements layers.Layer.
func (b *Block) Fwd(x *G.Node) (*G.Node, error) {
	if b.err != nil {
		return nil, b.err
	}
	n, err := b.Norm1.Fwd(x)
	if err != nil {
		return nil, err
	}
	h, err := b.Attn.Apply(n, x)
	if err != nil {
		return nil, err
	}
	if b.Norm2 != nil {
		if h, err = b.Norm2.Fwd(h); err != nil {
			return nil, err
		}
	}
	if n, err = b.Norm3.Fwd(h); err != nil {
		return nil, err
	}
	y, err := b.MLP.Apply(n, h)
	if err != nil || b.Norm4 == nil {
		return y, err
	}
	return b.Norm4.Fwd(y)
}

// Params implements layers.Layer, in the order n1, attn, n2, n3, mlp, n4.
func (b *Block) Params() G.Nodes {
	if b.err != nil {
		return nil
	}
	var ps G.Nodes
	for _, l := range b.parts() {
		ps = append(ps, l.Params()...)
	}
	return ps
}

func (b *Block) parts() []layers.Layer {
	ls := []layers.Layer{b.Norm1, b.Attn}
	if b.Norm2 != nil {
		ls = append(ls, b.Norm2)
	}
	ls = append(ls, b.Norm3, b.MLP)
	if b.Norm4 != nil {
		ls = append(ls, b.Norm4)
	}
	return ls
}

// with returns the block with its parameters replaced by the first of p
// (in Params' order), and how many it took: the same block built on a
// builder cell's stand-in nodes.
func (b *Block) with(p G.Nodes) (*Block, int) {
	c := *b
	used, k := 0, 0
	c.Norm1, k = b.Norm1.with(p[used:])
	used += k
	c.Attn, k = b.Attn.with(p[used:])
	used += k
	if b.Norm2 != nil {
		c.Norm2, k = b.Norm2.with(p[used:])
		used += k
	}
	c.Norm3, k = b.Norm3.with(p[used:])
	used += k
	c.MLP, k = b.MLP.with(p[used:])
	used += k
	if b.Norm4 != nil {
		c.Norm4, k = b.Norm4.with(p[used:])
		used += k
	}
	return &c, used
}
