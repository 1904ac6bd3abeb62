package fourier

import (
	"fmt"

	"github.com/implicit-ml/implicit/layers"

	"github.com/implicit-ml/implicit/internal/opkit"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// FNO is a Fourier neural operator on S×S grids of nodes: a pointwise
// lift of (a, x, y) — the input field and the node's coordinates — to
// Width channels, a Body from (B, S²·Width) to itself, and a pointwise
// projection Width → Hidden (φ) → 1.
//
// The body is what distinguishes the models: an implicit layer around an
// FNOCell (the lift is then the injection, computed once outside the
// solve), or a Sequential of FourierBlocks (the explicit FNO).
//
// Shapes: Fwd takes (B, 1, S, S) or (B, S²) and returns (B, 1, S, S).
// Node (i, j) has coordinates (i/(S−1), j/(S−1)): the grid of the Darcy
// data, boundary included.
type FNO struct {
	Lift      *layers.Dense // 3 → Width
	Body      layers.Layer
	Proj, Out *layers.Dense // Width → Hidden (φ), Hidden → 1
	Size      int
	Width     int
	err       error
}

var _ layers.Layer = (*FNO)(nil)

// FNO creates the lift (name.lift) and projection (name.proj, name.out)
// around body, which must map (B, S²·width) to itself.
func NewFNO(s *layers.Scope, name string, size, width, hidden int, act layers.Activation, body layers.Layer) *FNO {
	f := &FNO{Body: body, Size: size, Width: width}
	if size < 2 || width <= 0 || hidden <= 0 || body == nil {
		f.err = s.Fail(fmt.Errorf("fourier: FNO %q needs size ≥ 2, positive width and hidden sizes and a body; got %d, %d, %d", name, size, width, hidden))
		return f
	}
	f.Lift = s.Dense(name+".lift", 3, width, layers.Identity)
	f.Proj = s.Dense(name+".proj", width, hidden, act)
	f.Out = s.Dense(name+".out", hidden, 1, layers.Identity)
	f.err = s.Err()
	return f
}

// Params implements Layer: the lift's, the body's and the projection's.
func (f *FNO) Params() G.Nodes {
	if f.err != nil {
		return nil
	}
	return paramsOf(f.Lift, f.Body, f.Proj, f.Out)
}

// Fwd implements Layer.
func (f *FNO) Fwd(x *G.Node) (*G.Node, error) {
	if f.err != nil {
		return nil, f.err
	}
	return throughFrame(x, f.Lifted, f.Body, f.Project)
}

// throughFrame is project(body(lift(x))).
func throughFrame(x *G.Node, lift func(*G.Node) (*G.Node, error), body layers.Layer, project func(*G.Node) (*G.Node, error)) (*G.Node, error) {
	v, err := lift(x)
	if err != nil {
		return nil, err
	}
	z, err := body.Fwd(v)
	if err != nil {
		return nil, err
	}
	return project(z)
}

// paramsOf lists the parameters of ls in order.
func paramsOf(ls ...layers.Layer) G.Nodes {
	var ps G.Nodes
	for _, l := range ls {
		ps = append(ps, l.Params()...)
	}
	return ps
}

// Lifted returns the lift of x, (B, S²·Width).
func (f *FNO) Lifted(x *G.Node) (*G.Node, error) {
	s := x.Shape()
	n := f.Size * f.Size
	if len(s) < 2 || s.TotalSize() != s[0]*n {
		return nil, fmt.Errorf("fourier: FNO on %d×%d grids needs input (B, 1, %d, %d) or (B, %d), got %v", f.Size, f.Size, f.Size, f.Size, n, s)
	}
	return liftGrid(x, f.Lift, f.Size, 1, f.Width, 1/float64(f.Size-1))
}

// liftGrid applies lift (in+2 → width) at every node to the input's in
// channels (x is (B, in, S, S), channel-first) and the node's coordinates
// (i·h, j·h), and returns (B, S²·width), channel-last.
func liftGrid(x *G.Node, lift *layers.Dense, size, in, width int, h float64) (*G.Node, error) {
	b, n := x.Shape()[0], size*size
	a, err := G.Reshape(x, tensor.Shape{b, in, n})
	if err != nil {
		return nil, err
	}
	if in > 1 { // channel-last: (B, S², In)
		if a, err = G.Transpose(a, 0, 2, 1); err != nil {
			return nil, err
		}
	}
	if a, err = G.Reshape(a, tensor.Shape{b * n, in}); err != nil {
		return nil, err
	}
	feat, err := G.Concat(1, a, gridNode(x.Graph(), x.Dtype(), b, size, h))
	if err != nil {
		return nil, err
	}
	v, err := lift.Fwd(feat)
	if err != nil {
		return nil, err
	}
	return G.Reshape(v, tensor.Shape{b, n * width})
}

// Project maps the body's output (B, S²·Width) to (B, 1, S, S).
func (f *FNO) Project(z *G.Node) (*G.Node, error) {
	b := z.Shape()[0]
	n := f.Size * f.Size
	zr, err := G.Reshape(z, tensor.Shape{b * n, f.Width})
	if err != nil {
		return nil, err
	}
	h, err := f.Proj.Fwd(zr)
	if err != nil {
		return nil, err
	}
	u, err := f.Out.Fwd(h)
	if err != nil {
		return nil, err
	}
	return G.Reshape(u, tensor.Shape{b, 1, f.Size, f.Size})
}

// gridNode is the constant (B·S², 2) of node coordinates (i·h, j·h).
func gridNode(g *G.ExprGraph, dt tensor.Dtype, b, size int, h float64) *G.Node {
	vals := make([]float64, 0, 2*b*size*size)
	for range b {
		for i := range size {
			for j := range size {
				vals = append(vals, float64(i)*h, float64(j)*h)
			}
		}
	}
	t := opkit.NewTensor(dt, tensor.Shape{b * size * size, 2}, vals)
	return g.AddNode(G.NewConstant(t, G.WithName(fmt.Sprintf("grid%dx%d_b%d_h%g", size, size, b, h))))
}
