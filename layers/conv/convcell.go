package conv

import (
	"fmt"

	"github.com/implicit-ml/implicit/layers"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/linalg"
	"github.com/implicit-ml/implicit/internal/opkit"
)

// ConvCell is a weight-tied 1-D convolutional cell over sequences of N
// positions with C channels each:
//
//	z'_i = φ(Σ_{o ∈ Offsets} z_{i+o}·W_o + inj_i + b)
//
// with zero padding past the ends. State and injection are (B, N·C),
// position-major (position i's channels are at i·C … (i+1)·C−1); W is
// (|Offsets|·C, C) and b is (1, C). Offsets {−1} make the cell causal: each
// application moves information one position to the right, its Jacobian is
// nilpotent, and Picard iteration reaches the fixed point exactly after N
// applications — a looped model that needs more iterations for longer
// inputs.
//
// With a hidden layer of H channels (Scope.ConvCellHidden) the update is
//
//	h_i = φ(Σ_o z_{i+o}·W_o + inj_i + b),  z'_i = φ(h_i·W2 + b2)
//
// and the injection has H channels per position instead of C: a two-layer
// map per position can compute XOR-like updates that one layer learns
// only with difficulty.
type ConvCell struct {
	W, B    *G.Node
	W2, B2  *G.Node // nil without a hidden layer
	C, H    int     // H is 0 without a hidden layer
	Offsets []int
	Act     layers.Activation
	err     error
	cache   *opkit.Cache
	// lastHidden is the hidden layer of the last Apply, for JacobianVJP.
	lastHidden *G.Node
}

// injChannels is the number of injection channels per position.
func (c *ConvCell) injChannels() int {
	if c.H > 0 {
		return c.H
	}
	return c.C
}

var _ layers.Cell = (*ConvCell)(nil)

// ConvCell creates a 1-D convolutional cell with parameters name.W and
// name.b. The activation must be one whose derivative is a function of
// its output (tanh, ReLU, sigmoid, softplus or identity).
func NewConvCell(s *layers.Scope, name string, channels int, offsets []int, act layers.Activation) *ConvCell {
	c := &ConvCell{C: channels, Offsets: append([]int(nil), offsets...), Act: act, cache: &opkit.Cache{}}
	switch {
	case channels <= 0 || len(offsets) == 0:
		c.err = s.Fail(fmt.Errorf("conv: ConvCell %q needs channels > 0 and at least one offset, got %d and %v", name, channels, offsets))
		return c
	case !act.DerivFromOutput():
		c.err = s.Fail(fmt.Errorf("conv: ConvCell %q: activation %v is not supported (use tanh, relu, sigmoid, softplus or identity)", name, act))
		return c
	}
	c.W = s.Param(name+".W", tensor.Shape{len(offsets) * channels, channels}, layers.GlorotUniform(1))
	c.B = s.Param(name+".b", tensor.Shape{1, channels}, layers.Zeros)
	c.err = s.Err()
	return c
}

// ConvCellHidden creates a 1-D convolutional cell with a hidden layer of
// hidden channels per position (parameters name.W, name.b, name.W2,
// name.b2); its injection has hidden channels per position.
func NewConvCellHidden(s *layers.Scope, name string, channels, hidden int, offsets []int, act layers.Activation) *ConvCell {
	c := &ConvCell{C: channels, H: hidden, Offsets: append([]int(nil), offsets...), Act: act, cache: &opkit.Cache{}}
	switch {
	case channels <= 0 || hidden <= 0 || len(offsets) == 0:
		c.err = s.Fail(fmt.Errorf("conv: ConvCellHidden %q needs channels, hidden > 0 and an offset, got %d, %d and %v", name, channels, hidden, offsets))
		return c
	case !act.DerivFromOutput():
		c.err = s.Fail(fmt.Errorf("conv: ConvCellHidden %q: activation %v is not supported", name, act))
		return c
	}
	c.W = s.Param(name+".W", tensor.Shape{len(offsets) * channels, hidden}, layers.GlorotUniform(1))
	c.B = s.Param(name+".b", tensor.Shape{1, hidden}, layers.Zeros)
	c.W2 = s.Param(name+".W2", tensor.Shape{hidden, channels}, layers.GlorotUniform(1))
	c.B2 = s.Param(name+".b2", tensor.Shape{1, channels}, layers.Zeros)
	c.err = s.Err()
	return c
}

