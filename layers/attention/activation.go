package attention

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/internal/linalg"
	"github.com/implicit-ml/implicit/internal/opkit"
	"github.com/implicit-ml/implicit/layers"
)

// Nonlinearity is the activation of the MLP blocks. Their derivatives are
// not functions of their outputs, so layers' fused ops (which recover φ'
// from φ) cannot take them; the ops here keep the pre-activation instead.
type Nonlinearity int

const (
	// SiLU is x·σ(x) (Huginn's, inside its gated MLP). The zero value.
	SiLU Nonlinearity = iota
	// GELU is x·Φ(x) in its tanh approximation
	// ½x(1 + tanh(√(2/π)(x + 0.044715x³))), as layers.GELU.
	GELU
)

// String names the nonlinearity.
func (a Nonlinearity) String() string {
	switch a {
	case SiLU:
		return "silu"
	case GELU:
		return "gelu"
	}
	return fmt.Sprintf("Nonlinearity(%d)", int(a))
}

func (a Nonlinearity) check() error {
	if a != SiLU && a != GELU {
		return fmt.Errorf("attention: unknown nonlinearity %d (use SiLU or GELU)", int(a))
	}
	return nil
}

// Apply builds φ(x) elementwise as one op (any shape of rank 2).
func (a Nonlinearity) Apply(x *G.Node) (*G.Node, error) { return a.apply(x, nil) }

// Gated builds φ(x) ⊙ gate as one op (the gated linear unit, SwiGLU for
// SiLU); x and gate have equal shapes of rank 2.
func (a Nonlinearity) Gated(x, gate *G.Node) (*G.Node, error) {
	if gate == nil {
		return nil, fmt.Errorf("attention: Gated needs a gate")
	}
	return a.apply(x, gate)
}

func (a Nonlinearity) apply(x, gate *G.Node) (*G.Node, error) {
	if err := a.check(); err != nil {
		return nil, err
	}
	s := x.Shape()
	if len(s) != 2 {
		return nil, fmt.Errorf("attention: %v needs a matrix, got shape %v", a, s)
	}
	children := G.Nodes{x}
	if gate != nil {
		if !gate.Shape().Eq(s) || gate.Dtype() != x.Dtype() {
			return nil, fmt.Errorf("attention: the gate of %v has shape %v (%v), want %v (%v)", a, gate.Shape(), gate.Dtype(), s, x.Dtype())
		}
		children = append(children, gate)
	}
	return G.ApplyOp(newActOp(a, x.Dtype(), s, gate != nil), children...)
}

// actOp computes φ(x) (child x) or φ(x) ⊙ gate (children x, gate).
type actOp struct {
	opkit.Base
	act   Nonlinearity
	gated bool
}

func newActOp(a Nonlinearity, dt tensor.Dtype, shape tensor.Shape, gated bool) *actOp {
	return &actOp{act: a, gated: gated, Base: opkit.New(fmt.Sprintf("%v{gated=%v}", a, gated),
		fmt.Sprintf("attention.Act{%v,%v,%v,%v}", a, gated, dt, []int(shape)), dt, 1+opkit.Btoi(gated), shape)}
}

func (op *actOp) Do(vals ...G.Value) (G.Value, error) {
	return opkit.Do(op, "attention", vals, actDo[float32], actDo[float64])
}

func actDo[T opkit.Float](op *actOp, out *tensor.Dense, vals []G.Value) error {
	x, err := opkit.Data[T](vals[0])
	if err != nil {
		return err
	}
	var gate []T
	if op.gated {
		if gate, err = opkit.Data[T](vals[1]); err != nil {
			return err
		}
	}
	y := out.Data().([]T)
	if len(x) != len(y) || (gate != nil && len(gate) != len(y)) {
		return fmt.Errorf("attention: %v got values of the wrong size", op)
	}
	cols := op.Shape()[1]
	linalg.Rows(op.Shape()[0], cols, func(lo, hi int) {
		yb := y[lo*cols : hi*cols]
		actEval(op.act, yb, nil, x[lo*cols:hi*cols], yb)
		if gate != nil {
			for i, g := range gate[lo*cols : hi*cols] {
				yb[i] *= g
			}
		}
	})
	return nil
}

func (op *actOp) DiffWRT(n int) []bool { return opkit.AllTrue(n) }

