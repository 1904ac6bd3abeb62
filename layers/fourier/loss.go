package fourier

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/chewxy/hm"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/opkit"
)

// RelativeL2Loss is the loss neural operators train with (Li et al.'s
// LpLoss, summed over the batch as Marwah et al. and the paper's code do):
//
//	loss = Σ_r m_r ‖pred_r − target_r‖ / ‖target_r‖,
//
// the relative L2 error of every row whose mask m_r is 1, summed (a row
// whose target is zero counts ‖pred_r‖). Shapes: pred and target (B, …),
// mask (B, 1) or nil for every row; it fits network.Spec's Loss. The
// gradient of a row that predicts its target exactly is taken as zero.
func RelativeL2Loss(pred, target, mask *G.Node) (*G.Node, error) {
	if pred == nil || target == nil || !pred.Shape().Eq(target.Shape()) || len(pred.Shape()) < 1 {
		return nil, fmt.Errorf("fourier: RelativeL2Loss needs a prediction and a target of one shape (B, …)")
	}
	rows := pred.Shape()[0]
	children := G.Nodes{pred, target}
	if mask != nil {
		if mask.Shape().TotalSize() != rows {
			return nil, fmt.Errorf("fourier: RelativeL2Loss mask has shape %v, want (%d, 1)", mask.Shape(), rows)
		}
		children = append(children, mask)
	}
	return G.ApplyOp(newRelL2Op(pred.Dtype(), pred.Shape(), mask), children...)
}

// relL2Op computes the loss; children pred, target and the mask if any.
// As the gradient (grad set) it computes ∂loss/∂pred · g from the same
// children and g.
type relL2Op struct {
	opkit.Base
	shape  tensor.Shape
	masked bool
	grad   bool
}

func newRelL2Op(dt tensor.Dtype, shape tensor.Shape, mask *G.Node) *relL2Op {
	op := &relL2Op{shape: shape.Clone(), masked: mask != nil}
	op.Base = op.base(dt, "RelativeL2Loss", tensor.ScalarShape(), dt)
	return op
}

// gradOp is the op of ∂loss/∂pred · g.
func (op *relL2Op) gradOp() *relL2Op {
	dt := op.Dtype()
	g := &relL2Op{shape: op.shape, masked: op.masked, grad: true}
	g.Base = g.base(dt, "RelativeL2LossGrad", op.shape, G.TensorType{Dims: len(op.shape), Of: dt})
	return g
}

// base builds the op's Base: children pred, target, the mask if masked
// and g if grad, then the output's type.
func (op *relL2Op) base(dt tensor.Dtype, name string, out tensor.Shape, outType hm.Type) opkit.Base {
	t := G.TensorType{Dims: len(op.shape), Of: dt}
	ts := []hm.Type{t, t}
	if op.masked {
		ts = append(ts, G.TensorType{Dims: 2, Of: dt})
	}
	if op.grad {
		ts = append(ts, dt)
	}
	key := fmt.Sprintf("fourier.%s{%v,%v,%v}", name, dt, []int(op.shape), op.masked)
	return opkit.New(name, key, dt, len(ts), out).WithTypes(append(ts, outType)...)
}

func (op *relL2Op) Do(vals ...G.Value) (G.Value, error) {
	if err := op.CheckArity(vals); err != nil {
		return nil, fmt.Errorf("fourier: %w", err)
	}
	if !op.grad {
		var out G.Value
		err := op.Dispatch(
			func() error {
				l, err := relL2[float32](vals, op.shape[0], nil, 0)
				out = G.NewF32(float32(l))
				return err
			},
			func() error { l, err := relL2[float64](vals, op.shape[0], nil, 0); out = G.NewF64(l); return err })
		return out, err
	}
	out := op.Output()
	n := len(vals) - 1
	return out, op.Dispatch(
		func() error { return relL2Grad[float32](vals[:n], op.shape[0], vals[n], out) },
		func() error { return relL2Grad[float64](vals[:n], op.shape[0], vals[n], out) })
}

func relL2Grad[T deq.Float](vals []G.Value, rows int, gv G.Value, out *tensor.Dense) error {
	g, err := opkit.Data[T](gv)
	if err != nil {
		return err
	}
	_, err = relL2(vals, rows, out.Data().([]T), float64(g[0]))
	return err
}

// relL2 returns the loss of rows rows and, when grad is not nil, writes
// its gradient with respect to pred, times g, into grad.
func relL2[T deq.Float](vals []G.Value, rows int, grad []T, g float64) (float64, error) {
	p, err := opkit.Data[T](vals[0])
	if err != nil {
		return 0, err
	}
	t, err := opkit.Data[T](vals[1])
	if err != nil {
		return 0, err
	}
	var m []T
	if len(vals) > 2 {
		if m, err = opkit.Data[T](vals[2]); err != nil {
			return 0, err
		}
	}
	if len(p) != len(t) || (m != nil && len(m) != rows) || len(p)%rows != 0 {
		return 0, fmt.Errorf("fourier: RelativeL2Loss got values of the wrong size")
	}
	d := len(p) / rows
	var loss float64
	for r := range rows {
		w := 1.0
		if m != nil {
			w = float64(m[r])
		}
		var dn, tn float64
		for j := r * d; j < (r+1)*d; j++ {
			e := float64(p[j]) - float64(t[j])
			dn += e * e
			tn += float64(t[j]) * float64(t[j])
		}
		dn, tn = math.Sqrt(dn), math.Sqrt(tn)
		if tn == 0 {
			tn = 1
		}
		loss += w * dn / tn
		if grad == nil {
			continue
		}
		scale := 0.0
		if dn > 0 {
			scale = g * w / (dn * tn)
		}
		for j := r * d; j < (r+1)*d; j++ {
			grad[j] = T(scale * (float64(p[j]) - float64(t[j])))
		}
	}
	return loss, nil
}

func (op *relL2Op) DiffWRT(n int) []bool {
	d := make([]bool, n)
	if !op.grad {
		d[0] = true
	}
	return d
}

func (op *relL2Op) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	if op.grad {
		return nil, fmt.Errorf("fourier: RelativeL2Loss is not differentiated twice")
	}
	d, err := G.ApplyOp(op.gradOp(), append(append(G.Nodes{}, inputs...), grad)...)
	out := make(G.Nodes, len(inputs))
	out[0] = d
	return out, err
}

func (op *relL2Op) DoDiff(_ G.ExecutionContext, inputs G.Nodes, output *G.Node) error {
	if op.grad {
		return fmt.Errorf("fourier: RelativeL2Loss is not differentiated twice")
	}
	g, err := output.Grad()
	if err != nil {
		return err
	}
	vals := make([]G.Value, 0, len(inputs)+1)
	for _, n := range inputs {
		vals = append(vals, n.Value())
	}
	d, err := op.gradOp().Do(append(vals, g)...)
	if err != nil {
		return err
	}
	return opkit.AccumulateGrad(inputs[0], d)
}
