package attention

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
)

// RecurrentConfig is the static configuration of a recurrent-depth
// transformer. Huginn's is Prelude 2, Core.Layers 4, Coda 2, sandwich
// blocks with gated SiLU MLPs, Backprop 8.
type RecurrentConfig struct {
	// Vocab is the number of token ids (required).
	Vocab int
	// Core configures the weight-tied core; its Block (Dim and SeqLen
	// required) is every block's configuration, the prelude's and the
	// coda's too.
	Core CoreConfig
	// Prelude and Coda are the numbers of explicit blocks before and
	// after the core (zero: none).
	Prelude, Coda int
	// Positions adds a learned PositionEmbedding to the token embedding
	// (absolute positions, next to the attention's rotary relative ones:
	// a task whose tokens' roles follow from where they stand needs
	// them).
	Positions bool
	// Backprop is k, the number of core iterations a training graph
	// differentiates through (truncated backpropagation: the iterations
	// before the last k are run without gradients); zero means 1. The
	// graph holds k−1 applications of the core after the implicit layer,
	// so it always runs at least k iterations (see Iterations).
	Backprop int
	// Solver and Stop are the implicit layer's, used when the core is
	// solved to its fixed point (Controls.Iterations zero); nil and zero
	// mean layers.ImplicitConfig's defaults (Anderson, 1e-4, 50
	// iterations).
	Solver deq.Solver
	Stop   deq.Stop
}

// RecurrentDepth is a recurrent-depth transformer (Huginn, Geiping et al.
// 2025) on token ids (B, T):
//
//	e = Prelude(Embed(ids)),  z_t = Core(z_{t−1}, e) for t = 1 … r from z₀ = 0,
//	logits = Head(Norm(Coda(z_r)))
//
// with the prelude's output e injected into every iteration (CoreCell:
// the adapter [z, e]·A, then the core's blocks). The core is an implicit
// layer of package layers: Controls.Iterations = n runs it exactly n
// times (n−1 inside the op, the last in the graph), zero solves it for its
// fixed point with the configured solver. Its gradient mode is JFB, which
// treats the iterate entering the in-graph application as a constant:
// with the Backprop−1 applications that follow it in the graph, the
// gradient is exactly backpropagation through the last Backprop
// iterations, the earlier ones cut off — Huginn's truncated
// backpropagation.
//
// Shapes: ids (B, T) in the model's dtype; the logits are (B·T, Vocab),
// row b·T + t predicting the token after token t of sequence b.
type RecurrentDepth struct {
	Embed         *Embedding
	Pos           *PositionEmbedding // nil without Positions
	Prelude, Coda []*Block
	Core          *CoreCell
	// Layer is the implicit layer around Core.
	Layer *layers.Implicit
	Norm  *RMSNorm
	Head  *layers.Dense
	// Config is the configuration it was built with.
	Config RecurrentConfig
	err    error
}

var _ layers.Layer = (*RecurrentDepth)(nil)

// NewRecurrentDepth creates the model, its parameters named name.embed.W,
// name.pos.P (with Positions), name.prelude0…, name.core.adapter.z, name.core.adapter.e,
// name.core.block0…, name.coda0…, name.norm.gain and name.head.W (no
// bias), and its implicit layer name.core.
func NewRecurrentDepth(s *layers.Scope, name string, cfg RecurrentConfig) *RecurrentDepth {
	m := &RecurrentDepth{Config: cfg}
	if cfg.Backprop == 0 {
		m.Config.Backprop = 1
	}
	if cfg.Vocab < 1 || cfg.Prelude < 0 || cfg.Coda < 0 || m.Config.Backprop < 1 {
		m.err = s.Fail(fmt.Errorf("attention: RecurrentDepth %q needs Vocab ≥ 1 and Prelude, Coda ≥ 0, Backprop ≥ 1, got %d, %d, %d and %d", name, cfg.Vocab, cfg.Prelude, cfg.Coda, cfg.Backprop))
		return m
	}
	blk, d := cfg.Core.Block, cfg.Core.Block.Dim
	m.Embed = NewEmbedding(s, name+".embed", cfg.Vocab, d)
	if cfg.Positions {
		m.Pos = NewPositionEmbedding(s, name+".pos", blk.SeqLen, d)
	}
	m.Prelude = blocks(s, name+".prelude", cfg.Prelude, blk)
	m.Core = NewCoreCell(s, name+".core", cfg.Core)
	m.Layer = s.Implicit(name+".core", m.Core, layers.ImplicitConfig{Forward: cfg.Solver, Stop: cfg.Stop, Backward: deq.JFB{}})
	m.Coda = blocks(s, name+".coda", cfg.Coda, blk)
	m.Norm = NewRMSNorm(s, name+".norm", d, blk.Eps)
	m.Head = s.Dense(name+".head", d, cfg.Vocab, layers.Identity, layers.NoBias())
	if err := s.Err(); err != nil {
		m.err = fmt.Errorf("attention: RecurrentDepth %q: %w", name, err)
	}
	return m
}

