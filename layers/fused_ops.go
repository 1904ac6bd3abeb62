package layers

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/linalg"
	"github.com/implicit-ml/implicit/internal/opkit"
)

// The fused ops below do in one Gorgonia op what a chain of generic ops
// does in several, and return the same output tensor on every run instead
// of allocating one (opkit.Base.Output): Gorgonia drops its registers on
// every Reset, so generic ops allocate (and the garbage collector
// reclaims) every activation of every step. A value an op returns is only
// valid until the op runs again; the training loop copies what it keeps.

// affineOp computes y = φ(x·W + add + b); add and b are optional.
// Children: x (B, in), W (in, out), then add (B, out) if hasAdd, then
// b (1, out) if hasBias.
type affineOp struct {
	opkit.Base
	act             Activation
	hasAdd, hasBias bool
}

// Affine builds φ(x·W + add + b) as one fused op; add and b may be nil.
// Shapes: x (B, in), W (in, out), add (B, out), b (1, out); the output is
// (B, out). φ must be computable from its output (DerivFromOutput).
func Affine(x, w, add, b *G.Node, act Activation) (*G.Node, error) {
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 2 || len(ws) != 2 || xs[1] != ws[0] {
		return nil, fmt.Errorf("layers: affine needs x (B, in) and W (in, out), got %v and %v", xs, ws)
	}
	if !act.DerivFromOutput() {
		return nil, fmt.Errorf("layers: the fused affine op needs an activation whose derivative is a function of its output, not %v", act)
	}
	out := tensor.Shape{xs[0], ws[1]}
	children := G.Nodes{x, w}
	if add != nil {
		if !add.Shape().Eq(out) {
			return nil, fmt.Errorf("layers: affine addend has shape %v, want %v", add.Shape(), out)
		}
		children = append(children, add)
	}
	if b != nil {
		if bs := b.Shape(); len(bs) != 2 || bs[0] != 1 || bs[1] != out[1] {
			return nil, fmt.Errorf("layers: affine bias has shape %v, want (1, %d)", bs, out[1])
		}
		children = append(children, b)
	}
	dt := x.Dtype()
	op := &affineOp{act: act, hasAdd: add != nil, hasBias: b != nil}
	op.Base = opkit.New(fmt.Sprintf("Affine{%v}", act),
		fmt.Sprintf("Affine{%v,%v,%v,%v,%v}", act, op.hasAdd, op.hasBias, dt, []int(out)), dt, len(children), out)
	return G.ApplyOp(op, children...)
}

func (op *affineOp) Do(vals ...G.Value) (G.Value, error) {
	return opkit.Do(op, "layers", vals, affineDo[float32], affineDo[float64])
}

func affineDo[T deq.Float](op *affineOp, out *tensor.Dense, vals []G.Value) error {
	x, err := opkit.Data[T](vals[0])
	if err != nil {
		return err
	}
	w, err := opkit.Data[T](vals[1])
	if err != nil {
		return err
	}
	y := out.Data().([]T)
	rows, n := op.Shape()[0], op.Shape()[1]
	k := len(x) / rows
	next := 2
	var a, b []T
	if op.hasAdd {
		if a, err = opkit.Data[T](vals[next]); err != nil {
			return err
		}
		next++
	}
	if op.hasBias {
		if b, err = opkit.Data[T](vals[next]); err != nil {
			return err
		}
	}
	// Product and epilogue row block by row block, on all cores for big
	// batches: one hand-off per op.
	// The added term and the bias are written first and the product
	// accumulates onto them (β = 1): one pass over the output fewer than
	// adding them after it, and none to clear it.
	linalg.Work(rows, 2*rows*k*n, func(lo, hi int) {
		yb := y[lo*n : hi*n]
		beta := T(1)
		switch {
		case a != nil && b != nil:
			ab := a[lo*n : hi*n]
			for r := 0; r < hi-lo; r++ {
				yr, ar := yb[r*n:(r+1)*n], ab[r*n:(r+1)*n]
				for j := range yr {
					yr[j] = ar[j] + b[j]
				}
			}
		case a != nil:
			copy(yb, a[lo*n:hi*n])
		case b != nil:
			for r := 0; r < hi-lo; r++ {
				copy(yb[r*n:(r+1)*n], b)
			}
		default:
			beta = 0
		}
		linalg.Gemm(false, false, hi-lo, n, k, 1, x[lo*k:hi*k], k, w, n, beta, yb, n)
		actForward(op.act, yb)
	})
	return nil
}

func (op *affineOp) DiffWRT(n int) []bool { return opkit.AllTrue(n) }