// SymDiff: ∂x = ∂y ⊙ φ'(x) (⊙ gate), ∂gate = ∂y ⊙ φ(x).
func (op *actOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(op.grad(0), append(append(G.Nodes{}, inputs...), grad)...)
	if err != nil || !op.gated {
		return G.Nodes{dx}, err
	}
	dg, err := G.ApplyOp(op.grad(1), inputs[0], grad)
	return G.Nodes{dx, dg}, err
}

func (op *actOp) DoDiff(_ G.ExecutionContext, inputs G.Nodes, output *G.Node) error {
	g, err := output.Grad()
	if err != nil {
		return err
	}
	args := [][]G.Value{{inputs[0].Value(), g}}
	if op.gated {
		args = [][]G.Value{{inputs[0].Value(), inputs[1].Value(), g}, {inputs[0].Value(), g}}
	}
	for part, a := range args {
		d, err := op.grad(part).Do(a...)
		if err != nil {
			return err
		}
		if err := opkit.AccumulateGrad(inputs[part], d); err != nil {
			return err
		}
	}
	return nil
}

// grad returns the op computing ∂x (part 0; children x, [gate,] ∂y) or
// ∂gate (part 1; children x, ∂y).
func (op *actOp) grad(part int) *actGradOp {
	dt, s := op.Dtype(), op.Shape()
	arity := 2 + opkit.Btoi(op.gated && part == 0)
	return &actGradOp{act: op.act, part: part, gated: op.gated,
		Base: opkit.New(fmt.Sprintf("%vGrad%d", op.act, part), fmt.Sprintf("attention.ActGrad{%v,%v,%d,%v,%v}", op.act, op.gated, part, dt, []int(s)), dt, arity, s)}
}

// actGradOp is a gradient of actOp (see actOp.grad).
type actGradOp struct {
	opkit.Base
	act   Nonlinearity
	part  int
	gated bool
}

func (op *actGradOp) Do(vals ...G.Value) (G.Value, error) {
	return opkit.Do(op, "attention", vals, actGradDo[float32], actGradDo[float64])
}

func actGradDo[T opkit.Float](op *actGradOp, out *tensor.Dense, vals []G.Value) error {
	var in [3][]T
	for i, v := range vals {
		d, err := opkit.Data[T](v)
		if err != nil {
			return err
		}
		in[i] = d
	}
	o := out.Data().([]T)
	x, dy := in[0], in[len(vals)-1]
	var gate []T
	if len(vals) == 3 {
		gate = in[1]
	}
	if len(x) != len(o) || len(dy) != len(o) || (gate != nil && len(gate) != len(o)) {
		return fmt.Errorf("attention: %v got values of the wrong size", op)
	}
	cols := op.Shape()[1]
	linalg.Rows(op.Shape()[0], cols, func(lo, hi int) {
		ob := o[lo*cols : hi*cols]
		tmp := getScratch[T](len(ob))
		defer putScratch(tmp)
		if op.part == 1 { // ∂gate = ∂y ⊙ φ(x)
			actEval(op.act, ob, nil, x[lo*cols:hi*cols], *tmp)
		} else {
			actEval(op.act, nil, ob, x[lo*cols:hi*cols], *tmp)
			if gate != nil {
				for i, g := range gate[lo*cols : hi*cols] {
					ob[i] *= g
				}
			}
		}
		for i, g := range dy[lo*cols : hi*cols] {
			ob[i] *= g
		}
	})
	opkit.FlushSubnormal(o)
	return nil
}

func (op *actGradOp) DiffWRT(n int) []bool { return make([]bool, n) }
func (op *actGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("attention: the derivative of %v is not differentiated again", op.act)
}

// actEval writes φ(x) into y and φ'(x) into d (either may be nil) using
// tmp (len(x) values, which may be y) as scratch. The sigmoid inside
// runs through layers.Activate, GELU is layers.EvalGELU; both vectorised
// in float32.
func actEval[T opkit.Float](a Nonlinearity, y, d, x, tmp []T) {
	switch a {
	case SiLU: // σ = sigmoid(x); φ = x·σ, φ' = σ·(1 + x(1 − σ))
		copy(tmp, x)
		layers.Activate(layers.Sigmoid, tmp, nil)
		for i, v := range x {
			s := tmp[i]
			if d != nil {
				d[i] = s * (1 + v*(1-s))
			}
			if y != nil {
				y[i] = v * s
			}
		}
	case GELU:
		layers.EvalGELU(y, d, x, tmp)
	}
}
