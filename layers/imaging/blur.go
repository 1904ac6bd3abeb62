package layers

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/blur"
)

// Blur is the forward operator A of the deblurring workload as a
// differentiable op: a fixed point-spread function applied to H×W
// single-channel images with a circular boundary, so that its singular
// vectors are Fourier modes. Images are (B, H·W), row-major.
//
// Apply builds A·x and ApplyT Aᵀ·x; each is the other's gradient, so both
// are differentiable to any order. The kernel is fixed: it has no
// parameters.
type Blur struct {
	Kernel blur.Kernel
	H, W   int
}

// NewBlur returns A for H×W images blurred by the named kernel:
// "gaussian" (7×7, σ = 1.5, the default) or "motion" (a 7×7 diagonal
// stroke).
func NewBlur(kernel string, h, w int) (*Blur, error) {
	k, err := blur.Named(kernel)
	if err != nil {
		return nil, fmt.Errorf("layers: %w", err)
	}
	if err := k.Check(h, w); err != nil {
		return nil, fmt.Errorf("layers: %w", err)
	}
	return &Blur{Kernel: k, H: h, W: w}, nil
}

// Apply builds A·x for x (B, H·W).
func (b *Blur) Apply(x *G.Node) (*G.Node, error) { return b.build(x, false) }

// ApplyT builds Aᵀ·x for x (B, H·W).
func (b *Blur) ApplyT(x *G.Node) (*G.Node, error) { return b.build(x, true) }

func (b *Blur) build(x *G.Node, transpose bool) (*G.Node, error) {
	xs := x.Shape()
	if len(xs) != 2 || xs[1] != b.H*b.W {
		return nil, fmt.Errorf("layers: blur of %d×%d images needs input (B, %d), got %v", b.H, b.W, b.H*b.W, xs)
	}
	return G.ApplyOp(&blurOp{b: b, transpose: transpose, dt: x.Dtype(), shape: xs.Clone(), buf: &outBuf{}}, x)
}

// Eval applies A (or Aᵀ) to a batch of images on flat buffers, for
// kernels and data generation.
func blurEval[T deq.Float](b *Blur, out, x []T, transpose bool) {
	blur.Apply(out, x, len(x)/(b.H*b.W), b.H, b.W, b.Kernel, transpose)
}

// blurOp computes A·x or Aᵀ·x. Child: x (B, H·W).
type blurOp struct {
	b         *Blur
	transpose bool
	dt        tensor.Dtype
	shape     tensor.Shape
	buf       *outBuf
}

func (op *blurOp) Arity() int { return 1 }
func (op *blurOp) Type() hm.Type {
	t := G.TensorType{Dims: 2, Of: op.dt}
	return hm.NewFnType(t, t)
}
func (op *blurOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape.Clone(), nil }
func (op *blurOp) ReturnsPtr() bool                               { return false }
func (op *blurOp) CallsExtern() bool                              { return false }
func (op *blurOp) OverwritesInput() int                           { return -1 }
func (op *blurOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "Blur{%s,%v,%d,%d,%v,%v,%v}", op.b.Kernel.Name, op.b.Kernel.W, op.b.H, op.b.W, op.transpose, op.dt, []int(op.shape))
}
func (op *blurOp) Hashcode() uint32 { return hashOf(op) }
func (op *blurOp) String() string {
	if op.transpose {
		return "BlurT"
	}
	return "Blur"
}

func (op *blurOp) Do(vals ...G.Value) (G.Value, error) {
	if len(vals) != 1 {
		return nil, fmt.Errorf("layers: %v takes 1 input, got %d", op, len(vals))
	}
	out := op.buf.get(op.dt, op.shape)
	var err error
	if op.dt == tensor.Float32 {
		err = blurDo[float32](op, out, vals[0])
	} else {
		err = blurDo[float64](op, out, vals[0])
	}
	return out, err
}

func blurDo[T deq.Float](op *blurOp, out *tensor.Dense, v G.Value) error {
	x, err := data[T](v)
	if err != nil {
		return err
	}
	blurEval(op.b, out.Data().([]T), x, op.transpose)
	return nil
}

func (op *blurOp) DiffWRT(int) []bool { return []bool{true} }

// SymDiff: the gradient of A·x is Aᵀg, of Aᵀ·x it is A·g.
func (op *blurOp) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&blurOp{b: op.b, transpose: !op.transpose, dt: op.dt, shape: op.shape, buf: &outBuf{}}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx}, nil
}

func (op *blurOp) DoDiff(_ G.ExecutionContext, inputs G.Nodes, output *G.Node) error {
	g, err := output.Grad()
	if err != nil {
		return err
	}
	dx, err := (&blurOp{b: op.b, transpose: !op.transpose, dt: op.dt, shape: op.shape, buf: &outBuf{}}).Do(g)
	if err != nil {
		return err
	}
	return accumulateGrad(inputs[0], dx)
}
