package layers

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/linalg"
	"github.com/implicit-ml/implicit/internal/opkit"
)

// GELU as a kernel and as one op, for the families whose GELU sits where
// the fused ops cannot take it. In its tanh form (the formula of GELU):
//
//	φ(x)  = ½x(1 + t),  t = tanh(c(x + a·x³)),  c = √(2/π), a = 0.044715,
//	φ'(x) = ½(1 + t) + ½x(1 − t²)·c(1 + 3a·x²).
//
// φ' is not a function of φ's output (GELU is not monotone), so the op
// keeps its input and the kernels take φ' from the pre-activation; the
// tanh runs through Activate, vectorised in float32. PyTorch's default
// GELU is the erf form; the two differ by less than 5e-4 everywhere.
const geluA = 0.044715

// EvalGELU writes φ(x) into y and φ'(x) into d, either of which may be
// nil, using tmp (len(x) values) as scratch: the GELU step of a
// hand-written kernel. y may be x or tmp; tmp must not be x.
func EvalGELU[T deq.Float](y, d, x, tmp []T) {
	tmp = tmp[:len(x)]
	for i, v := range x {
		tmp[i] = geluC * (v + geluA*v*v*v)
	}
	Activate(Tanh, tmp, nil)
	for i, v := range x {
		t := tmp[i]
		if d != nil {
			d[i] = 0.5*(1+t) + 0.5*v*(1-t*t)*geluC*(1+3*geluA*v*v)
		}
		if y != nil {
			y[i] = 0.5 * v * (1 + t)
		}
	}
}

// FusedGELU builds φ(x) elementwise as one op, for x of any shape; its
// gradient is one op too, taking φ' from x. GELU.Apply builds the same
// formula from Gorgonia's primitive ops, which can be differentiated
// twice; FusedGELU's gradient cannot, and it is the cheaper one.
func FusedGELU(x *G.Node) (*G.Node, error) {
	if x == nil {
		return nil, fmt.Errorf("layers: FusedGELU of a nil node")
	}
	dt := x.Dtype()
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return nil, fmt.Errorf("layers: FusedGELU needs float32 or float64, got %v", dt)
	}
	return G.ApplyOp(newGeluOp(dt, x.Shape(), false), x)
}

// geluOp computes φ(x) (child x) or, as the gradient, ∂y ⊙ φ'(x)
// (children x and ∂y).
type geluOp struct {
	opkit.Base
	grad    bool
	scratch *opkit.Buf // the tanh's, reused across runs
}

func newGeluOp(dt tensor.Dtype, shape tensor.Shape, grad bool) *geluOp {
	name := "GELU"
	if grad {
		name = "GELUGrad"
	}
	return &geluOp{grad: grad, scratch: &opkit.Buf{}, Base: opkit.New(name, fmt.Sprintf("layers.%s{%v,%v}", name, dt, []int(shape)), dt, 1+opkit.Btoi(grad), shape)}
}

func (op *geluOp) Do(vals ...G.Value) (G.Value, error) {
	return opkit.Do(op, "layers", vals, geluDo[float32], geluDo[float64])
}

func geluDo[T deq.Float](op *geluOp, out *tensor.Dense, vals []G.Value) error {
	x, err := opkit.Data[T](vals[0])
	if err != nil {
		return err
	}
	var g []T
	if op.grad {
		if g, err = opkit.Data[T](vals[1]); err != nil {
			return err
		}
	}
	o := out.Data().([]T)
	if len(x) != len(o) || (op.grad && len(g) != len(o)) {
		return fmt.Errorf("layers: %v got values of the wrong size", op)
	}
	scratch := op.scratch.Get(op.Dtype(), op.Shape()).Data().([]T)
	linalg.Rows(len(o), 1, func(lo, hi int) {
		tmp := scratch[lo:hi]
		if !op.grad {
			EvalGELU(o[lo:hi], nil, x[lo:hi], tmp)
			return
		}
		EvalGELU(nil, o[lo:hi], x[lo:hi], tmp)
		for i, v := range g[lo:hi] {
			o[lo+i] *= v
		}
	})
	if op.grad {
		opkit.FlushSubnormal(o)
	}
	return nil
}

func (op *geluOp) DiffWRT(n int) []bool {
	if op.grad {
		return make([]bool, n)
	}
	return opkit.AllTrue(n)
}

// SymDiff: ∂x = ∂y ⊙ φ'(x). The gradient is not differentiated again.
func (op *geluOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	if op.grad {
		return nil, fmt.Errorf("layers: the FusedGELU gradient is not differentiated again")
	}
	dx, err := G.ApplyOp(newGeluOp(op.Dtype(), op.Shape(), true), inputs[0], grad)
	return G.Nodes{dx}, err
}

// DoDiff is SymDiff for Gorgonia's LispMachine.
func (op *geluOp) DoDiff(_ G.ExecutionContext, inputs G.Nodes, output *G.Node) error {
	if op.grad {
		return fmt.Errorf("layers: the FusedGELU gradient is not differentiated again")
	}
	g, err := output.Grad()
	if err != nil {
		return err
	}
	d, err := newGeluOp(op.Dtype(), op.Shape(), true).Do(inputs[0].Value(), g)
	if err != nil {
		return err
	}
	return opkit.AccumulateGrad(inputs[0], d)
}
