package fourier

import (
	"fmt"

	"github.com/implicit-ml/implicit/layers"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/opkit"
)

// FourierBlock is one layer of a Fourier neural operator on S×S grids of
// C channels (Width):
//
//	y = φ(K x + x·W + b)
//
// with K a SpectralConv (C → C), W (C, C) a pointwise channel mixing and b
// (1, C). Shapes: x and y are (B, S²·C), channel-last as in SpectralConv.
// φ must be computable from its output (tanh, ReLU, sigmoid, softplus or
// identity): the pointwise part is the fused affine op. Li et al. use
// GELU, which the fused ops lack.
type FourierBlock struct {
	K                  *SpectralConv
	W, B               *G.Node
	Act                layers.Activation
	Size, Width, Modes int
	err                error
}

var _ layers.Layer = (*FourierBlock)(nil)

// FourierBlock creates an explicit Fourier layer with parameters
// name.K.W, name.W (GlorotUniform(1)) and name.b.
func NewFourierBlock(s *layers.Scope, name string, size, width, modes int, act layers.Activation) *FourierBlock {
	return newFourierBlock(s, name, size, width, modes, act, layers.GlorotUniform(1))
}

func newFourierBlock(s *layers.Scope, name string, size, width, modes int, act layers.Activation, winit layers.Init) *FourierBlock {
	f := &FourierBlock{Act: act, Size: size, Width: width, Modes: modes}
	if !act.DerivFromOutput() {
		f.err = s.Fail(fmt.Errorf("fourier: Fourier layer %q: activation %v is not supported (use tanh, relu, sigmoid, softplus or identity)", name, act))
		return f
	}
	f.K = NewSpectralConv(s, name+".K", size, modes, width, width)
	if f.err = f.K.err; f.err != nil {
		return f
	}
	f.W = s.Param(name+".W", tensor.Shape{width, width}, winit)
	f.B = s.Param(name+".b", tensor.Shape{1, width}, layers.Zeros)
	f.err = s.Err()
	return f
}

// Fwd implements Layer.
func (f *FourierBlock) Fwd(x *G.Node) (*G.Node, error) { return f.apply(x, nil) }

// Params implements Layer: K's weights, W and b (none if the block
// could not be built).
func (f *FourierBlock) Params() G.Nodes {
	if f.err != nil {
		return nil
	}
	return G.Nodes{f.K.W, f.W, f.B}
}

// apply builds φ(K x + add + x·W + b): the spectral op adds add, the
// fused affine op the rest.
func (f *FourierBlock) apply(x, add *G.Node) (*G.Node, error) {
	if f.err != nil {
		return nil, f.err
	}
	xs := x.Shape()
	if len(xs) != 2 || xs[1] != f.Size*f.Size*f.Width {
		return nil, fmt.Errorf("fourier: Fourier layer on %d×%d grids of %d channels needs input (B, %d), got %v", f.Size, f.Size, f.Width, f.Size*f.Size*f.Width, xs)
	}
	spec, err := f.K.Apply(x, add)
	if err != nil {
		return nil, err
	}
	rows := tensor.Shape{xs[0] * f.Size * f.Size, f.Width}
	x2, err := G.Reshape(x, rows)
	if err != nil {
		return nil, err
	}
	s2, err := G.Reshape(spec, rows.Clone())
	if err != nil {
		return nil, err
	}
	y, err := layers.Affine(x2, f.W, s2, f.B, f.Act)
	if err != nil {
		return nil, err
	}
	return G.Reshape(y, xs.Clone())
}

// FNOCell is the cell of an implicit Fourier neural operator:
//
//	z' = φ(K z + z·W + inj + b)
//
// a FourierBlock with the injection (typically the lifted input,
// computed once outside the solve) added inside φ. State and injection
// are (B, S²·C), channel-last. Its kernels evaluate the cell and its VJP
// without graphs: two truncated transforms, the per-mode mixing and one
// pointwise product each.
type FNOCell struct {
	Block *FourierBlock
	cache *opkit.Cache
}

var _ layers.Cell = (*FNOCell)(nil)

