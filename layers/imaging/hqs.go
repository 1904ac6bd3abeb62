package imaging

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/blur"
	"github.com/implicit-ml/implicit/internal/linalg"
	"github.com/implicit-ml/implicit/internal/opkit"
)

// HQSStep builds the data step of half-quadratic splitting,
//
//	z = (AᵀA + βI)⁻¹(b + βy),  β = e^ρ,
//
// the minimiser of ½‖Az − x‖² + (β/2)‖z − y‖² when b = Aᵀx: y and b are
// (B, H·W), logBeta is ρ (1, 1). The step is exact (A is diagonal in the
// Fourier basis, see blur.HQS) and differentiable in y, b and ρ; writing β
// as e^ρ keeps it positive whatever the optimizer does.
func (b *Blur) HQSStep(y, atx, logBeta *G.Node) (*G.Node, error) {
	return b.HQSStepTikhonov(y, atx, logBeta, 0)
}

// HQSStepTikhonov is HQSStep with a fixed Tikhonov weight λ ≥ 0 on the
// data term,
//
//	z = (AᵀA + (β + λ)I)⁻¹(b + βy),
//
// the minimiser of ½‖Az − x‖² + (λ/2)‖z‖² + (β/2)‖z − y‖² (PGDCell's
// λ, in HQS's exact step). In y it is βM', M' = (AᵀA + (β+λ)I)⁻¹, whose
// eigenvalues β/(|â|² + β + λ) are at most β/(β + λ) < 1 when λ > 0: the
// step contracts every mode, also those A annihilates, and an iteration
// with the identity as denoiser converges to the Tikhonov solution
// (AᵀA + λI)⁻¹Aᵀx instead of drifting to the unregularised inverse.
func (b *Blur) HQSStepTikhonov(y, atx, logBeta *G.Node, lambda float64) (*G.Node, error) {
	n := b.H * b.W
	if !(lambda >= 0) || math.IsInf(lambda, 1) {
		return nil, fmt.Errorf("imaging: the HQS step's Tikhonov weight must be finite and ≥ 0, got %v", lambda)
	}
	for _, in := range []*G.Node{y, atx} {
		if s := in.Shape(); len(s) != 2 || s[1] != n || !s.Eq(y.Shape()) {
			return nil, fmt.Errorf("imaging: the HQS step on %d×%d images needs y and Aᵀx of one shape (B, %d), got %v and %v", b.H, b.W, n, y.Shape(), atx.Shape())
		}
	}
	if logBeta.Shape().TotalSize() != 1 {
		return nil, fmt.Errorf("imaging: the HQS step's log β must be one value, got shape %v", logBeta.Shape())
	}
	if b.hqs32 == nil || b.hqs64 == nil {
		return nil, fmt.Errorf("imaging: this Blur has no HQS tables; make it with NewBlur")
	}
	return G.ApplyOp(newHQSOp(b, lambda, y.Dtype(), y.Shape(), 0), y, atx, logBeta)
}

// hqsTikhonov writes the step with Tikhonov weight λ,
// z = M'(b + βy) = M'(b + β'·(β/β')y) with β' = β + λ, using the tables of
// weight β'; scratch (y's size) holds (β/β')y when λ > 0.
func hqsTikhonov[T deq.Float](b *Blur, z, y, atx, scratch []T, beta, lambda float64) {
	if lambda == 0 {
		hqsEval(b, z, y, atx, beta)
		return
	}
	c := T(beta / (beta + lambda))
	for i, v := range y {
		scratch[i] = c * v
	}
	hqsEval(b, z, scratch, atx, beta+lambda)
}

// hqsTikhonovVJPy writes (∂z/∂y)ᵀw = βM'w into out.
func hqsTikhonovVJPy[T deq.Float](b *Blur, out, w []T, beta, lambda float64) {
	hqsVJP(b, out, nil, nil, w, nil, nil, beta+lambda)
	if lambda == 0 {
		return
	}
	c := T(beta / (beta + lambda))
	for i := range out {
		out[i] *= c
	}
}

// hqsEval is StepNormal with the tables of T's precision, split over the
// cores by images.
func hqsEval[T deq.Float](b *Blur, z, y, atx []T, beta float64) {
	px := b.H * b.W
	byImages(len(y)/px, func(lo, hi int) {
		z, y, atx := z[lo*px:hi*px], y[lo*px:hi*px], atx[lo*px:hi*px]
		switch any(z).(type) {
		case []float32:
			b.hqs32.StepNormal(any(z).([]float32), any(y).([]float32), any(atx).([]float32), hi-lo, beta)
		default:
			b.hqs64.StepNormal(any(z).([]float64), any(y).([]float64), any(atx).([]float64), hi-lo, beta)
		}
	})
}

// hqsVJP is VJPNormal with the tables of T's precision, split over the
// cores by images; gbeta, when set, has one entry per image.
func hqsVJP[T deq.Float](b *Blur, gy, gb []T, gbeta []float64, v, y, z []T, beta float64) {
	px := b.H * b.W
	byImages(len(v)/px, func(lo, hi int) {
		part := func(s []T) []T {
			if s == nil {
				return nil
			}
			return s[lo*px : hi*px]
		}
		var gbi []float64
		if gbeta != nil {
			gbi = gbeta[lo:hi]
		}
		switch any(v).(type) {
		case []float32:
			b.hqs32.VJPNormal(asF32(part(gy)), asF32(part(gb)), gbi, any(part(v)).([]float32), asF32(part(y)), asF32(part(z)), hi-lo, beta)
		default:
			b.hqs64.VJPNormal(asF64(part(gy)), asF64(part(gb)), gbi, any(part(v)).([]float64), asF64(part(y)), asF64(part(z)), hi-lo, beta)
		}
	})
}

