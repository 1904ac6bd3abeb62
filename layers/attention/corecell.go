package attention

import (
	"fmt"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
)

// CoreConfig is the static configuration of a recurrent core.
type CoreConfig struct {
	// Block is the configuration of the core's blocks (Dim and SeqLen
	// required). Huginn's core uses Sandwich and Gated.
	Block BlockConfig
	// Layers is the number of blocks applied in sequence in one
	// iteration; zero means 1.
	Layers int
	// StateGain, when positive, rescales the adapter's state block Wz at
	// initialisation to spectral norm StateGain, which with a moderate
	// block Jacobian makes a fresh cell contractive in z (for
	// fixed-point solves); zero keeps Huginn's initialisation, under
	// which the core is iterated a fixed number of times, not solved.
	StateGain float64
}

// CoreCell is the weight-tied core of a recurrent-depth transformer
// (Huginn, Geiping et al. 2025) as a layers.Cell: one iteration is
//
//	u = [z, e]·A = z·Wz + e·We,   z' = Block_L(… Block_1(u))
//
// with e the prelude's output injected at every step, A = [Wz; We] the
// adapter (2D → D on the concatenation, kept as its two D×D blocks so
// that no concatenation is built) and the blocks' parameters tied across
// iterations.
//
// Shapes: the state z, the injection e and the output are (B, T·D) —
// one row per sequence, token t's features at t·D … (t+1)·D−1 — because
// the solvers treat rows as independent problems and attention mixes the
// tokens of a sequence; Apply reshapes them to (B·T, D) token rows
// inside. ToState and ToTokens convert between the two layouts.
//
// Its kernels are layers.NewCell's: private graphs of the same ops,
// compiled once per shape (see BenchmarkCoreCellKernel for their cost).
type CoreCell struct {
	Wz, We *G.Node
	Blocks []*Block
	// SeqLen and Dim are T and D.
	SeqLen, Dim int
	cell        *layers.FuncCell
	err         error
}

var _ layers.Cell = (*CoreCell)(nil)

// NewCoreCell creates a core with parameters name.adapter.z (Wz),
// name.adapter.e (We), initialised from N(0, 2/(5D)) (Huginn's adapter),
// and the blocks' parameters under name.block0, name.block1, ….
func NewCoreCell(s *layers.Scope, name string, cfg CoreConfig) *CoreCell {
	c := &CoreCell{SeqLen: cfg.Block.SeqLen, Dim: cfg.Block.Dim}
	layersN := cfg.Layers
	if layersN == 0 {
		layersN = 1
	}
	switch {
	case layersN < 0 || cfg.StateGain < 0:
		c.err = s.Fail(fmt.Errorf("attention: CoreCell %q needs Layers ≥ 0 and StateGain ≥ 0, got %d and %v", name, cfg.Layers, cfg.StateGain))
		return c
	case c.Dim < 1 || c.SeqLen < 1:
		c.err = s.Fail(fmt.Errorf("attention: CoreCell %q needs positive Block.Dim and Block.SeqLen, got %d and %d", name, c.Dim, c.SeqLen))
		return c
	}
	d := c.Dim
	c.Wz = s.Param(name+".adapter.z", tensor.Shape{d, d}, smallInit(d))
	c.We = s.Param(name+".adapter.e", tensor.Shape{d, d}, smallInit(d))
	for i := range layersN {
		c.Blocks = append(c.Blocks, NewBlock(s, fmt.Sprintf("%s.block%d", name, i), cfg.Block))
	}
	if c.err = s.Err(); c.err != nil {
		return c
	}
	if cfg.StateGain > 0 && s.Created(name+".adapter.z") { // rescale at initialisation only, never a trained Wz
		if c.err = scaleSpectralNorm(c.Wz, cfg.StateGain, s.Rand()); c.err != nil {
			s.Fail(c.err)
			return c
		}
	}
	c.cell = layers.NewCell(c.build, c.params()...)
	return c
}

// scaleSpectralNorm scales the matrix parameter w in place to spectral
// norm target.
func scaleSpectralNorm(w *G.Node, target float64, rng *rand.Rand) error {
	s := w.Shape()
	switch d := w.Value().Data().(type) {
	case []float64:
		n, err := deq.SpectralNorm(d, s[0], s[1], 200, rng)
		if err != nil {
			return err
		}
		for i := range d {
			d[i] *= target / n
		}
	case []float32:
		n, err := deq.SpectralNorm(d, s[0], s[1], 200, rng)
		if err != nil {
			return err
		}
		for i := range d {
			d[i] *= float32(target / n)
		}
	default:
		return fmt.Errorf("attention: parameter %s holds %T", w.Name(), d)
	}
	return nil
}

