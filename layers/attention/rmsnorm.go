package attention

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/internal/linalg"
	"github.com/implicit-ml/implicit/internal/opkit"
	"github.com/implicit-ml/implicit/layers"
)

// DefaultEps is the ε of RMSNorm when a configuration leaves it zero.
const DefaultEps = 1e-6

// RMSNorm is root-mean-square normalisation with a learned gain, row by
// row:
//
//	y = x / √(mean(x²) + ε) ⊙ g
//
// Shapes: x and y are (N, D) (N = B·T tokens), the gain g is (1, D),
// initialised to ones. It is one fused op with its exact gradient.
type RMSNorm struct {
	Gain *G.Node
	Dim  int
	// Eps is ε (DefaultEps when built with 0).
	Eps float64
	err error
}

var _ layers.Layer = (*RMSNorm)(nil)

// NewRMSNorm creates an RMSNorm over dim features with parameter
// name.gain; eps = 0 means DefaultEps.
func NewRMSNorm(s *layers.Scope, name string, dim int, eps float64) *RMSNorm {
	if eps == 0 {
		eps = DefaultEps
	}
	n := &RMSNorm{Dim: dim, Eps: eps}
	switch {
	case dim < 1:
		n.err = s.Fail(fmt.Errorf("attention: RMSNorm %q needs a positive width, got %d", name, dim))
		return n
	case !(eps > 0) || math.IsInf(eps, 0):
		n.err = s.Fail(fmt.Errorf("attention: RMSNorm %q needs ε > 0, got %v", name, eps))
		return n
	}
	n.Gain = s.Param(name+".gain", tensor.Shape{1, dim}, layers.Constant(1))
	n.err = s.Err()
	return n
}

// Fwd implements layers.Layer.
func (n *RMSNorm) Fwd(x *G.Node) (*G.Node, error) {
	if n.err != nil {
		return nil, n.err
	}
	return NormRMS(x, n.Gain, n.Eps)
}

// Params implements layers.Layer.
func (n *RMSNorm) Params() G.Nodes {
	if n.err != nil {
		return nil
	}
	return G.Nodes{n.Gain}
}

// with returns the layer with its gain replaced by p[0] (a builder
// cell's stand-in), and the number of parameters it took.
func (n *RMSNorm) with(p G.Nodes) (*RMSNorm, int) {
	c := *n
	c.Gain = p[0]
	return &c, 1
}

// NormRMS builds x / √(mean(x²) + ε) ⊙ gain row by row as one op. Shapes:
// x (N, D), gain (1, D); the output is (N, D).
func NormRMS(x, gain *G.Node, eps float64) (*G.Node, error) {
	xs, gs := x.Shape(), gain.Shape()
	switch {
	case len(xs) != 2 || len(gs) != 2 || gs[0] != 1 || gs[1] != xs[1]:
		return nil, fmt.Errorf("attention: RMSNorm needs x (N, D) and gain (1, D), got %v and %v", xs, gs)
	case !(eps > 0):
		return nil, fmt.Errorf("attention: RMSNorm needs ε > 0, got %v", eps)
	case x.Dtype() != gain.Dtype():
		return nil, fmt.Errorf("attention: RMSNorm dtypes differ: %v and %v", x.Dtype(), gain.Dtype())
	}
	return G.ApplyOp(newRMSOp(x.Dtype(), xs[0], xs[1], eps), x, gain)
}

// rmsOp computes the normalisation. Children: x, gain.
type rmsOp struct {
	opkit.Base
	n, d int
	eps  float64
}

func newRMSOp(dt tensor.Dtype, n, d int, eps float64) *rmsOp {
	return &rmsOp{n: n, d: d, eps: eps,
		Base: opkit.New("RMSNorm", fmt.Sprintf("attention.RMSNorm{%v,%d,%d,%v}", dt, n, d, eps), dt, 2, tensor.Shape{n, d})}
}

func (op *rmsOp) Do(vals ...G.Value) (G.Value, error) {
	return opkit.Do(op, "attention", vals, rmsDo[float32], rmsDo[float64])
}

func rmsDo[T opkit.Float](op *rmsOp, out *tensor.Dense, vals []G.Value) error {
	x, g, err := twoInputs[T](vals)
	if err != nil {
		return err
	}
	if len(x) != op.n*op.d || len(g) != op.d {
		return fmt.Errorf("attention: RMSNorm got %d and %d values, want %d and %d", len(x), len(g), op.n*op.d, op.d)
	}
	y, d := out.Data().([]T), op.d
	linalg.Rows(op.n, d, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, yr := x[r*d:(r+1)*d], y[r*d:(r+1)*d]
			inv := T(invRMS(xr, op.eps))
			for j, v := range xr {
				yr[j] = v * inv * g[j]
			}
		}
	})
	return nil
}