// SymDiff: s = g ⊙ φ'(y); ∂x = s·Wᵀ, ∂W = xᵀ·s, ∂add = s, ∂b = Σ_rows s.
func (op *affineOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	s, err := ActivationGrad(op.act, output, grad)
	if err != nil {
		return nil, err
	}
	x, w := inputs[0], inputs[1]
	dx, err := MatMul(s, w, false, true)
	if err != nil {
		return nil, err
	}
	dw, err := MatMul(x, s, true, false)
	if err != nil {
		return nil, err
	}
	grads := G.Nodes{dx, dw}
	if op.hasAdd {
		grads = append(grads, s)
	}
	if op.hasBias {
		db, err := G.ApplyOp(newColSumOp(op.Dtype(), op.Shape()[1]), s)
		if err != nil {
			return nil, err
		}
		grads = append(grads, db)
	}
	return grads, nil
}

func (op *affineOp) DoDiff(_ G.ExecutionContext, inputs G.Nodes, output *G.Node) error {
	g, err := output.Grad()
	if err != nil {
		return err
	}
	s, err := ActivationGradValue(op.act, output.Value(), g)
	if err != nil {
		return err
	}
	dt := op.Dtype()
	w := inputs[1].Value()
	x := inputs[0].Value()
	contrib := []func() (G.Value, error){
		func() (G.Value, error) { return newMatMulOp(false, true, dt).Do(s, w) },
		func() (G.Value, error) { return newMatMulOp(true, false, dt).Do(x, s) },
	}
	if op.hasAdd {
		contrib = append(contrib, func() (G.Value, error) { return s, nil })
	}
	if op.hasBias {
		contrib = append(contrib, func() (G.Value, error) { return newColSumOp(dt, op.Shape()[1]).Do(s) })
	}
	for i, f := range contrib {
		v, err := f()
		if err != nil {
			return err
		}
		if err := opkit.AccumulateGrad(inputs[i], v); err != nil {
			return err
		}
	}
	return nil
}

// actGradOp computes g ⊙ φ'(x) from y = φ(x). Children: y, g.
type actGradOp struct {
	opkit.Base
	act Activation
}

func newActGradOp(act Activation, dt tensor.Dtype, shape tensor.Shape) *actGradOp {
	return &actGradOp{act: act, Base: opkit.New(fmt.Sprintf("ActGrad{%v}", act),
		fmt.Sprintf("ActGrad{%v,%v,%v}", act, dt, []int(shape)), dt, 2, shape)}
}

// ActivationGrad builds g ⊙ φ'(x) from y = φ(x) and g, both of y's shape,
// for activations whose derivative is a function of their output
// (DerivFromOutput): the first factor of the backward pass of a fused op
// ending in φ. It is not differentiated again. For Identity it is g
// itself.
func ActivationGrad(act Activation, y, g *G.Node) (*G.Node, error) {
	if !act.DerivFromOutput() {
		return nil, fmt.Errorf("layers: the derivative of %v is not a function of its output", act)
	}
	if act == Identity {
		return g, nil
	}
	return G.ApplyOp(newActGradOp(act, y.Dtype(), y.Shape()), y, g)
}

// ActivationGradValue is ActivationGrad on values, for the DoDiff methods
// the LispMachine calls; for Identity it is g itself.
func ActivationGradValue(act Activation, y, g G.Value) (G.Value, error) {
	if act == Identity {
		return g, nil
	}
	var dt tensor.Dtype
	switch v := y.(type) {
	case tensor.Tensor:
		dt = v.Dtype()
	default:
		return nil, fmt.Errorf("layers: ActivationGradValue needs tensors, got %T", y)
	}
	return newActGradOp(act, dt, y.Shape()).Do(y, g)
}

func (op *actGradOp) Do(vals ...G.Value) (G.Value, error) {
	out := op.Output()
	return out, op.Dispatch(
		func() error { return actGradDo[float32](op.act, out, vals) },
		func() error { return actGradDo[float64](op.act, out, vals) })
}

func actGradDo[T deq.Float](a Activation, out *tensor.Dense, vals []G.Value) error {
	y, err := opkit.Data[T](vals[0])
	if err != nil {
		return err
	}
	g, err := opkit.Data[T](vals[1])
	if err != nil {
		return err
	}
	actGradFromOutput(a, out.Data().([]T), y, g)
	return nil
}

func (op *actGradOp) DiffWRT(n int) []bool { return make([]bool, n) }
func (op *actGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("layers: the derivative of %v is not differentiable again; build second-order terms with generic ops", op.act)
}

// matMulOp computes op(A)·op(B) with op the optional transposes, through
// the BLAS in use. Children: A, B.
type matMulOp struct {
	opkit.Base
	transA, transB bool
}

func newMatMulOp(transA, transB bool, dt tensor.Dtype) *matMulOp {
	return &matMulOp{transA: transA, transB: transB, Base: opkit.New(fmt.Sprintf("MatMul{%v,%v}", transA, transB),
		fmt.Sprintf("MatMul{%v,%v,%v}", transA, transB, dt), dt, 2, tensor.Shape{0, 0})}
}