// Params implements Cell.
func (c *ConvCell) Params() G.Nodes {
	if c.H > 0 {
		return G.Nodes{c.W, c.B, c.W2, c.B2}
	}
	return G.Nodes{c.W, c.B}
}

// StateShape implements Cell: the state has the injection's shape.
func (c *ConvCell) StateShape(inj []tensor.Shape) (tensor.Shape, error) {
	if c.err != nil {
		return nil, c.err
	}
	ic := c.injChannels()
	if len(inj) != 1 || len(inj[0]) != 2 || inj[0][1]%ic != 0 {
		return nil, fmt.Errorf("conv: ConvCell(%d channels) needs one injection of shape (B, N·%d), got %v", c.C, ic, inj)
	}
	return tensor.Shape{inj[0][0], inj[0][1] / ic * c.C}, nil
}

// Apply implements Cell.
func (c *ConvCell) Apply(z *G.Node, inj G.Nodes) (*G.Node, error) {
	if c.err != nil {
		return nil, c.err
	}
	s := z.Shape()
	b, n := s[0], s[1]/c.C
	win, err := G.ApplyOp(newWindowOp(z.Dtype(), b, n, c.C, c.Offsets, false), z)
	if err != nil {
		return nil, err
	}
	add, err := G.Reshape(inj[0], tensor.Shape{b * n, c.injChannels()})
	if err != nil {
		return nil, err
	}
	y, err := layers.Affine(win, c.W, add, c.B, c.Act)
	if err != nil {
		return nil, err
	}
	if c.H > 0 {
		c.lastHidden = y
		if y, err = layers.Affine(y, c.W2, nil, c.B2, c.Act); err != nil {
			return nil, err
		}
	}
	return G.Reshape(y, s.Clone())
}

// Kernel64 implements Cell.
func (c *ConvCell) Kernel64(inj []tensor.Shape) (layers.Kernel[float64], error) {
	return convKernelFor[float64](c, inj, "float64")
}

// Kernel32 implements Cell.
func (c *ConvCell) Kernel32(inj []tensor.Shape) (layers.Kernel[float32], error) {
	return convKernelFor[float32](c, inj, "float32")
}

func convKernelFor[T deq.Float](c *ConvCell, inj []tensor.Shape, dt string) (layers.Kernel[T], error) {
	s, err := c.StateShape(inj)
	if err != nil {
		return nil, err
	}
	k, err := c.cache.Get(opkit.ShapesKey(dt, inj), func() (any, error) {
		rows := s[0] * (s[1] / c.C)
		k := &convKernel[T]{
			b: s[0], n: s[1] / c.C, c: c.C, h: c.H, offsets: c.Offsets, act: c.Act,
			win: make([]T, rows*len(c.Offsets)*c.C), deriv: make([]T, rows*c.C), tmp: make([]T, rows*c.C),
		}
		if c.H > 0 {
			k.hid, k.hderiv, k.htmp = make([]T, rows*c.H), make([]T, rows*c.H), make([]T, rows*c.H)
		}
		return k, nil
	})
	if err != nil {
		return nil, err
	}
	return k.(*convKernel[T]), nil
}

// convKernel evaluates the cell and its VJP by gathering windows into a
// matrix (one row per position) and one matrix product.
type convKernel[T deq.Float] struct {
	b, n, c, h int
	offsets    []int
	act        layers.Activation
	w, bias    []T
	w2, bias2  []T
	inj        []T
	win        []T // gathered windows, (b·n, |O|·c)
	deriv, tmp []T
	// hidden layer: activations, φ' and scratch, (b·n, h)
	hid, hderiv, htmp []T
}