// invRMS is 1/√(mean(x²) + ε), summed in float64.
func invRMS[T opkit.Float](x []T, eps float64) float64 {
	ss := 0.0
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	return 1 / math.Sqrt(ss/float64(len(x))+eps)
}

func twoInputs[T opkit.Float](vals []G.Value) ([]T, []T, error) {
	a, err := opkit.Data[T](vals[0])
	if err != nil {
		return nil, nil, err
	}
	b, err := opkit.Data[T](vals[1])
	return a, b, err
}

func (op *rmsOp) DiffWRT(int) []bool { return []bool{true, true} }

// SymDiff: with r = 1/√(mean(x²) + ε), x̂ = r·x and h = ∂y ⊙ g per row,
// ∂x = r·(h − x̂·mean(h ⊙ x̂)) and ∂g = Σ_rows ∂y ⊙ x̂.
func (op *rmsOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(op.grad(0), inputs[0], inputs[1], grad)
	if err != nil {
		return nil, err
	}
	dg, err := G.ApplyOp(op.grad(1), inputs[0], grad)
	return G.Nodes{dx, dg}, err
}

func (op *rmsOp) DoDiff(_ G.ExecutionContext, inputs G.Nodes, output *G.Node) error {
	g, err := output.Grad()
	if err != nil {
		return err
	}
	x, gain := inputs[0].Value(), inputs[1].Value()
	for part, args := range [][]G.Value{{x, gain, g}, {x, g}} {
		d, err := op.grad(part).Do(args...)
		if err != nil {
			return err
		}
		if err := opkit.AccumulateGrad(inputs[part], d); err != nil {
			return err
		}
	}
	return nil
}

// grad returns the op computing ∂x (part 0; children x, gain, ∂y) or ∂g
// (part 1; children x, ∂y).
func (op *rmsOp) grad(part int) *rmsGradOp {
	dt := op.Dtype()
	arity, out := 3, tensor.Shape{op.n, op.d}
	if part == 1 {
		arity, out = 2, tensor.Shape{1, op.d}
	}
	return &rmsGradOp{n: op.n, d: op.d, eps: op.eps, part: part,
		Base: opkit.New("RMSNormGrad"+[2]string{"X", "Gain"}[part], fmt.Sprintf("attention.RMSNormGrad{%v,%d,%d,%v,%d}", dt, op.n, op.d, op.eps, part), dt, arity, out)}
}

// rmsGradOp is a gradient of RMSNorm (see rmsOp.grad).
type rmsGradOp struct {
	opkit.Base
	n, d, part int
	eps        float64
}

func (op *rmsGradOp) Do(vals ...G.Value) (G.Value, error) {
	return opkit.Do(op, "attention", vals, rmsGradDo[float32], rmsGradDo[float64])
}

func rmsGradDo[T opkit.Float](op *rmsGradOp, out *tensor.Dense, vals []G.Value) error {
	var in [3][]T
	for i, v := range vals {
		d, err := opkit.Data[T](v)
		if err != nil {
			return err
		}
		in[i] = d
	}
	x, dy, d := in[0], in[len(vals)-1], op.d
	if len(x) != op.n*d || len(dy) != op.n*d || (op.part == 0 && len(in[1]) != d) {
		return fmt.Errorf("attention: RMSNorm gradient got values of the wrong size")
	}
	o := out.Data().([]T)
	if op.part == 1 {
		acc := make([]float64, d)
		for r := range op.n {
			xr, gr := x[r*d:(r+1)*d], dy[r*d:(r+1)*d]
			inv := invRMS(xr, op.eps)
			for j, v := range xr {
				acc[j] += float64(gr[j]) * float64(v) * inv
			}
		}
		for j, v := range acc {
			o[j] = T(v)
		}
		return nil
	}
	gain := in[1]
	linalg.Rows(op.n, d, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, gr, or := x[r*d:(r+1)*d], dy[r*d:(r+1)*d], o[r*d:(r+1)*d]
			inv := invRMS(xr, op.eps)
			dot := 0.0 // Σ h ⊙ x̂
			for j, v := range xr {
				dot += float64(gr[j]) * float64(gain[j]) * float64(v)
			}
			c := T(dot * inv * inv / float64(d)) // mean(h ⊙ x̂)·r, on x
			for j, v := range xr {
				or[j] = T(inv) * (gr[j]*gain[j] - v*c)
			}
		}
	})
	return nil
}

func (op *rmsGradOp) DiffWRT(n int) []bool { return make([]bool, n) }
func (op *rmsGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("attention: the RMSNorm gradient is not differentiated again")
}
