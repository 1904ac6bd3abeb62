package fourier

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/layers"
)

// FourierLayer is a Fourier layer of the FNO-DEQ of Marwah et al. (2023),
// the operator of the paper's case study 2, on S×S grids of C channels
// (Width):
//
//	y = GELU( MLP(K z) + z·W + b + inj ),   MLP(s) = GELU(s·A + a)·M,
//
// with K a SpectralConv (C → C), A, M and W (C, C) pointwise channel
// mixings (1×1 convolutions), a and b (1, C), and inj an optional
// injection added inside the activation. The output layer of the frame
// (NewOutputLayer) leaves out the outer GELU. The MLP's second bias
// would add to b, so it is left out. Shapes: z, inj and y are (B, S²·C),
// channel-last as in SpectralConv.
type FourierLayer struct {
	K *SpectralConv
	// A, AB: the MLP's first 1×1 convolution and its bias; M its second.
	A, AB, M *G.Node
	// W, B: the pointwise 1×1 convolution and the layer's bias.
	W, B *G.Node
	// Activated is false for the output layer: no outer GELU.
	Activated          bool
	Size, Width, Modes int
	err                error
}

var _ layers.Layer = (*FourierLayer)(nil)

// Initial scales of the pointwise weights: the MLP's (Glorot uniform,
// ‖·‖₂ ≈ 1 for square weights) and W's (layers.CellInit, ‖W‖₂ ≈ 0.5), so
// that, with SpectralInit(0.5), a fresh block of three layers is a
// contraction in z (about 0.3 at width 32) and its fixed-point iteration
// converges from the start.
const mlpGain, wGain = 0.5, 0.25

// NewFourierLayer creates a Fourier layer (with its outer GELU) named
// name: parameters name.K.W (SpectralInit(0.5)), name.mlp1.W, name.mlp1.b,
// name.mlp2.W, name.W and name.b. It needs 1 ≤ modes ≤ size/2.
func NewFourierLayer(s *layers.Scope, name string, size, width, modes int) *FourierLayer {
	return newFourierLayer(s, name, size, width, modes, true)
}

// NewOutputLayer creates the linear Fourier layer that ends the frame:
// MLP(K z) + z·W + b, without the outer GELU.
func NewOutputLayer(s *layers.Scope, name string, size, width, modes int) *FourierLayer {
	return newFourierLayer(s, name, size, width, modes, false)
}

func newFourierLayer(s *layers.Scope, name string, size, width, modes int, activated bool) *FourierLayer {
	f := &FourierLayer{Activated: activated, Size: size, Width: width, Modes: modes}
	f.K = NewSpectralConv(s, name+".K", size, modes, width, width)
	if f.err = f.K.err; f.err != nil {
		return f
	}
	sq := tensor.Shape{width, width}
	f.A = s.Param(name+".mlp1.W", sq, layers.GlorotUniform(mlpGain))
	f.AB = s.Param(name+".mlp1.b", tensor.Shape{1, width}, layers.Zeros)
	f.M = s.Param(name+".mlp2.W", sq.Clone(), layers.GlorotUniform(mlpGain))
	f.W = s.Param(name+".W", sq.Clone(), layers.GlorotUniform(wGain))
	f.B = s.Param(name+".b", tensor.Shape{1, width}, layers.Zeros)
	f.err = s.Err()
	return f
}

// Params implements Layer, in the order the kernels bind them: K's
// weights, A, a, M, W, b (none if the layer could not be built).
func (f *FourierLayer) Params() G.Nodes {
	if f.err != nil {
		return nil
	}
	return G.Nodes{f.K.W, f.A, f.AB, f.M, f.W, f.B}
}

// Fwd implements Layer: the layer without injection.
func (f *FourierLayer) Fwd(z *G.Node) (*G.Node, error) { return f.Apply(z, nil) }

// Apply builds the layer on z with the injection inj (nil for none).
func (f *FourierLayer) Apply(z, inj *G.Node) (*G.Node, error) {
	if f.err != nil {
		return nil, f.err
	}
	n := f.Size * f.Size * f.Width
	zs := z.Shape()
	if len(zs) != 2 || zs[1] != n {
		return nil, fmt.Errorf("fourier: Fourier layer on %d×%d grids of %d channels needs input (B, %d), got %v", f.Size, f.Size, f.Width, n, zs)
	}
	if inj != nil && !inj.Shape().Eq(zs) {
		return nil, fmt.Errorf("fourier: Fourier layer injection has shape %v, want %v", inj.Shape(), zs)
	}
	spec, err := f.K.Apply(z, nil)
	if err != nil {
		return nil, err
	}
	rows := tensor.Shape{zs[0] * f.Size * f.Size, f.Width}
	asRows := func(v *G.Node) (*G.Node, error) {
		if v == nil {
			return nil, nil
		}
		return G.Reshape(v, rows.Clone())
	}
	s2, err := asRows(spec)
	if err != nil {
		return nil, err
	}
	h, err := layers.Affine(s2, f.A, nil, f.AB, layers.Identity)
	if err != nil {
		return nil, err
	}
	if h, err = layers.FusedGELU(h); err != nil {
		return nil, err
	}
	z2, err := asRows(z)
	if err != nil {
		return nil, err
	}
	inj2, err := asRows(inj)
	if err != nil {
		return nil, err
	}
	lin, err := layers.Affine(z2, f.W, inj2, f.B, layers.Identity)
	if err != nil {
		return nil, err
	}
	q, err := layers.Affine(h, f.M, lin, nil, layers.Identity)
	if err != nil {
		return nil, err
	}
	if f.Activated {
		if q, err = layers.FusedGELU(q); err != nil {
			return nil, err
		}
	}
	return G.Reshape(q, zs.Clone())
}
