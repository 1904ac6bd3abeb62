package layers

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/opkit"
)

// SoftmaxCrossEntropy returns the mean cross-entropy between softmax(logits)
// and targets:
//
//	loss = −Σ_s Σ_k y_sk log softmax(x_s)_k / Σ_s Σ_k y_sk.
//
// Shapes: logits and targets are (B, K); targets are one-hot rows (or
// probability rows). A row of zeros is a padding row: it adds nothing to
// the loss or the gradient, which is how the last partial batch of a
// static-shape graph is masked. The log-sum-exp is computed stably in one
// fused op.
func SoftmaxCrossEntropy(logits, targets *G.Node) (*G.Node, error) {
	ls, ts := logits.Shape(), targets.Shape()
	if len(ls) != 2 || !ls.Eq(ts) {
		return nil, fmt.Errorf("layers: SoftmaxCrossEntropy needs logits and targets of equal shape (B, K), got %v and %v", ls, ts)
	}
	if logits.Dtype() != targets.Dtype() {
		return nil, fmt.Errorf("layers: SoftmaxCrossEntropy dtypes differ: %v and %v", logits.Dtype(), targets.Dtype())
	}
	return G.ApplyOp(newSoftmaxCEOp(logits.Dtype()), logits, targets)
}

// MSE returns the mean squared error mean((pred − target)²) over all
// entries. Shapes must be equal.
func MSE(pred, target *G.Node) (*G.Node, error) {
	if !pred.Shape().Eq(target.Shape()) {
		return nil, fmt.Errorf("layers: MSE shapes differ: %v and %v", pred.Shape(), target.Shape())
	}
	d, err := G.Sub(pred, target)
	if err != nil {
		return nil, err
	}
	if d, err = G.Square(d); err != nil {
		return nil, err
	}
	return G.Mean(d)
}

// softmaxCEOp computes the masked mean cross-entropy (children: logits,
// targets).
type softmaxCEOp struct{ opkit.Base }

func newSoftmaxCEOp(dt tensor.Dtype) *softmaxCEOp {
	t := G.TensorType{Dims: 2, Of: dt}
	return &softmaxCEOp{opkit.New("SoftmaxCE", fmt.Sprintf("SoftmaxCE{%v}", dt), dt, 2, tensor.ScalarShape()).WithTypes(t, t, dt)}
}

func (op *softmaxCEOp) Do(vals ...G.Value) (G.Value, error) {
	if err := op.CheckArity(vals); err != nil {
		return nil, fmt.Errorf("layers: %w", err)
	}
	k := vals[0].Shape()[1]
	var out G.Value
	err := op.Dispatch(
		func() error {
			l, err := ceForward[float32](vals[0], vals[1], k)
			out = G.NewF32(float32(l))
			return err
		},
		func() error { l, err := ceForward[float64](vals[0], vals[1], k); out = G.NewF64(l); return err })
	return out, err
}

func ceForward[T deq.Float](lv, tv G.Value, k int) (float64, error) {
	x, err := opkit.Data[T](lv)
	if err != nil {
		return 0, err
	}
	y, err := opkit.Data[T](tv)
	if err != nil {
		return 0, err
	}
	var loss, mass float64
	for r := 0; r < len(x)/k; r++ {
		xr, yr := x[r*k:(r+1)*k], y[r*k:(r+1)*k]
		lse := logSumExp(xr)
		for j := range xr {
			if yr[j] != 0 {
				loss += float64(yr[j]) * (lse - float64(xr[j]))
				mass += float64(yr[j])
			}
		}
	}
	if mass == 0 {
		return 0, nil
	}
	return loss / mass, nil
}

func logSumExp[T deq.Float](x []T) float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, float64(v))
	}
	s := 0.0
	for _, v := range x {
		s += math.Exp(float64(v) - m)
	}
	return m + math.Log(s)
}

func (op *softmaxCEOp) DiffWRT(int) []bool { return []bool{true, false} }

func (op *softmaxCEOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(newSoftmaxCEGradOp(op.Dtype()), inputs[0], inputs[1], grad)
	return G.Nodes{d, nil}, err
}

func (op *softmaxCEOp) DoDiff(ctx G.ExecutionContext, inputs G.Nodes, output *G.Node) error {
	g, err := output.Grad()
	if err != nil {
		return err
	}
	d, err := newSoftmaxCEGradOp(op.Dtype()).Do(inputs[0].Value(), inputs[1].Value(), g)
	if err != nil {
		return err
	}
	return opkit.AccumulateGrad(inputs[0], d)
}

// softmaxCEGradOp computes ∂loss/∂logits · g (children: logits, targets,
// incoming scalar gradient g).
type softmaxCEGradOp struct{ opkit.Base }

func newSoftmaxCEGradOp(dt tensor.Dtype) *softmaxCEGradOp {
	t := G.TensorType{Dims: 2, Of: dt}
	return &softmaxCEGradOp{opkit.New("SoftmaxCEGrad", fmt.Sprintf("SoftmaxCEGrad{%v}", dt), dt, 3, tensor.Shape{0, 0}).WithTypes(t, t, dt, t)}
}

// InferShape overrides the base's: the gradient has the logits' shape.
func (op *softmaxCEGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *softmaxCEGradOp) Do(vals ...G.Value) (G.Value, error) {
	if err := op.CheckArity(vals); err != nil {
		return nil, fmt.Errorf("layers: %w", err)
	}
	var out G.Value
	err := op.Dispatch(
		func() (err error) { out, err = ceBackward[float32](vals[0], vals[1], vals[2]); return err },
		func() (err error) { out, err = ceBackward[float64](vals[0], vals[1], vals[2]); return err })
	return out, err
}

func ceBackward[T deq.Float](lv, tv, gv G.Value) (G.Value, error) {
	x, err := opkit.Data[T](lv)
	if err != nil {
		return nil, err
	}
	y, err := opkit.Data[T](tv)
	if err != nil {
		return nil, err
	}
	g, err := opkit.Data[T](gv)
	if err != nil {
		return nil, err
	}
	shape := lv.Shape().Clone()
	k := shape[1]
	out := make([]T, len(x))
	mass := 0.0
	for _, v := range y {
		mass += float64(v)
	}
	if mass != 0 {
		scale := float64(g[0]) / mass
		for r := 0; r < len(x)/k; r++ {
			xr, yr, or := x[r*k:(r+1)*k], y[r*k:(r+1)*k], out[r*k:(r+1)*k]
			rowMass := 0.0
			for _, v := range yr {
				rowMass += float64(v)
			}
			if rowMass == 0 {
				continue
			}
			lse := logSumExp(xr)
			for j := range xr {
				p := math.Exp(float64(xr[j]) - lse)
				or[j] = T(scale * (rowMass*p - float64(yr[j])))
			}
		}
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(out)), nil
}