// blocks creates n blocks named prefix0, prefix1, ….
func blocks(s *layers.Scope, prefix string, n int, cfg BlockConfig) []*Block {
	var bs []*Block
	for i := range n {
		bs = append(bs, NewBlock(s, fmt.Sprint(prefix, i), cfg))
	}
	return bs
}

// Iterations returns the implicit layer's Controls.Iterations that make
// a graph of this model run the core r times in all, or an error when r
// is below Backprop (the graph's in-graph applications).
func (m *RecurrentDepth) Iterations(r int) (int, error) {
	if m.err != nil {
		return 0, m.err
	}
	k := m.Config.Backprop
	if r < k {
		return 0, fmt.Errorf("attention: a graph that backpropagates through %d core iterations runs at least %d, not %d", k, k, r)
	}
	return r - k + 1, nil
}

// SetRecurrence makes the following runs of this graph iterate the core
// exactly r times (see Iterations); r = 0 solves for the fixed point
// (followed by the Backprop−1 in-graph applications).
func (m *RecurrentDepth) SetRecurrence(r int) error {
	n := 0
	if r != 0 {
		var err error
		if n, err = m.Iterations(r); err != nil {
			return err
		}
	}
	c := m.Layer.Controls()
	c.Iterations = n
	m.Layer.SetControls(c)
	return nil
}

// Fwd implements layers.Layer: ids (B, T) → logits (B·T, Vocab).
func (m *RecurrentDepth) Fwd(ids *G.Node) (*G.Node, error) {
	if m.err != nil {
		return nil, m.err
	}
	x, err := embed(ids, m.Embed, m.Pos)
	if err != nil {
		return nil, err
	}
	if x, err = forward(x, m.Prelude); err != nil {
		return nil, err
	}
	e, err := ToState(x, m.Core.SeqLen)
	if err != nil {
		return nil, err
	}
	z, err := m.Layer.Fwd(e)
	for i := 1; i < m.Config.Backprop && err == nil; i++ {
		z, err = m.Core.Apply(z, G.Nodes{e})
	}
	if err != nil {
		return nil, err
	}
	h, err := ToTokens(z, m.Core.Dim)
	if err != nil {
		return nil, err
	}
	return head(h, m.Coda, m.Norm, m.Head)
}

// embed looks the ids up and adds the position table (pos may be nil).
func embed(ids *G.Node, e *Embedding, pos *PositionEmbedding) (*G.Node, error) {
	x, err := e.Fwd(ids)
	if err != nil || pos == nil {
		return x, err
	}
	return pos.Fwd(x)
}

// forward applies blocks in order.
func forward(x *G.Node, bs []*Block) (*G.Node, error) {
	for _, b := range bs {
		var err error
		if x, err = b.Fwd(x); err != nil {
			return nil, err
		}
	}
	return x, nil
}

// head applies the coda's blocks, the final norm and the output map.
func head(h *G.Node, coda []*Block, norm *RMSNorm, out *layers.Dense) (*G.Node, error) {
	h, err := forward(h, coda)
	if err != nil {
		return nil, err
	}
	if h, err = norm.Fwd(h); err != nil {
		return nil, err
	}
	return out.Fwd(h)
}

// Params implements layers.Layer: the embedding (and position table),
// the prelude, the core, the coda, the norm and the head, in that order.
func (m *RecurrentDepth) Params() G.Nodes {
	if m.err != nil {
		return nil
	}
	ps := m.Embed.Params()
	if m.Pos != nil {
		ps = append(ps, m.Pos.Params()...)
	}
	for _, b := range m.Prelude {
		ps = append(ps, b.Params()...)
	}
	ps = append(ps, m.Core.Params()...)
	for _, b := range m.Coda {
		ps = append(ps, b.Params()...)
	}
	return append(append(ps, m.Norm.Params()...), m.Head.Params()...)
}