// byImages runs f over ranges of n images, in parallel when there are
// enough of them (a 28×28 image's step takes about 30 µs, far above the
// cost of a goroutine).
func byImages(n int, f func(lo, hi int)) { linalg.Parallel(n, 4, f) }

// asF32 and asF64 convert a possibly nil buffer of T to its concrete type.
func asF32[T deq.Float](s []T) []float32 {
	if s == nil {
		return nil
	}
	return any(s).([]float32)
}

func asF64[T deq.Float](s []T) []float64 {
	if s == nil {
		return nil
	}
	return any(s).([]float64)
}

// hqsOp computes the HQS step with Tikhonov weight λ (part 0; children y,
// b, ρ) or one of its gradients (children g, y, b, ρ, z): part 1 βMg (∂y),
// 2 Mg (∂b), 3 β·Σ⟨Mg, y − z⟩ (∂ρ, (1, 1)), with M = (AᵀA + (β+λ)I)⁻¹
// (differentiating (AᵀA + (β+λ)I)z = b + βy in β gives ∂z/∂β = M(y − z)).
type hqsOp struct {
	opkit.Base
	b      *Blur
	lambda float64
	shape  tensor.Shape
	part   int
}

func newHQSOp(b *Blur, lambda float64, dt tensor.Dtype, shape tensor.Shape, part int) *hqsOp {
	out := shape
	if part == 3 {
		out = tensor.Shape{1, 1}
	}
	return &hqsOp{b: b, lambda: lambda, shape: shape.Clone(), part: part, Base: opkit.New(fmt.Sprintf("HQSStep{%d}", part),
		fmt.Sprintf("HQSStep{%s,%v,%d,%d,%v,%v,%v,%d}", b.Kernel.Name, b.Kernel.W, b.H, b.W, lambda, dt, []int(shape), part), dt, 3+2*opkit.Btoi(part > 0), out)}
}

func (op *hqsOp) Do(vals ...G.Value) (G.Value, error) {
	return doOp(op, op.Base, vals, hqsDo[float32], hqsDo[float64])
}

func hqsDo[T deq.Float](op *hqsOp, out *tensor.Dense, vals []G.Value) error {
	in, err := floatValues[T](vals)
	if err != nil {
		return err
	}
	var g, z []T // the incoming gradient and the step's output, for the gradient ops
	if op.part > 0 {
		g, z, in = in[0], in[4], in[1:4]
	}
	y, atx, rho := in[0], in[1], in[2]
	n := op.shape.TotalSize()
	if len(rho) != 1 || len(y) != n || len(atx) != n || (op.part > 0 && (len(g) != n || len(z) != n)) {
		return fmt.Errorf("imaging: %v got values of the wrong size", op)
	}
	beta, lam := math.Exp(float64(rho[0])), op.lambda
	o := out.Data().([]T)
	switch op.part {
	case 0:
		var scratch []T
		if lam > 0 {
			scratch = make([]T, n)
		}
		hqsTikhonov(op.b, o, y, atx, scratch, beta, lam)
	case 1:
		hqsTikhonovVJPy(op.b, o, g, beta, lam)
	case 2:
		hqsVJP(op.b, nil, o, nil, g, nil, nil, beta+lam)
	case 3:
		gb := make([]float64, op.shape[0])
		hqsVJP(op.b, nil, nil, gb, g, y, z, beta+lam)
		s := 0.0
		for _, v := range gb {
			s += v
		}
		o[0] = T(beta * s) // dβ/dρ = β
	}
	return nil
}

func (op *hqsOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	for i := range d {
		d[i] = op.part == 0
	}
	return d
}

// hqsParts are the gradient ops' parts, in the order of the children.
var hqsParts = [3]int{1, 2, 3}

func (op *hqsOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if op.part != 0 {
		return nil, fmt.Errorf("imaging: the HQS step's gradients are not differentiated again")
	}
	var grads G.Nodes
	for _, part := range hqsParts {
		d, err := G.ApplyOp(newHQSOp(op.b, op.lambda, op.Dtype(), op.shape, part), grad, inputs[0], inputs[1], inputs[2], output)
		if err != nil {
			return nil, err
		}
		grads = append(grads, d)
	}
	return grads, nil
}

func (op *hqsOp) DoDiff(_ G.ExecutionContext, inputs G.Nodes, output *G.Node) error {
	g, err := output.Grad()
	if err != nil {
		return err
	}
	vals := []G.Value{g, inputs[0].Value(), inputs[1].Value(), inputs[2].Value(), output.Value()}
	return accumulateParts(inputs, vals, hqsParts[:], func(part int) G.Op { return newHQSOp(op.b, op.lambda, op.Dtype(), op.shape, part) })
}

// newHQSTables builds the blur's HQS tables in both precisions.
func newHQSTables(k blur.Kernel, h, w int) (*blur.HQS[float32], *blur.HQS[float64], error) {
	s32, err := blur.NewHQS[float32](k, h, w)
	if err != nil {
		return nil, nil, err
	}
	s64, err := blur.NewHQS[float64](k, h, w)
	return s32, s64, err
}
