package layers

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/opkit"
)

// MaskedMSE is the mean squared error over the rows whose mask is 1:
//
//	loss = Σ_r m_r Σ_j (pred_rj − target_rj)² / (d · Σ_r m_r).
//
// Shapes: pred and target (B, …) with d values per row, mask (B, 1). The
// padding rows of a partial batch have mask 0 and drop out of the loss and
// its gradient, which plain MSE cannot do for regression targets. A nil
// mask means every row counts.
func MaskedMSE(pred, target, mask *G.Node) (*G.Node, error) {
	if !pred.Shape().Eq(target.Shape()) {
		return nil, fmt.Errorf("layers: MaskedMSE shapes differ: %v and %v", pred.Shape(), target.Shape())
	}
	if mask == nil {
		return MSE(pred, target)
	}
	rows := pred.Shape()[0]
	if ms := mask.Shape(); ms.TotalSize() != rows {
		return nil, fmt.Errorf("layers: MaskedMSE mask has shape %v, want (%d, 1)", ms, rows)
	}
	return G.ApplyOp(newMaskedMSEOp(pred.Dtype(), pred.Shape(), mask.Shape()), pred, target, mask)
}

// maskedMSEOp computes the masked mean squared error. Children: pred,
// target, mask.
type maskedMSEOp struct {
	opkit.Base
	shape, mshape tensor.Shape
}

func newMaskedMSEOp(dt tensor.Dtype, shape, mshape tensor.Shape) *maskedMSEOp {
	t := G.TensorType{Dims: len(shape), Of: dt}
	op := &maskedMSEOp{shape: shape.Clone(), mshape: mshape.Clone()}
	op.Base = opkit.New("MaskedMSE", fmt.Sprintf("MaskedMSE{%v,%v}", dt, []int(shape)), dt, 3, tensor.ScalarShape()).
		WithTypes(t, t, G.TensorType{Dims: len(mshape), Of: dt}, dt)
	return op
}

func (op *maskedMSEOp) Do(vals ...G.Value) (G.Value, error) {
	var out G.Value
	err := op.Dispatch(
		func() error { l, err := maskedMSE[float32](vals, nil, 0); out = G.NewF32(float32(l)); return err },
		func() error { l, err := maskedMSE[float64](vals, nil, 0); out = G.NewF64(l); return err })
	return out, err
}

// maskedMSE returns the loss and, when grad is not nil, writes the
// gradient scaled by g into it.
func maskedMSE[T deq.Float](vals []G.Value, grad []T, g float64) (float64, error) {
	p, err := opkit.Data[T](vals[0])
	if err != nil {
		return 0, err
	}
	t, err := opkit.Data[T](vals[1])
	if err != nil {
		return 0, err
	}
	m, err := opkit.Data[T](vals[2])
	if err != nil {
		return 0, err
	}
	d := len(p) / len(m)
	mass := 0.0
	for _, v := range m {
		mass += float64(v)
	}
	if mass == 0 {
		clear(grad)
		return 0, nil
	}
	norm := 1 / (float64(d) * mass)
	var loss float64
	for r, w := range m {
		for j := r * d; j < (r+1)*d; j++ {
			e := float64(p[j]) - float64(t[j])
			loss += float64(w) * e * e
			if grad != nil {
				grad[j] = T(2 * g * norm * float64(w) * e)
			}
		}
	}
	return loss * norm, nil
}

func (op *maskedMSEOp) DiffWRT(int) []bool { return []bool{true, false, false} }

func (op *maskedMSEOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(newMaskedMSEGradOp(op), inputs[0], inputs[1], inputs[2], grad)
	return G.Nodes{d, nil, nil}, err
}

func (op *maskedMSEOp) DoDiff(_ G.ExecutionContext, inputs G.Nodes, output *G.Node) error {
	g, err := output.Grad()
	if err != nil {
		return err
	}
	d, err := newMaskedMSEGradOp(op).Do(inputs[0].Value(), inputs[1].Value(), inputs[2].Value(), g)
	if err != nil {
		return err
	}
	return opkit.AccumulateGrad(inputs[0], d)
}

// maskedMSEGradOp is ∂loss/∂pred · g. Children: pred, target, mask, g.
type maskedMSEGradOp struct{ opkit.Base }

func newMaskedMSEGradOp(f *maskedMSEOp) *maskedMSEGradOp {
	dt := f.Dtype()
	t := G.TensorType{Dims: len(f.shape), Of: dt}
	return &maskedMSEGradOp{opkit.New("MaskedMSEGrad", "MaskedMSEGrad/"+fmt.Sprintf("MaskedMSE{%v,%v}", dt, []int(f.shape)), dt, 4, f.shape).
		WithTypes(t, t, G.TensorType{Dims: len(f.mshape), Of: dt}, dt, t)}
}

func (op *maskedMSEGradOp) DiffWRT(n int) []bool { return make([]bool, n) }
func (op *maskedMSEGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("layers: MaskedMSE is not differentiated twice")
}

func (op *maskedMSEGradOp) Do(vals ...G.Value) (G.Value, error) {
	out := op.Output()
	return out, op.Dispatch(
		func() error {
			g, err := opkit.Data[float32](vals[3])
			if err != nil {
				return err
			}
			_, err = maskedMSE(vals[:3], out.Data().([]float32), float64(g[0]))
			return err
		},
		func() error {
			g, err := opkit.Data[float64](vals[3])
			if err != nil {
				return err
			}
			_, err = maskedMSE(vals[:3], out.Data().([]float64), g[0])
			return err
		})
}