func (c *CoreCell) params() G.Nodes {
	ps := G.Nodes{c.Wz, c.We}
	for _, b := range c.Blocks {
		ps = append(ps, b.Params()...)
	}
	return ps
}

// build is the cell's Builder: it uses only its arguments, so the
// framework can build it again on its private graphs' stand-in nodes.
func (c *CoreCell) build(z, e *G.Node, p G.Nodes) (*G.Node, error) {
	s := z.Shape()
	zr, err := G.Reshape(z, tensor.Shape{s[0] * c.SeqLen, c.Dim})
	if err != nil {
		return nil, err
	}
	er, err := G.Reshape(e, tensor.Shape{s[0] * c.SeqLen, c.Dim})
	if err != nil {
		return nil, err
	}
	inj, err := layers.MatMul(er, p[1], false, false)
	if err != nil {
		return nil, err
	}
	u, err := layers.Affine(zr, p[0], inj, nil, layers.Identity)
	if err != nil {
		return nil, err
	}
	p = p[2:]
	for _, b := range c.Blocks {
		blk, used := b.with(p)
		if u, err = blk.Fwd(u); err != nil {
			return nil, err
		}
		p = p[used:]
	}
	return G.Reshape(u, s.Clone())
}

// Params implements layers.Cell: Wz, We, then each block's parameters.
func (c *CoreCell) Params() G.Nodes {
	if c.err != nil {
		return nil
	}
	return c.cell.Params()
}

// StateShape implements layers.Cell: the injection's shape, (B, T·D).
func (c *CoreCell) StateShape(inj []tensor.Shape) (tensor.Shape, error) {
	if c.err != nil {
		return nil, c.err
	}
	if len(inj) != 1 || len(inj[0]) != 2 || inj[0][1] != c.SeqLen*c.Dim {
		return nil, fmt.Errorf("attention: CoreCell(T=%d, D=%d) needs one injection of shape (B, %d), got %v; reshape the prelude's (B·T, D) output with ToState", c.SeqLen, c.Dim, c.SeqLen*c.Dim, inj)
	}
	return c.cell.StateShape(inj)
}

// Apply implements layers.Cell.
func (c *CoreCell) Apply(z *G.Node, inj G.Nodes) (*G.Node, error) {
	if len(inj) != 1 {
		return nil, fmt.Errorf("attention: CoreCell takes one injection, got %d", len(inj))
	}
	st, err := c.StateShape(layers.ShapesOf(inj))
	if err != nil {
		return nil, err
	}
	if !z.Shape().Eq(st) {
		return nil, fmt.Errorf("attention: CoreCell state has shape %v, want %v", z.Shape(), st)
	}
	return c.cell.Apply(z, inj)
}

// Kernel64 implements layers.Cell.
func (c *CoreCell) Kernel64(inj []tensor.Shape) (layers.Kernel[float64], error) {
	if _, err := c.StateShape(inj); err != nil {
		return nil, err
	}
	return c.cell.Kernel64(inj)
}

// Kernel32 implements layers.Cell.
func (c *CoreCell) Kernel32(inj []tensor.Shape) (layers.Kernel[float32], error) {
	if _, err := c.StateShape(inj); err != nil {
		return nil, err
	}
	return c.cell.Kernel32(inj)
}

// ToState reshapes token rows (B·T, D) to the cells' state layout
// (B, T·D).
func ToState(x *G.Node, seqLen int) (*G.Node, error) {
	s := x.Shape()
	if len(s) != 2 || seqLen < 1 || s[0]%seqLen != 0 {
		return nil, fmt.Errorf("attention: ToState needs (B·%d, D) token rows, got %v", seqLen, s)
	}
	return G.Reshape(x, tensor.Shape{s[0] / seqLen, seqLen * s[1]})
}

// ToTokens reshapes a state (B, T·D) back to token rows (B·T, D).
func ToTokens(z *G.Node, dim int) (*G.Node, error) {
	s := z.Shape()
	if len(s) != 2 || dim < 1 || s[1]%dim != 0 {
		return nil, fmt.Errorf("attention: ToTokens needs a state (B, T·%d), got %v", dim, s)
	}
	return G.Reshape(z, tensor.Shape{s[0] * s[1] / dim, dim})
}
