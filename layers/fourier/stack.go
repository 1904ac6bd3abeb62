package fourier

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/opkit"
	"github.com/implicit-ml/implicit/layers"
)

// FourierStack is a block of Fourier layers (with GELU) applied in turn,
// each with the same injection inside its activation: the operator G of
// the FNO-DEQ (Marwah et al. 2023; three layers in the paper's case study
// 2),
//
//	G(z, inj) = L_n(… L_2(L_1(z, inj), inj) …, inj),
//
// with the lifted input as inj. It is a layers.Cell, with hand-written
// kernels for the solves (Eval, and a VJP that keeps each GELU's
// derivative from its pre-activation), and the block of the explicit
// baselines (Untied). State and injection are (B, S²·C), channel-last.
//
// As a cell it iterates the averaged map (1−α)z + α·G(z), α = Relax,
// which has G's fixed points: where J_G has eigenvalues below −1 (the
// iteration of G oscillates) the average can still contract. The zero
// value of Relax means α = 1, G itself; ApplyTo is always G.
type FourierStack struct {
	Layers             []*FourierLayer
	Size, Width, Modes int
	// Relax is α in (0, 1]; zero means 1. Set it before the first
	// Apply or kernel.
	Relax float64
	cache *opkit.Cache
	err   error
}

var _ layers.Cell = (*FourierStack)(nil)

// NewFourierStack creates depth Fourier layers name.0, name.1, … (see
// NewFourierLayer).
func NewFourierStack(s *layers.Scope, name string, depth, size, width, modes int) *FourierStack {
	f := &FourierStack{Size: size, Width: width, Modes: modes, cache: &opkit.Cache{}}
	if depth < 1 {
		f.err = s.Fail(fmt.Errorf("fourier: Fourier stack %q needs at least one layer, got %d", name, depth))
		return f
	}
	for l := range depth {
		ly := NewFourierLayer(s, fmt.Sprintf("%s.%d", name, l), size, width, modes)
		if ly.err != nil {
			f.err = ly.err
			return f
		}
		f.Layers = append(f.Layers, ly)
	}
	return f
}

// Params implements Cell: every layer's, in order.
func (f *FourierStack) Params() G.Nodes {
	if f.err != nil {
		return nil
	}
	var ps G.Nodes
	for _, l := range f.Layers {
		ps = append(ps, l.Params()...)
	}
	return ps
}

// StateShape implements Cell: the state has the injection's shape.
func (f *FourierStack) StateShape(inj []tensor.Shape) (tensor.Shape, error) {
	if f.err != nil {
		return nil, f.err
	}
	n := f.Size * f.Size * f.Width
	if len(inj) != 1 || len(inj[0]) != 2 || inj[0][1] != n {
		return nil, fmt.Errorf("fourier: FourierStack(%d×%d, width %d) needs one injection of shape (B, %d), got %v", f.Size, f.Size, f.Width, n, inj)
	}
	return inj[0].Clone(), nil
}

// Apply implements Cell: (1−α)z + α·G(z, inj[0]).
func (f *FourierStack) Apply(z *G.Node, inj G.Nodes) (*G.Node, error) {
	if len(inj) != 1 {
		return nil, fmt.Errorf("fourier: FourierStack takes one injection, got %d", len(inj))
	}
	a, err := f.alpha()
	if err != nil {
		return nil, err
	}
	g, err := f.ApplyTo(z, inj[0])
	if err != nil || a == 1 {
		return g, err
	}
	if g, err = G.Mul(g, layers.ConstLike(g, a)); err != nil {
		return nil, err
	}
	kz, err := G.Mul(z, layers.ConstLike(z, 1-a))
	if err != nil {
		return nil, err
	}
	return G.Add(g, kz)
}

// alpha is the resolved Relax.
func (f *FourierStack) alpha() (float64, error) {
	switch {
	case f.Relax == 0:
		return 1, nil
	case f.Relax > 0 && f.Relax <= 1:
		return f.Relax, nil
	}
	return 0, fmt.Errorf("fourier: FourierStack Relax = %v; want α in (0, 1] (0 means 1)", f.Relax)
}

// ApplyTo builds the block on z with the injection inj, nil for none
// (the explicit FNO's block).
func (f *FourierStack) ApplyTo(z, inj *G.Node) (*G.Node, error) {
	if f.err != nil {
		return nil, f.err
	}
	for _, l := range f.Layers {
		var err error
		if z, err = l.Apply(z, inj); err != nil {
			return nil, err
		}
	}
	return z, nil
}

// Kernel64 implements Cell.
func (f *FourierStack) Kernel64(inj []tensor.Shape) (layers.Kernel[float64], error) {
	return stackKernelFor[float64](f, inj, "float64")
}

// Kernel32 implements Cell.
func (f *FourierStack) Kernel32(inj []tensor.Shape) (layers.Kernel[float32], error) {
	return stackKernelFor[float32](f, inj, "float32")
}

func stackKernelFor[T deq.Float](f *FourierStack, inj []tensor.Shape, dt string) (*stackKernel[T], error) {
	st, err := f.StateShape(inj)
	if err != nil {
		return nil, err
	}
	a, err := f.alpha()
	if err != nil {
		return nil, err
	}
	k, err := f.cache.Get(opkit.ShapesKey(dt, inj), func() (any, error) {
		return newStackKernel[T](st[0], f.Size, f.Width, f.Modes, len(f.Layers)), nil
	})
	if err == nil {
		k.(*stackKernel[T]).alpha = T(a)
	}
	if err != nil {
		return nil, err
	}
	return k.(*stackKernel[T]), nil
}
