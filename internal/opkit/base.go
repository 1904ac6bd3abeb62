package opkit

import (
	"fmt"
	"hash"
	"hash/fnv"
	"io"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Base answers the methods of gorgonia.Op that are fixed when an op is
// built. Embed it and give the op Do, DiffWRT and its derivatives; an op
// whose output shape depends on its inputs also overrides InferShape. The
// zero value is not useful: build one with New.
type Base struct {
	name, key string
	dt        tensor.Dtype
	arity     int
	out       tensor.Shape
	types     []hm.Type
	buf       *Buf
}

// New returns the base of an op called name (its String) with hash key
// key, element type dt, arity children and output shape out. Every child
// and the output are typed as tensors of out's rank unless WithTypes says
// otherwise.
func New(name, key string, dt tensor.Dtype, arity int, out tensor.Shape) Base {
	return Base{name: name, key: key, dt: dt, arity: arity, out: out.Clone(), buf: &Buf{}}
}

// WithTypes returns the base with explicit types: one per child, then the
// output's.
func (b Base) WithTypes(ts ...hm.Type) Base {
	b.types = ts
	return b
}

// Arity implements gorgonia.Op.
func (b Base) Arity() int { return b.arity }

// Type implements gorgonia.Op.
func (b Base) Type() hm.Type {
	if b.types != nil {
		return hm.NewFnType(b.types...)
	}
	t := G.TensorType{Dims: len(b.out), Of: b.dt}
	ts := make([]hm.Type, b.arity+1)
	for i := range ts {
		ts[i] = t
	}
	return hm.NewFnType(ts...)
}

// InferShape implements gorgonia.Op: the output shape given to New.
func (b Base) InferShape(...G.DimSizer) (tensor.Shape, error) { return b.out.Clone(), nil }

// ReturnsPtr implements gorgonia.Op: ops return their own output tensor.
func (b Base) ReturnsPtr() bool { return false }

// CallsExtern implements gorgonia.Op.
func (b Base) CallsExtern() bool { return false }

// OverwritesInput implements gorgonia.Op: no op writes into a child.
func (b Base) OverwritesInput() int { return -1 }

// WriteHash implements gorgonia.Op by writing the key.
func (b Base) WriteHash(h hash.Hash) { io.WriteString(h, b.key) }

// Hashcode implements gorgonia.Op: FNV-1a of the key.
func (b Base) Hashcode() uint32 {
	h := fnv.New32a()
	io.WriteString(h, b.key)
	return h.Sum32()
}

// String implements fmt.Stringer.
func (b Base) String() string { return b.name }

// Dtype is the op's element type.
func (b Base) Dtype() tensor.Dtype { return b.dt }

// Shape is the output shape given to New.
func (b Base) Shape() tensor.Shape { return b.out }

// Output returns the op's reusable output tensor of the shape given to
// New. Gorgonia drops its registers on every Reset, so an op that
// allocated its output would allocate (and the collector reclaim) every
// activation of every step; a value an op returns is therefore only valid
// until the op runs again.
func (b Base) Output() *tensor.Dense { return b.buf.Get(b.dt, b.out) }

// OutputOf returns the reusable output with another shape (ops whose
// output shape depends on their inputs).
func (b Base) OutputOf(shape tensor.Shape) *tensor.Dense { return b.buf.Get(b.dt, shape) }

// Dispatch runs f32 or f64 by the op's element type.
func (b Base) Dispatch(f32, f64 func() error) error { return Dispatch(b.dt, f32, f64) }

// CheckArity returns an error when vals does not hold one value per child.
func (b Base) CheckArity(vals []G.Value) error {
	if len(vals) != b.arity {
		return fmt.Errorf("%s takes %d inputs, got %d", b.name, b.arity, len(vals))
	}
	return nil
}

// Runner is what Do needs of an op: the methods Base gives it.
type Runner interface {
	CheckArity(vals []G.Value) error
	Output() *tensor.Dense
	Dtype() tensor.Dtype
}

// Do is the Do method of an op whose kernels write into its output
// buffer: it checks that vals has one value per child (the error starts
// with pkg, the op's package), then runs f32 or f64 by the op's element
// type on its output and returns the output.
func Do[Op Runner](op Op, pkg string, vals []G.Value, f32, f64 func(Op, *tensor.Dense, []G.Value) error) (G.Value, error) {
	if err := op.CheckArity(vals); err != nil {
		return nil, fmt.Errorf("%s: %w", pkg, err)
	}
	out := op.Output()
	return out, Dispatch(op.Dtype(),
		func() error { return f32(op, out, vals) },
		func() error { return f64(op, out, vals) })
}

// Dispatch runs f32 or f64 by dt: the one place where this module's ops
// switch on their element type.
func Dispatch(dt tensor.Dtype, f32, f64 func() error) error {
	switch dt {
	case tensor.Float32:
		return f32()
	case tensor.Float64:
		return f64()
	}
	return fmt.Errorf("opkit: element type %v is not supported; use float32 or float64", dt)
}

// Buf is a reusable output tensor.
type Buf struct{ t *tensor.Dense }

// Get returns a tensor of the given shape and dtype, reusing the previous
// one when it fits.
func (b *Buf) Get(dt tensor.Dtype, shape tensor.Shape) *tensor.Dense {
	if b.t == nil || !b.t.Shape().Eq(shape) || b.t.Dtype() != dt {
		b.t = tensor.New(tensor.WithShape(shape.Clone()...), tensor.Of(dt))
	}
	return b.t
}
