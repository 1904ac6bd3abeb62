package attention

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/implicit-ml/implicit/layers"
)

// TransformerConfig is the static configuration of an untied
// transformer.
type TransformerConfig struct {
	// Vocab is the number of token ids (required).
	Vocab int
	// Depth is the number of blocks (zero: none, embedding to logits).
	Depth int
	// Block configures every block (Dim and SeqLen required).
	Block BlockConfig
	// Positions adds a learned PositionEmbedding, as in
	// RecurrentConfig.
	Positions bool
}

// Transformer is the standard (untied) decoder-only transformer, the
// baseline of a recurrent-depth model: ids (B, T) → Embed (+ positions) →
// Depth blocks, each with its own parameters → RMSNorm → Head → logits
// (B·T, Vocab). With Depth = Prelude + Core.Layers + Coda it has the
// recurrent-depth model's parameters less the core's adapter; with
// Depth = Prelude + r·Core.Layers + Coda it costs what r iterations of
// the recurrent model cost.
type Transformer struct {
	Embed  *Embedding
	Pos    *PositionEmbedding // nil without Positions
	Blocks []*Block
	Norm   *RMSNorm
	Head   *layers.Dense
	err    error
}

var _ layers.Layer = (*Transformer)(nil)

// NewTransformer creates a transformer with parameters name.embed.W,
// name.pos.P (with Positions), name.block0…, name.norm.gain and
// name.head.W (no bias).
func NewTransformer(s *layers.Scope, name string, cfg TransformerConfig) *Transformer {
	m := &Transformer{}
	if cfg.Vocab < 1 || cfg.Depth < 0 {
		m.err = s.Fail(fmt.Errorf("attention: Transformer %q needs Vocab ≥ 1 and Depth ≥ 0, got %d and %d", name, cfg.Vocab, cfg.Depth))
		return m
	}
	d := cfg.Block.Dim
	m.Embed = NewEmbedding(s, name+".embed", cfg.Vocab, d)
	if cfg.Positions {
		m.Pos = NewPositionEmbedding(s, name+".pos", cfg.Block.SeqLen, d)
	}
	m.Blocks = blocks(s, name+".block", cfg.Depth, cfg.Block)
	m.Norm = NewRMSNorm(s, name+".norm", d, cfg.Block.Eps)
	m.Head = s.Dense(name+".head", d, cfg.Vocab, layers.Identity, layers.NoBias())
	if err := s.Err(); err != nil {
		m.err = fmt.Errorf("attention: Transformer %q: %w", name, err)
	}
	return m
}

// Fwd implements layers.Layer: ids (B, T) → logits (B·T, Vocab).
func (m *Transformer) Fwd(ids *G.Node) (*G.Node, error) {
	if m.err != nil {
		return nil, m.err
	}
	x, err := embed(ids, m.Embed, m.Pos)
	if err != nil {
		return nil, err
	}
	return head(x, m.Blocks, m.Norm, m.Head)
}

// Params implements layers.Layer: the embedding (and position table),
// the blocks, the norm and the head, in that order.
func (m *Transformer) Params() G.Nodes {
	if m.err != nil {
		return nil
	}
	ps := m.Embed.Params()
	if m.Pos != nil {
		ps = append(ps, m.Pos.Params()...)
	}
	for _, b := range m.Blocks {
		ps = append(ps, b.Params()...)
	}
	return append(append(ps, m.Norm.Params()...), m.Head.Params()...)
}
