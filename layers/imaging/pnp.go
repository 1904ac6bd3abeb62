package imaging

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/opkit"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/layers/conv"
)

// pnp is what the plug-and-play cells share: the blur A, the denoiser D,
// the error met while building them and the cached kernels. A cell is
// G(y, x) = D(S(y, Aᵀx)) for a data step S with one scalar parameter (the
// PGD step γ, the HQS weight's logarithm); its state y and its injection
// Aᵀx are (B, H·W).
type pnp struct {
	// Blur is the operator A; Denoiser the learned prior D, on A's image
	// size, with or without a learned noise level σ_D (see the package
	// documentation).
	Blur     *Blur
	Denoiser *conv.ResCNN
	err      error
	cache    *opkit.Cache
}

// newPnP checks the operator and the denoiser of the cell called name.
func newPnP(s *layers.Scope, kind, name string, a *Blur, d *conv.ResCNN) pnp {
	c := pnp{Blur: a, Denoiser: d, cache: &opkit.Cache{}}
	switch {
	case a == nil || d == nil:
		c.err = s.Fail(fmt.Errorf("imaging: %s %q needs a blur operator and a denoiser", kind, name))
	case d.Err() != nil:
		c.err = d.Err()
	case d.Height != a.H || d.Width != a.W:
		c.err = s.Fail(fmt.Errorf("imaging: %s %q: the denoiser works on %d×%d images, the blur on %d×%d", kind, name, d.Height, d.Width, a.H, a.W))
	}
	return c
}

// Err is the error met while building the cell, if any.
func (c *pnp) Err() error { return c.err }

// StateShape implements Cell: y has the injection's shape (B, H·W).
func (c *pnp) StateShape(inj []tensor.Shape) (tensor.Shape, error) {
	if c.err != nil {
		return nil, c.err
	}
	n := c.Blur.H * c.Blur.W
	if len(inj) != 1 || len(inj[0]) != 2 || inj[0][1] != n {
		return nil, fmt.Errorf("imaging: a plug-and-play cell on %d×%d images needs one injection Aᵀx of shape (B, %d), got %v", c.Blur.H, c.Blur.W, n, inj)
	}
	return inj[0].Clone(), nil
}

// params is the data step's scalar, then the denoiser's weights and
// biases (and σ_D).
func (c *pnp) params(scalar *G.Node) G.Nodes {
	if c.err != nil {
		return nil
	}
	return append(G.Nodes{scalar}, c.Denoiser.Params()...)
}

// dataStep is the numeric data step S of a cell on flat buffers: u =
// S(y, b) with b = Aᵀx, and the transposed Jacobian in y.
type dataStep[T deq.Float] interface {
	// bind takes the scalar parameter's value; it is called before the
	// other methods.
	bind(scalar T) error
	// step writes u = S(y, b).
	step(u, y, b []T)
	// vjp writes (∂S/∂y)ᵀw into out (S is affine in y, so no
	// linearisation point is needed); out and w do not overlap.
	vjp(out, w []T)
}

// kernelFor returns the cell's cached kernel for injections inj, making
// it with mk (the data step for batches of n images) the first time.
func kernelFor[T deq.Float](c *pnp, inj []tensor.Shape, dt string, mk func(n int) dataStep[T]) (layers.Kernel[T], error) {
	st, err := c.StateShape(inj)
	if err != nil {
		return nil, err
	}
	k, err := c.cache.Get(opkit.ShapesKey(dt, inj), func() (any, error) {
		n := st.TotalSize()
		return &pnpKernel[T]{data: mk(st[0]), d: conv.NewResCNNKernel[T](c.Denoiser, st[0]), u: make([]T, n), w: make([]T, n)}, nil
	})
	if err != nil {
		return nil, err
	}
	return k.(*pnpKernel[T]), nil
}

// pnpKernel evaluates G(y) = D(S(y, b)) and its transposed Jacobian in y,
// J_Gᵀv = (∂S/∂y)ᵀ J_D(u)ᵀ v.
type pnpKernel[T deq.Float] struct {
	data dataStep[T]
	d    *conv.ResCNNKernel[T]
	inj  []T
	u    []T // the data step's output
	w    []T // J_D(u)ᵀv
}

func (k *pnpKernel[T]) Bind(inj, params []G.Value) error {
	if len(inj) != 1 || len(params) != 1+k.d.NumParams() {
		return fmt.Errorf("imaging: plug-and-play kernel bound to %d injections and %d parameters, want 1 and %d", len(inj), len(params), 1+k.d.NumParams())
	}
	var err error
	if k.inj, err = opkit.Data[T](inj[0]); err != nil {
		return err
	}
	if len(k.inj) != len(k.u) {
		return fmt.Errorf("imaging: plug-and-play kernel got an injection of %d values, want %d", len(k.inj), len(k.u))
	}
	s, err := opkit.Data[T](params[0])
	if err != nil {
		return err
	}
	if len(s) != 1 {
		return fmt.Errorf("imaging: plug-and-play kernel got %d values of the data step's scalar, want 1", len(s))
	}
	if err := k.data.bind(s[0]); err != nil {
		return err
	}
	ps := make([][]T, len(params)-1)
	for i, p := range params[1:] {
		if ps[i], err = opkit.Data[T](p); err != nil {
			return err
		}
	}
	return k.d.Bind(ps)
}

func (k *pnpKernel[T]) Eval(out, y []T) error {
	k.data.step(k.u, y, k.inj)
	k.d.Forward(out, k.u, false)
	return nil
}

func (k *pnpKernel[T]) Linearize(y []T) error {
	k.data.step(k.u, y, k.inj)
	k.d.Forward(k.w, k.u, true) // the output is not needed, φ' is
	return nil
}

func (k *pnpKernel[T]) VJP(out, v []T) error {
	k.d.VJP(k.w, v)
	k.data.vjp(out, k.w)
	return nil
}

// doOp is the Do of this package's ops: it checks the arity and runs the
// op's kernel in its precision into its reused output buffer.
func doOp[O any](op O, b opkit.Base, vals []G.Value, do32 func(O, *tensor.Dense, []G.Value) error, do64 func(O, *tensor.Dense, []G.Value) error) (G.Value, error) {
	if err := b.CheckArity(vals); err != nil {
		return nil, fmt.Errorf("imaging: %w", err)
	}
	out := b.Output()
	return out, b.Dispatch(func() error { return do32(op, out, vals) }, func() error { return do64(op, out, vals) })
}

// floatValues returns the data of vals as slices of T.
func floatValues[T deq.Float](vals []G.Value) ([][]T, error) {
	in := make([][]T, len(vals))
	for i, v := range vals {
		d, err := opkit.Data[T](v)
		if err != nil {
			return nil, err
		}
		in[i] = d
	}
	return in, nil
}

// accumulateParts is the DoDiff of an op whose gradients are ops of its
// own kind, one per child: the op of parts[i] (made by mk), run on vals,
// adds to the gradient of inputs[i].
func accumulateParts(inputs G.Nodes, vals []G.Value, parts []int, mk func(part int) G.Op) error {
	for i, part := range parts {
		d, err := mk(part).Do(vals...)
		if err != nil {
			return err
		}
		if err := opkit.AccumulateGrad(inputs[i], d); err != nil {
			return err
		}
	}
	return nil
}
