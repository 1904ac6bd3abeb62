package imaging

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/blur"
	"github.com/implicit-ml/implicit/internal/opkit"
)

// Blur is the forward operator A of the deblurring workload as a
// differentiable op: a fixed point-spread function applied to H×W
// single-channel images with a circular boundary, so that its singular
// vectors are Fourier modes. Images are (B, H·W), row-major.
//
// Apply builds A·x and ApplyT Aᵀ·x; each is the other's gradient, so both
// are differentiable to any order. The kernel is fixed: it has no
// parameters. HQSStep builds the exact HQS data step (AᵀA + βI)⁻¹(b + βy)
// on the same kernel.
type Blur struct {
	Kernel blur.Kernel
	H, W   int
	// The HQS step's per-frequency tables, read-only once built.
	hqs32 *blur.HQS[float32]
	hqs64 *blur.HQS[float64]
}

// NewBlur returns A for H×W images blurred by the named kernel (see
// blur.Named): "shake" (the 9×9 camera-shake kernel of the deblurring
// workload), "gaussian" (7×7, σ = 1.5) or "motion" (a 7×7 diagonal ramp).
func NewBlur(kernel string, h, w int) (*Blur, error) {
	k, err := blur.Named(kernel)
	if err != nil {
		return nil, fmt.Errorf("imaging: %w", err)
	}
	return NewBlurOf(k, h, w)
}

// NewBlurOf returns A for H×W images blurred by the kernel k.
func NewBlurOf(k blur.Kernel, h, w int) (*Blur, error) {
	if err := k.Check(h, w); err != nil {
		return nil, fmt.Errorf("imaging: %w", err)
	}
	s32, s64, err := newHQSTables(k, h, w)
	if err != nil {
		return nil, fmt.Errorf("imaging: %w", err)
	}
	return &Blur{Kernel: k, H: h, W: w, hqs32: s32, hqs64: s64}, nil
}

// Apply builds A·x for x (B, H·W).
func (b *Blur) Apply(x *G.Node) (*G.Node, error) { return b.build(x, false) }

// ApplyT builds Aᵀ·x for x (B, H·W).
func (b *Blur) ApplyT(x *G.Node) (*G.Node, error) { return b.build(x, true) }

func (b *Blur) build(x *G.Node, transpose bool) (*G.Node, error) {
	xs := x.Shape()
	if len(xs) != 2 || xs[1] != b.H*b.W {
		return nil, fmt.Errorf("imaging: blur of %d×%d images needs input (B, %d), got %v", b.H, b.W, b.H*b.W, xs)
	}
	return G.ApplyOp(newBlurOp(b, transpose, x.Dtype(), xs), x)
}

// blurEval applies A (or Aᵀ) to a batch of images on flat buffers, split
// over the cores by images.
func blurEval[T deq.Float](b *Blur, out, x []T, transpose bool) {
	px := b.H * b.W
	byImages(len(x)/px, func(lo, hi int) {
		blur.Apply(out[lo*px:hi*px], x[lo*px:hi*px], hi-lo, b.H, b.W, b.Kernel, transpose)
	})
}

// blurOp computes A·x or Aᵀ·x. Child: x (B, H·W).
type blurOp struct {
	opkit.Base
	b         *Blur
	transpose bool
}

func newBlurOp(b *Blur, transpose bool, dt tensor.Dtype, shape tensor.Shape) *blurOp {
	name := "Blur"
	if transpose {
		name = "BlurT"
	}
	return &blurOp{b: b, transpose: transpose, Base: opkit.New(name,
		fmt.Sprintf("Blur{%s,%v,%d,%d,%v,%v,%v}", b.Kernel.Name, b.Kernel.W, b.H, b.W, transpose, dt, []int(shape)), dt, 1, shape)}
}

// adjoint is the op of Aᵀ for A's (and of A for Aᵀ's).
func (op *blurOp) adjoint() *blurOp { return newBlurOp(op.b, !op.transpose, op.Dtype(), op.Shape()) }

func (op *blurOp) Do(vals ...G.Value) (G.Value, error) {
	if err := op.CheckArity(vals); err != nil {
		return nil, fmt.Errorf("imaging: %w", err)
	}
	out := op.Output()
	return out, op.Dispatch(
		func() error { return blurDo[float32](op, out, vals[0]) },
		func() error { return blurDo[float64](op, out, vals[0]) })
}

func blurDo[T deq.Float](op *blurOp, out *tensor.Dense, v G.Value) error {
	x, err := opkit.Data[T](v)
	if err != nil {
		return err
	}
	blurEval(op.b, out.Data().([]T), x, op.transpose)
	return nil
}

func (op *blurOp) DiffWRT(int) []bool { return []bool{true} }

// SymDiff: the gradient of A·x is Aᵀg, of Aᵀ·x it is A·g.
func (op *blurOp) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(op.adjoint(), grad)
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
	dx, err := op.adjoint().Do(g)
	if err != nil {
		return err
	}
	return opkit.AccumulateGrad(inputs[0], dx)
}
