package attention

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/layers"
)

// MLPConfig is the static shape of an MLP block.
type MLPConfig struct {
	// Dim is the token width D (required).
	Dim int
	// Hidden is the hidden width; zero means 4·Dim.
	Hidden int
	// Act is the nonlinearity; the zero value is SiLU.
	Act Nonlinearity
	// Gated makes the hidden layer φ(x·W1) ⊙ (x·Wg), the gated linear
	// unit of Huginn's MLP (SwiGLU with SiLU); false means φ(x·W1).
	Gated bool
}

func (c MLPConfig) resolved() (MLPConfig, error) {
	if c.Hidden == 0 {
		c.Hidden = 4 * c.Dim
	}
	if c.Dim < 1 || c.Hidden < 1 {
		return c, fmt.Errorf("attention: MLP needs positive Dim and Hidden, got %d and %d", c.Dim, c.Hidden)
	}
	return c, c.Act.check()
}

// MLP is the position-wise feed-forward block D → Hidden → D:
//
//	y = φ(x·W1)·W2 (+ residual), or y = (φ(x·W1) ⊙ x·Wg)·W2 when gated.
//
// Shapes: x and y are (N, D) (N = B·T tokens), W1 and Wg are (D, Hidden),
// W2 is (Hidden, D). No biases (as Huginn). The products are
// layers.Affine ops; φ (and the gate) is one op that differentiates from
// the pre-activation.
type MLP struct {
	W1, Wg, W2 *G.Node // Wg is nil without Gated
	// Config is the resolved configuration.
	Config MLPConfig
	err    error
}

var _ layers.Layer = (*MLP)(nil)

// NewMLP creates an MLP block with parameters name.W1, name.Wg (gated
// only) and name.W2, initialised from N(0, 2/(5·fan-in)) (Huginn's scale).
func NewMLP(s *layers.Scope, name string, cfg MLPConfig) *MLP {
	m := &MLP{}
	var err error
	if m.Config, err = cfg.resolved(); err != nil {
		m.err = s.Fail(fmt.Errorf("attention: MLP %q: %w", name, err))
		return m
	}
	d, h := m.Config.Dim, m.Config.Hidden
	m.W1 = s.Param(name+".W1", tensor.Shape{d, h}, smallInit(d))
	if m.Config.Gated {
		m.Wg = s.Param(name+".Wg", tensor.Shape{d, h}, smallInit(d))
	}
	m.W2 = s.Param(name+".W2", tensor.Shape{h, d}, smallInit(h))
	m.err = s.Err()
	return m
}

// Fwd implements layers.Layer.
func (m *MLP) Fwd(x *G.Node) (*G.Node, error) { return m.Apply(x, nil) }

// Apply builds the block and adds residual (N, D) to its output inside
// the last product; residual may be nil.
func (m *MLP) Apply(x, residual *G.Node) (*G.Node, error) {
	if m.err != nil {
		return nil, m.err
	}
	if s := x.Shape(); len(s) != 2 || s[1] != m.Config.Dim {
		return nil, fmt.Errorf("attention: MLP(D=%d) needs x of shape (N, %d), got %v", m.Config.Dim, m.Config.Dim, s)
	}
	a, err := layers.Affine(x, m.W1, nil, nil, layers.Identity)
	if err != nil {
		return nil, err
	}
	var h *G.Node
	if m.Config.Gated {
		gate, err := layers.Affine(x, m.Wg, nil, nil, layers.Identity)
		if err != nil {
			return nil, err
		}
		h, err = m.Config.Act.Gated(a, gate)
		if err != nil {
			return nil, err
		}
	} else if h, err = m.Config.Act.Apply(a); err != nil {
		return nil, err
	}
	return layers.Affine(h, m.W2, residual, nil, layers.Identity)
}

// Params implements layers.Layer: W1, Wg (gated only), W2.
func (m *MLP) Params() G.Nodes {
	switch {
	case m.err != nil:
		return nil
	case m.Config.Gated:
		return G.Nodes{m.W1, m.Wg, m.W2}
	}
	return G.Nodes{m.W1, m.W2}
}

// with returns the block with its parameters replaced by the first of p
// (in Params' order), and how many it took.
func (m *MLP) with(p G.Nodes) (*MLP, int) {
	c := *m
	if c.Config.Gated {
		c.W1, c.Wg, c.W2 = p[0], p[1], p[2]
		return &c, 3
	}
	c.W1, c.W2 = p[0], p[1]
	return &c, 2
}
