package graph

import (
	"fmt"

	"github.com/implicit-ml/implicit/layers"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/opkit"
)

// GNNCell is the operator G(y, x) of an implicit bipartite graph network
// (the LP solution predictor of Liu et al. 2025): the state y holds one
// scalar per variable node, and one application is
//
//	h₁ = conv₁(var → cons; src [v, y], dst [c])
//	h₂ = conv₂(cons → var; src [h₁],  dst [v, y])
//	h₃ = conv₃(var → cons; src [h₂],  dst [h₁])
//	h₄ = conv₄(cons → var; src [h₃],  dst [h₂])
//	y' = h₄·w + b
//
// with the BipartiteConv convolutions, v and c the variable and
// constraint embeddings (Emb channels each) and A the edge weights, which
// come in as the injection and stay fixed during the iteration.
//
// Injections, in order: A (B, M·N), the variable embeddings (B·N, Emb)
// and the constraint embeddings (B·M, Emb). The state is (B, N).
//
// The kernels evaluate G and y ↦ J_G(y)ᵀv by hand (two cores over
// instances); the parts of the first two convolutions that depend on the
// embeddings only are computed once per solve, not once per iteration.
// Nothing makes G contractive: for the paper's protocol, train it
// unrolled (deq.Unrolled) and evaluate fixed iteration counts
// (Controls.Iterations).
type GNNCell struct {
	Convs [4]*BipartiteConv
	Out   *PartsDense // Emb → 1
	M, N  int
	Emb   int
	err   error
	cache *opkit.Cache
}

var _ layers.Cell = (*GNNCell)(nil)

// GNNCell creates the cell for graphs of m constraint and n variable
// nodes with emb-channel embeddings; parameters are name.conv1.* …
// name.conv4.* and name.out.*.
func NewGNNCell(s *layers.Scope, name string, m, n, emb int) *GNNCell {
	return NewGNNCellWith(s, name, m, n, emb, ConvOptions{})
}

// NewGNNCellWith is NewGNNCell with the convolutions' options (the
// output map's weight is drawn by opt.Init too).
func NewGNNCellWith(s *layers.Scope, name string, m, n, emb int, opt ConvOptions) *GNNCell {
	c := &GNNCell{M: m, N: n, Emb: emb, cache: &opkit.Cache{}}
	if m <= 0 || n <= 0 || emb <= 0 {
		c.err = s.Fail(fmt.Errorf("graph: GNNCell %q needs m, n, emb > 0, got %d, %d, %d", name, m, n, emb))
		return c
	}
	e := []int{emb}
	ey := []int{emb, 1}
	c.Convs[0] = NewBipartiteConvWith(s, name+".conv1", m, n, VarToCons, ey, e, emb, opt)
	c.Convs[1] = NewBipartiteConvWith(s, name+".conv2", m, n, ConsToVar, e, ey, emb, opt)
	c.Convs[2] = NewBipartiteConvWith(s, name+".conv3", m, n, VarToCons, e, e, emb, opt)
	c.Convs[3] = NewBipartiteConvWith(s, name+".conv4", m, n, ConsToVar, e, e, emb, opt)
	c.Out = NewPartsDenseWith(s, name+".out", e, 1, layers.Identity, opt)
	c.err = s.Err()
	return c
}

// Params implements Cell: the four convolutions' parameters, then the
// output map's.
func (c *GNNCell) Params() G.Nodes {
	if c.Out == nil {
		return nil
	}
	var ps G.Nodes
	for _, cv := range c.Convs {
		ps = append(ps, cv.Params()...)
	}
	return append(ps, c.Out.Params()...)
}

// StateShape implements Cell: (B, N) for A of shape (B, M·N).
func (c *GNNCell) StateShape(inj []tensor.Shape) (tensor.Shape, error) {
	if c.err != nil {
		return nil, c.err
	}
	if len(inj) != 3 || len(inj[0]) != 2 || inj[0][1] != c.M*c.N {
		return nil, fmt.Errorf("graph: GNNCell(%d×%d) takes injections A (B, %d), variable and constraint embeddings; got shapes %v", c.M, c.N, c.M*c.N, inj)
	}
	b := inj[0][0]
	if !inj[1].Eq(tensor.Shape{b * c.N, c.Emb}) || !inj[2].Eq(tensor.Shape{b * c.M, c.Emb}) {
		return nil, fmt.Errorf("graph: GNNCell embeddings have shapes %v and %v, want (%d, %d) and (%d, %d)", inj[1], inj[2], b*c.N, c.Emb, b*c.M, c.Emb)
	}
	return tensor.Shape{b, c.N}, nil
}

// Apply implements Cell.
func (c *GNNCell) Apply(z *G.Node, inj G.Nodes) (*G.Node, error) {
	if c.err != nil {
		return nil, c.err
	}
	if _, err := c.StateShape(layers.ShapesOf(inj)); err != nil {
		return nil, err
	}
	a, v, cons := inj[0], inj[1], inj[2]
	b := a.Shape()[0]
	y, err := G.Reshape(z, tensor.Shape{b * c.N, 1})
	if err != nil {
		return nil, err
	}
	h1, err := c.Convs[0].Apply(G.Nodes{v, y}, G.Nodes{cons}, a)
	if err != nil {
		return nil, err
	}
	h2, err := c.Convs[1].Apply(G.Nodes{h1}, G.Nodes{v, y}, a)
	if err != nil {
		return nil, err
	}
	h3, err := c.Convs[2].Apply(G.Nodes{h2}, G.Nodes{h1}, a)
	if err != nil {
		return nil, err
	}
	h4, err := c.Convs[3].Apply(G.Nodes{h3}, G.Nodes{h2}, a)
	if err != nil {
		return nil, err
	}
	out, err := c.Out.Apply(h4)
	if err != nil {
		return nil, err
	}
	return G.Reshape(out, tensor.Shape{b, c.N})
}

// Kernel64 implements Cell.
func (c *GNNCell) Kernel64(inj []tensor.Shape) (layers.Kernel[float64], error) {
	return gnnKernelFor[float64](c, inj, "float64")
}

// Kernel32 implements Cell.
func (c *GNNCell) Kernel32(inj []tensor.Shape) (layers.Kernel[float32], error) {
	return gnnKernelFor[float32](c, inj, "float32")
}

func gnnKernelFor[T deq.Float](c *GNNCell, inj []tensor.Shape, dt string) (layers.Kernel[T], error) {
	s, err := c.StateShape(inj)
	if err != nil {
		return nil, err
	}
	k, err := c.cache.Get(opkit.ShapesKey(dt, inj), func() (any, error) {
		return newGNNKernel[T](c, s[0]), nil
	})
	if err != nil {
		return nil, err
	}
	return k.(*gnnKernel[T]), nil
}
