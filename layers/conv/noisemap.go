package conv

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/opkit"
)

// MinNoiseLevel is the smallest noise level σ_D a ResCNN's projection
// allows: σ_D is clipped to [MinNoiseLevel, ∞) after every optimizer step,
// so it stays positive whatever the step did.
const MinNoiseLevel = 1e-4

// WithNoiseMap builds the denoiser's two-channel input [u, σ·1]: the
// image u (B, N) and a constant map holding the noise level σ (1, 1) in
// every pixel, channel-major per sample, (B, 2N) (DRUNet's noise-level
// input). It is differentiable in u (the first channel of the incoming
// gradient) and in σ (the sum of the second channel's).
func WithNoiseMap(u, sigma *G.Node) (*G.Node, error) {
	s := u.Shape()
	if len(s) != 2 {
		return nil, fmt.Errorf("conv: the noise map needs images (B, N), got %v", s)
	}
	if sigma.Shape().TotalSize() != 1 {
		return nil, fmt.Errorf("conv: the noise level must be one value, got shape %v", sigma.Shape())
	}
	return G.ApplyOp(newNoiseMapOp(u.Dtype(), s, 0), u, sigma)
}

// noiseMapOp is [u, σ·1] (part 0; children u, σ) or one of its gradients
// (child g, (B, 2N)): part 1 the first channel of g (∂u), part 2 the sum of
// its second channel (∂σ, (1, 1)).
type noiseMapOp struct {
	opkit.Base
	shape tensor.Shape // u's (B, N)
	part  int
}

func newNoiseMapOp(dt tensor.Dtype, shape tensor.Shape, part int) *noiseMapOp {
	out := map[int]tensor.Shape{0: {shape[0], 2 * shape[1]}, 1: shape.Clone(), 2: {1, 1}}[part]
	arity := map[int]int{0: 2, 1: 1, 2: 1}[part]
	return &noiseMapOp{shape: shape.Clone(), part: part, Base: opkit.New(fmt.Sprintf("NoiseMap{%d}", part),
		fmt.Sprintf("NoiseMap{%v,%v,%d}", dt, []int(shape), part), dt, arity, out)}
}

func (op *noiseMapOp) Do(vals ...G.Value) (G.Value, error) {
	if err := op.CheckArity(vals); err != nil {
		return nil, fmt.Errorf("conv: %w", err)
	}
	out := op.Output()
	return out, op.Dispatch(func() error { return noiseMapDo[float32](op, out, vals) }, func() error { return noiseMapDo[float64](op, out, vals) })
}

func noiseMapDo[T deq.Float](op *noiseMapOp, out *tensor.Dense, vals []G.Value) error {
	in, err := opkit.Data[T](vals[0])
	if err != nil {
		return err
	}
	b, n := op.shape[0], op.shape[1]
	o := out.Data().([]T)
	switch op.part {
	case 0:
		sig, err := opkit.Data[T](vals[1])
		if err != nil {
			return err
		}
		if len(in) != b*n || len(sig) != 1 {
			return fmt.Errorf("conv: %v got %d image values and %d noise levels, want %d and 1", op, len(in), len(sig), b*n)
		}
		NoiseMap(o, in, sig[0], b)
	case 1, 2:
		if len(in) != 2*b*n {
			return fmt.Errorf("conv: %v got a gradient of %d values, want %d", op, len(in), 2*b*n)
		}
		var s T
		for i := range b {
			g := in[2*i*n : 2*(i+1)*n]
			if op.part == 1 {
				copy(o[i*n:(i+1)*n], g[:n])
				continue
			}
			for _, v := range g[n:] {
				s += v
			}
		}
		if op.part == 2 {
			o[0] = s
		}
	}
	return nil
}

// NoiseMap writes the two-channel input [u, σ·1] of b images u (b·N
// values) into out (2·b·N values), channel-major per image.
func NoiseMap[T deq.Float](out, u []T, sigma T, b int) {
	n := len(u) / b
	for i := range b {
		o := out[2*i*n : 2*(i+1)*n]
		copy(o[:n], u[i*n:(i+1)*n])
		for j := n; j < 2*n; j++ {
			o[j] = sigma
		}
	}
}

func (op *noiseMapOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	for i := range d {
		d[i] = op.part == 0
	}
	return d
}

func (op *noiseMapOp) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	if op.part != 0 {
		return nil, fmt.Errorf("conv: the noise map's gradients are not differentiated again")
	}
	gu, err := G.ApplyOp(newNoiseMapOp(op.Dtype(), op.shape, 1), grad)
	if err != nil {
		return nil, err
	}
	gs, err := G.ApplyOp(newNoiseMapOp(op.Dtype(), op.shape, 2), grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{gu, gs}, nil
}

func (op *noiseMapOp) DoDiff(_ G.ExecutionContext, inputs G.Nodes, output *G.Node) error {
	g, err := output.Grad()
	if err != nil {
		return err
	}
	for i, part := range []int{1, 2} {
		d, err := newNoiseMapOp(op.Dtype(), op.shape, part).Do(g)
		if err != nil {
			return err
		}
		if err := opkit.AccumulateGrad(inputs[i], d); err != nil {
			return err
		}
	}
	return nil
}
