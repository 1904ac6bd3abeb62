package fourier

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/layers"
)

// Frame is the FNO-DEQ's frame around a body (Marwah et al. 2023, the
// operator of the paper's case study 2) on periodic S×S grids:
//
//   - a pointwise lift of (a₁ … a_In, x, y) — the input's channels and
//     the node's coordinates (i/S, j/S) — to Width channels;
//   - a Body from (B, S²·Width) to itself: an implicit layer around a
//     FourierStack (the lift is then its injection), or Untied blocks;
//   - an output FourierLayer without its outer GELU;
//   - a projection Width → Hidden (GELU) → 1.
//
// Shapes: Fwd takes (B, In, S, S), channel-first as the data sets give
// it, and returns (B, 1, S, S).
type Frame struct {
	Lift       *layers.Dense // In+2 → Width
	Body       layers.Layer
	Out        *FourierLayer
	Proj, Head *layers.Dense // Width → Hidden, GELU, Hidden → 1
	Size, In   int
	Width      int
	err        error
}

var _ layers.Layer = (*Frame)(nil)

// FrameConfig sizes a Frame. Every field must be positive; Modes at most
// Size/2.
type FrameConfig struct {
	// Size is S, In the input's channels.
	Size, In int
	// Width and Modes are the Fourier layers'; Hidden the projection's.
	Width, Modes, Hidden int
}

// NewFrame creates the lift (name.lift), the output layer (name.out) and
// the projection (name.proj, name.head) around body, which must map (B,
// S²·Width) to itself.
func NewFrame(s *layers.Scope, name string, cfg FrameConfig, body layers.Layer) *Frame {
	f := &Frame{Body: body, Size: cfg.Size, In: cfg.In, Width: cfg.Width}
	if cfg.Size < 2 || cfg.In <= 0 || cfg.Width <= 0 || cfg.Hidden <= 0 || body == nil {
		f.err = s.Fail(fmt.Errorf("fourier: frame %q needs size ≥ 2, positive channel, width and hidden sizes and a body; got %+v", name, cfg))
		return f
	}
	f.Lift = s.Dense(name+".lift", cfg.In+2, cfg.Width, layers.Identity)
	f.Out = NewOutputLayer(s, name+".out", cfg.Size, cfg.Width, cfg.Modes)
	f.Proj = s.Dense(name+".proj", cfg.Width, cfg.Hidden, layers.Identity)
	f.Head = s.Dense(name+".head", cfg.Hidden, 1, layers.Identity)
	if f.err = f.Out.err; f.err == nil {
		f.err = s.Err()
	}
	return f
}

// Params implements Layer: the lift's, the body's, the output layer's and
// the projection's.
func (f *Frame) Params() G.Nodes {
	if f.err != nil {
		return nil
	}
	return paramsOf(f.Lift, f.Body, f.Out, f.Proj, f.Head)
}

// Fwd implements Layer.
func (f *Frame) Fwd(x *G.Node) (*G.Node, error) {
	if f.err != nil {
		return nil, f.err
	}
	return throughFrame(x, f.Lifted, f.Body, f.Project)
}

// Lifted returns the lift of x (B, In, S, S): (B, S²·Width).
func (f *Frame) Lifted(x *G.Node) (*G.Node, error) {
	if f.err != nil {
		return nil, f.err
	}
	s, n := x.Shape(), f.Size*f.Size
	if len(s) < 2 || s.TotalSize() != s[0]*f.In*n {
		return nil, fmt.Errorf("fourier: frame on %d×%d grids of %d channels needs input (B, %d, %d, %d), got %v", f.Size, f.Size, f.In, f.In, f.Size, f.Size, s)
	}
	return liftGrid(x, f.Lift, f.Size, f.In, f.Width, 1/float64(f.Size))
}

// Project maps the body's output (B, S²·Width) through the output layer
// and the projection to (B, 1, S, S).
func (f *Frame) Project(z *G.Node) (*G.Node, error) {
	if f.err != nil {
		return nil, f.err
	}
	y, err := f.Out.Fwd(z)
	if err != nil {
		return nil, err
	}
	b, n := z.Shape()[0], f.Size*f.Size
	if y, err = G.Reshape(y, tensor.Shape{b * n, f.Width}); err != nil {
		return nil, err
	}
	h, err := f.Proj.Fwd(y)
	if err != nil {
		return nil, err
	}
	if h, err = layers.FusedGELU(h); err != nil {
		return nil, err
	}
	u, err := f.Head.Fwd(h)
	if err != nil {
		return nil, err
	}
	return G.Reshape(u, tensor.Shape{b, 1, f.Size, f.Size})
}

// Untied is the body of the explicit baselines: Blocks of Fourier layers
// with their own weights, applied in turn. With Inject (FNO++ of Marwah et
// al.) the state starts at z₀ = 0 and every block gets the lifted input
// as its injection, as the implicit model's G does; without (the FNO)
// the first block starts at the lifted input and nothing is injected.
type Untied struct {
	Blocks []*FourierStack
	Inject bool
}

var _ layers.Layer = (*Untied)(nil)

// NewUntied creates blocks FourierStacks of depth layers each, name.0,
// name.1, …
func NewUntied(s *layers.Scope, name string, blocks, depth, size, width, modes int, inject bool) *Untied {
	u := &Untied{Inject: inject}
	if blocks < 1 {
		s.Fail(fmt.Errorf("fourier: untied body %q needs at least one block, got %d", name, blocks))
	}
	for b := range blocks {
		u.Blocks = append(u.Blocks, NewFourierStack(s, fmt.Sprintf("%s.%d", name, b), depth, size, width, modes))
	}
	return u
}

// Fwd implements Layer on the lifted input v (B, S²·Width).
func (u *Untied) Fwd(v *G.Node) (*G.Node, error) {
	if len(u.Blocks) == 0 {
		return nil, fmt.Errorf("fourier: untied body without blocks")
	}
	z, inj := v, (*G.Node)(nil)
	if u.Inject {
		inj = v
		z = v.Graph().AddNode(G.NewConstant(tensor.New(tensor.WithShape(v.Shape().Clone()...), tensor.Of(v.Dtype())),
			G.WithName(fmt.Sprintf("z0%v", []int(v.Shape())))))
	}
	for _, b := range u.Blocks {
		var err error
		if z, err = b.ApplyTo(z, inj); err != nil {
			return nil, err
		}
	}
	return z, nil
}

// Params implements Layer.
func (u *Untied) Params() G.Nodes {
	var ps G.Nodes
	for _, b := range u.Blocks {
		ps = append(ps, b.Params()...)
	}
	return ps
}
