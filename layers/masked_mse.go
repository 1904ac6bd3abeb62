package layers

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
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
	op := &maskedMSEOp{dt: pred.Dtype(), shape: pred.Shape().Clone(), mshape: mask.Shape().Clone(), buf: &outBuf{}}
	return G.ApplyOp(op, pred, target, mask)
}

// maskedMSEOp computes the masked mean squared error. Children: pred,
// target, mask.
type maskedMSEOp struct {
	dt            tensor.Dtype
	shape, mshape tensor.Shape
	buf           *outBuf // the gradient's buffer
}

func (op *maskedMSEOp) Arity() int { return 3 }
func (op *maskedMSEOp) Type() hm.Type {
	t := G.TensorType{Dims: len(op.shape), Of: op.dt}
	return hm.NewFnType(t, t, G.TensorType{Dims: len(op.mshape), Of: op.dt}, op.dt)
}
func (op *maskedMSEOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}
func (op *maskedMSEOp) ReturnsPtr() bool     { return false }
func (op *maskedMSEOp) CallsExtern() bool    { return false }
func (op *maskedMSEOp) OverwritesInput() int { return -1 }
func (op *maskedMSEOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "MaskedMSE{%v,%v}", op.dt, []int(op.shape))
}
func (op *maskedMSEOp) Hashcode() uint32 { return hashOf(op) }
func (op *maskedMSEOp) String() string   { return "MaskedMSE" }

func (op *maskedMSEOp) Do(vals ...G.Value) (G.Value, error) {
	if op.dt == tensor.Float32 {
		l, err := maskedMSE[float32](vals, nil, 0)
		return G.NewF32(float32(l)), err
	}
	l, err := maskedMSE[float64](vals, nil, 0)
	return G.NewF64(l), err
}

// maskedMSE returns the loss and, when grad is not nil, writes the
// gradient scaled by g into it.
func maskedMSE[T deq.Float](vals []G.Value, grad []T, g float64) (float64, error) {
	p, err := data[T](vals[0])
	if err != nil {
		return 0, err
	}
	t, err := data[T](vals[1])
	if err != nil {
		return 0, err
	}
	m, err := data[T](vals[2])
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
	d, err := G.ApplyOp(&maskedMSEGradOp{fwd: op}, inputs[0], inputs[1], inputs[2], grad)
	return G.Nodes{d, nil, nil}, err
}

func (op *maskedMSEOp) DoDiff(_ G.ExecutionContext, inputs G.Nodes, output *G.Node) error {
	g, err := output.Grad()
	if err != nil {
		return err
	}
	d, err := (&maskedMSEGradOp{fwd: op}).Do(inputs[0].Value(), inputs[1].Value(), inputs[2].Value(), g)
	if err != nil {
		return err
	}
	return accumulateGrad(inputs[0], d)
}

// maskedMSEGradOp is ∂loss/∂pred · g. Children: pred, target, mask, g.
type maskedMSEGradOp struct{ fwd *maskedMSEOp }

func (op *maskedMSEGradOp) Arity() int { return 4 }
func (op *maskedMSEGradOp) Type() hm.Type {
	f := op.fwd
	t := G.TensorType{Dims: len(f.shape), Of: f.dt}
	return hm.NewFnType(t, t, G.TensorType{Dims: len(f.mshape), Of: f.dt}, f.dt, t)
}
func (op *maskedMSEGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.fwd.shape.Clone(), nil
}
func (op *maskedMSEGradOp) ReturnsPtr() bool     { return false }
func (op *maskedMSEGradOp) CallsExtern() bool    { return false }
func (op *maskedMSEGradOp) OverwritesInput() int { return -1 }
func (op *maskedMSEGradOp) WriteHash(h hash.Hash) {
	fmt.Fprint(h, "MaskedMSEGrad/")
	op.fwd.WriteHash(h)
}
func (op *maskedMSEGradOp) Hashcode() uint32     { return hashOf(op) }
func (op *maskedMSEGradOp) String() string       { return "MaskedMSEGrad" }
func (op *maskedMSEGradOp) DiffWRT(n int) []bool { return make([]bool, n) }
func (op *maskedMSEGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("layers: MaskedMSE is not differentiated twice")
}

func (op *maskedMSEGradOp) Do(vals ...G.Value) (G.Value, error) {
	out := op.fwd.buf.get(op.fwd.dt, op.fwd.shape)
	var err error
	if op.fwd.dt == tensor.Float32 {
		g, e := data[float32](vals[3])
		if e != nil {
			return nil, e
		}
		_, err = maskedMSE(vals[:3], out.Data().([]float32), float64(g[0]))
	} else {
		g, e := data[float64](vals[3])
		if e != nil {
			return nil, e
		}
		_, err = maskedMSE(vals[:3], out.Data().([]float64), g[0])
	}
	return out, err
}