func (k *convKernel[T]) Bind(inj, params []G.Value) error {
	want := 2
	if k.h > 0 {
		want = 4
	}
	if len(inj) != 1 || len(params) != want {
		return fmt.Errorf("conv: ConvCell kernel bound to %d injections and %d parameters, want 1 and %d", len(inj), len(params), want)
	}
	if k.h > 0 {
		var err error
		if k.w2, err = opkit.Data[T](params[2]); err != nil {
			return err
		}
		if k.bias2, err = opkit.Data[T](params[3]); err != nil {
			return err
		}
	}
	var err error
	if k.inj, err = opkit.Data[T](inj[0]); err != nil {
		return err
	}
	if k.w, err = opkit.Data[T](params[0]); err != nil {
		return err
	}
	if k.bias, err = opkit.Data[T](params[1]); err != nil {
		return err
	}
	return nil
}

// pre writes the cell's output into out (and φ' of the output layer into
// d, of the hidden layer into hderiv, when d is set).
func (k *convKernel[T]) pre(out, z []T, d []T) {
	gather(k.win, z, k.b, k.n, k.c, k.offsets)
	rows, kw := k.b*k.n, len(k.offsets)*k.c
	first, fw := out, k.c // the first layer's output and width
	if k.h > 0 {
		first, fw = k.hid, k.h
	}
	linalg.Work(rows, 2*rows*kw*fw, func(lo, hi int) {
		o := first[lo*fw : hi*fw]
		linalg.MatMul(o, k.win[lo*kw:hi*kw], k.w, hi-lo, kw, fw)
		for r := lo; r < hi; r++ {
			or, in := first[r*fw:(r+1)*fw], k.inj[r*fw:(r+1)*fw]
			for j := range or {
				or[j] += in[j] + k.bias[j]
			}
		}
		var dd []T
		switch {
		case d != nil && k.h > 0:
			dd = k.hderiv[lo*fw : hi*fw]
		case d != nil:
			dd = d[lo*fw : hi*fw]
		}
		layers.Activate(k.act, o, dd)
		if k.h == 0 {
			return
		}
		o2 := out[lo*k.c : hi*k.c]
		linalg.MatMul(o2, o, k.w2, hi-lo, k.h, k.c)
		for r := 0; r < hi-lo; r++ {
			or := o2[r*k.c : (r+1)*k.c]
			for j := range or {
				or[j] += k.bias2[j]
			}
		}
		var d2 []T
		if d != nil {
			d2 = d[lo*k.c : hi*k.c]
		}
		layers.Activate(k.act, o2, d2)
	})
}

func (k *convKernel[T]) Eval(out, z []T) error { k.pre(out, z, nil); return nil }

func (k *convKernel[T]) Linearize(z []T) error { k.pre(k.tmp, z, k.deriv); return nil }

func (k *convKernel[T]) VJP(out, v []T) error {
	for i := range k.tmp {
		k.tmp[i] = v[i] * k.deriv[i]
	}
	opkit.FlushSubnormal(k.tmp)
	rows, kw := k.b*k.n, len(k.offsets)*k.c
	s1 := k.tmp
	if k.h > 0 {
		linalg.MatMulBT(k.htmp, k.tmp, k.w2, rows, k.c, k.h) // back through W2
		for i := range k.htmp {
			k.htmp[i] *= k.hderiv[i]
		}
		opkit.FlushSubnormal(k.htmp)
		s1 = k.htmp
	}
	linalg.MatMulBT(k.win, s1, k.w, rows, k.injChannelsK(), kw)
	scatter(out, k.win, k.b, k.n, k.c, k.offsets)
	return nil
}

// injChannelsK is the first layer's width.
func (k *convKernel[T]) injChannelsK() int {
	if k.h > 0 {
		return k.h
	}
	return k.c
}

// gather writes, for every sequence and position i, the channels of
// positions i+o (o in offsets; zeros past the ends) side by side.
func gather[T deq.Float](win, z []T, b, n, c int, offsets []int) {
	kw := len(offsets) * c
	for s := 0; s < b; s++ {
		for i := 0; i < n; i++ {
			row := win[(s*n+i)*kw : (s*n+i+1)*kw]
			for k, o := range offsets {
				dst := row[k*c : (k+1)*c]
				if j := i + o; j >= 0 && j < n {
					copy(dst, z[(s*n+j)*c:(s*n+j+1)*c])
				} else {
					clear(dst)
				}
			}
		}
	}
}