// MatMul builds op(a)·op(b), op being the transpose where asked, through
// the BLAS in use (the project's AVX2 kernel for float32 in the default
// build, OpenBLAS with the openblas tag). Both are matrices; the output
// reuses its buffer between runs. It differentiates to any order.
func MatMul(a, b *G.Node, transA, transB bool) (*G.Node, error) {
	return G.ApplyOp(newMatMulOp(transA, transB, a.Dtype()), a, b)
}

func (op *matMulOp) dims(as, bs tensor.Shape) (m, k, n int, err error) {
	if len(as) != 2 || len(bs) != 2 {
		return 0, 0, 0, fmt.Errorf("layers: matMul needs matrices, got %v and %v", as, bs)
	}
	m, k = as[0], as[1]
	if op.transA {
		m, k = k, m
	}
	k2, n := bs[0], bs[1]
	if op.transB {
		k2, n = n, k2
	}
	if k != k2 {
		return 0, 0, 0, fmt.Errorf("layers: matMul inner sizes differ: %v%s · %v%s", as, tick(op.transA), bs, tick(op.transB))
	}
	return m, k, n, nil
}

func tick(t bool) string {
	if t {
		return "ᵀ"
	}
	return ""
}

// InferShape overrides the base's: the output shape follows the inputs'.
func (op *matMulOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	m, _, n, err := op.dims(in[0].(tensor.Shape), in[1].(tensor.Shape))
	return tensor.Shape{m, n}, err
}

func (op *matMulOp) Do(vals ...G.Value) (G.Value, error) {
	if err := op.CheckArity(vals); err != nil {
		return nil, err
	}
	m, k, n, err := op.dims(vals[0].Shape(), vals[1].Shape())
	if err != nil {
		return nil, err
	}
	out := op.OutputOf(tensor.Shape{m, n})
	return out, op.Dispatch(
		func() error { return matMulDo[float32](op, out, vals, m, k, n) },
		func() error { return matMulDo[float64](op, out, vals, m, k, n) })
}

func matMulDo[T deq.Float](op *matMulOp, out *tensor.Dense, vals []G.Value, m, k, n int) error {
	a, err := opkit.Data[T](vals[0])
	if err != nil {
		return err
	}
	b, err := opkit.Data[T](vals[1])
	if err != nil {
		return err
	}
	lda, ldb := k, n
	if op.transA {
		lda = m
	}
	if op.transB {
		ldb = k
	}
	linalg.Gemm(op.transA, op.transB, m, n, k, 1, a, lda, b, ldb, 0, out.Data().([]T), n)
	return nil
}

func (op *matMulOp) DiffWRT(n int) []bool { return []bool{true, true} }

// SymDiff of C = op(A)·op(B): for A, g·op(B)ᵀ (transposed back when A
// was); likewise for B.
func (op *matMulOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	a, b := inputs[0], inputs[1]
	var da, db *G.Node
	var err error
	if op.transA { // A = (g·op(B)ᵀ)ᵀ = op(B)·gᵀ
		da, err = MatMul(b, grad, op.transB, true)
	} else {
		da, err = MatMul(grad, b, false, !op.transB)
	}
	if err != nil {
		return nil, err
	}
	if op.transB { // B = (op(A)ᵀ·g)ᵀ = gᵀ·op(A)
		db, err = MatMul(grad, a, true, op.transA)
	} else {
		db, err = MatMul(a, grad, !op.transA, false)
	}
	return G.Nodes{da, db}, err
}

// colSumOp sums the rows of a (B, n) matrix into (1, n). Child: the matrix.
type colSumOp struct{ opkit.Base }

func newColSumOp(dt tensor.Dtype, n int) *colSumOp {
	return &colSumOp{opkit.New("ColSum", fmt.Sprintf("ColSum{%v,%d}", dt, n), dt, 1, tensor.Shape{1, n})}
}

func (op *colSumOp) Do(vals ...G.Value) (G.Value, error) {
	out := op.Output()
	n := op.Shape()[1]
	return out, op.Dispatch(
		func() error { return colSumDo[float32](n, out, vals[0]) },
		func() error { return colSumDo[float64](n, out, vals[0]) })
}

func colSumDo[T deq.Float](n int, out *tensor.Dense, v G.Value) error {
	s, err := opkit.Data[T](v)
	if err != nil {
		return err
	}
	o := out.Data().([]T)
	clear(o)
	for r := 0; r < len(s)/n; r++ {
		for j, x := range s[r*n : (r+1)*n] {
			o[j] += x
		}
	}
	return nil
}

func (op *colSumOp) DiffWRT(n int) []bool { return []bool{false} }
func (op *colSumOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("layers: ColSum is not differentiated again")
}