// FNOCell creates the cell on S×S grids (size) with width channels and
// modes Fourier modes per direction; parameters name.K.W, name.W
// (CellInit, ‖W‖₂ ≈ 0.5) and name.b. With SpectralInit's scale a fresh
// cell is a contraction.
func NewFNOCell(s *layers.Scope, name string, size, width, modes int, act layers.Activation) *FNOCell {
	return &FNOCell{Block: newFourierBlock(s, name, size, width, modes, act, layers.CellInit()), cache: &opkit.Cache{}}
}

// Params implements Cell: K's weights, W and b.
func (c *FNOCell) Params() G.Nodes { return c.Block.Params() }

// StateShape implements Cell: the state has the injection's shape.
func (c *FNOCell) StateShape(inj []tensor.Shape) (tensor.Shape, error) {
	if c.Block.err != nil {
		return nil, c.Block.err
	}
	n := c.Block.Size * c.Block.Size * c.Block.Width
	if len(inj) != 1 || len(inj[0]) != 2 || inj[0][1] != n {
		return nil, fmt.Errorf("fourier: FNOCell(%d×%d, width %d) needs one injection of shape (B, %d), got %v", c.Block.Size, c.Block.Size, c.Block.Width, n, inj)
	}
	return inj[0].Clone(), nil
}

// Apply implements Cell.
func (c *FNOCell) Apply(z *G.Node, inj G.Nodes) (*G.Node, error) {
	if len(inj) != 1 {
		return nil, fmt.Errorf("fourier: FNOCell takes one injection, got %d", len(inj))
	}
	return c.Block.apply(z, inj[0])
}

// Kernel64 implements Cell.
func (c *FNOCell) Kernel64(inj []tensor.Shape) (layers.Kernel[float64], error) {
	return fnoKernelFor[float64](c, inj, "float64")
}

// Kernel32 implements Cell.
func (c *FNOCell) Kernel32(inj []tensor.Shape) (layers.Kernel[float32], error) {
	return fnoKernelFor[float32](c, inj, "float32")
}

func fnoKernelFor[T deq.Float](c *FNOCell, inj []tensor.Shape, dt string) (layers.Kernel[T], error) {
	st, err := c.StateShape(inj)
	if err != nil {
		return nil, err
	}
	k, err := c.cache.Get(opkit.ShapesKey(dt, inj), func() (any, error) {
		f := c.Block
		n := st.TotalSize()
		return &fnoKernel[T]{
			b: st[0], s: f.Size, c: f.Width, act: f.Act,
			plan:  newSpectralPlan[T](f.Size, f.Modes, f.Width, f.Width),
			deriv: make([]T, n), tmp: make([]T, n),
		}, nil
	})
	if err != nil {
		return nil, err
	}
	return k.(*fnoKernel[T]), nil
}

// JacobianVJP implements JacobianVJPer: with s = v ⊙ φ'(fz), vᵀJ = Kᵀs
// + s·Wᵀ (rows of C channels). The transposed spectral op differentiates
// once more, with respect to s and K's weights, so the Jacobian penalty
// trains this cell too.
func (c *FNOCell) JacobianVJP(fz, v *G.Node) (*G.Node, error) {
	f := c.Block
	if f.err != nil {
		return nil, f.err
	}
	s, err := layers.TimesActDeriv(f.Act, fz, v)
	if err != nil {
		return nil, err
	}
	geo := f.K.geom()
	kt, err := G.ApplyOp(newSpectralOp(geo, true, false, fz.Dtype(), fz.Shape()[0], &planSlot{}), s, f.K.W)
	if err != nil {
		return nil, err
	}
	rows := tensor.Shape{fz.Shape()[0] * f.Size * f.Size, f.Width}
	s2, err := G.Reshape(s, rows)
	if err != nil {
		return nil, err
	}
	sw, err := layers.MatMul(s2, f.W, false, true)
	if err != nil {
		return nil, err
	}
	if sw, err = G.Reshape(sw, fz.Shape().Clone()); err != nil {
		return nil, err
	}
	return G.Add(kt, sw)
}