// scatter is gather's adjoint: out is overwritten with the sums of the
// window blocks that read each position.
func scatter[T deq.Float](out, win []T, b, n, c int, offsets []int) {
	clear(out)
	kw := len(offsets) * c
	for s := 0; s < b; s++ {
		for i := 0; i < n; i++ {
			row := win[(s*n+i)*kw : (s*n+i+1)*kw]
			for k, o := range offsets {
				if j := i + o; j >= 0 && j < n {
					dst := out[(s*n+j)*c : (s*n+j+1)*c]
					for m, v := range row[k*c : (k+1)*c] {
						dst[m] += v
					}
				}
			}
		}
	}
}

// windowOp gathers windows: (B, N·C) → (B·N, |O|·C). Child: z.
type windowOp struct {
	opkit.Base
	b, n, c int
	offsets []int
	scatter bool // the adjoint, (B·N, |O|·C) → (B, N·C)
}

func newWindowOp(dt tensor.Dtype, b, n, c int, offsets []int, scatter bool) *windowOp {
	name, out := fmt.Sprintf("Window%v", offsets), tensor.Shape{b * n, len(offsets) * c}
	if scatter {
		name, out = fmt.Sprintf("Scatter%v", offsets), tensor.Shape{b, n * c}
	}
	return &windowOp{b: b, n: n, c: c, offsets: offsets, scatter: scatter,
		Base: opkit.New(name, fmt.Sprintf("Window{%v,%d,%d,%d,%v,%v}", dt, b, n, c, offsets, scatter), dt, 1, out)}
}

// adjoint is the op that undoes this one's gather (or scatter).
func (op *windowOp) adjoint() *windowOp {
	return newWindowOp(op.Dtype(), op.b, op.n, op.c, op.offsets, !op.scatter)
}

func (op *windowOp) Do(vals ...G.Value) (G.Value, error) {
	out := op.Output()
	return out, op.Dispatch(
		func() error { return windowDo[float32](op, out, vals[0]) },
		func() error { return windowDo[float64](op, out, vals[0]) })
}

func windowDo[T deq.Float](op *windowOp, out *tensor.Dense, v G.Value) error {
	in, err := opkit.Data[T](v)
	if err != nil {
		return err
	}
	if op.scatter {
		scatter(out.Data().([]T), in, op.b, op.n, op.c, op.offsets)
	} else {
		gather(out.Data().([]T), in, op.b, op.n, op.c, op.offsets)
	}
	return nil
}

func (op *windowOp) DiffWRT(int) []bool { return []bool{true} }

// SymDiff: gather and scatter are each other's adjoints.
func (op *windowOp) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(op.adjoint(), grad)
	return G.Nodes{d}, err
}

func (op *windowOp) DoDiff(_ G.ExecutionContext, inputs G.Nodes, output *G.Node) error {
	g, err := output.Grad()
	if err != nil {
		return err
	}
	d, err := op.adjoint().Do(g)
	if err != nil {
		return err
	}
	return opkit.AccumulateGrad(inputs[0], d)
}

// JacobianVJP implements JacobianVJPer for the output fz of the cell's
// last Apply: vᵀJ = scatter((v ⊙ φ'(fz))·Wᵀ), through the hidden layer
// when there is one.
func (c *ConvCell) JacobianVJP(fz, v *G.Node) (*G.Node, error) {
	s := fz.Shape()
	b, n := s[0], s[1]/c.C
	g, err := layers.TimesActDeriv(c.Act, fz, v)
	if err != nil {
		return nil, err
	}
	if g, err = G.Reshape(g, tensor.Shape{b * n, c.C}); err != nil {
		return nil, err
	}
	if c.H > 0 {
		if c.lastHidden == nil {
			return nil, fmt.Errorf("conv: ConvCell.JacobianVJP needs the hidden layer of an Apply")
		}
		if g, err = layers.MatMul(g, c.W2, false, true); err != nil {
			return nil, err
		}
		if g, err = layers.TimesActDeriv(c.Act, c.lastHidden, g); err != nil {
			return nil, err
		}
	}
	win, err := layers.MatMul(g, c.W, false, true)
	if err != nil {
		return nil, err
	}
	return G.ApplyOp(newWindowOp(fz.Dtype(), b, n, c.C, c.Offsets, true), win)
}
