package layers

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/linalg"
)

// The fused ops below do in one Gorgonia op what a chain of generic ops
// does in several, and return the same output tensor on every run instead
// of allocating one: Gorgonia drops its registers on every Reset, so
// generic ops allocate (and the garbage collector reclaims) every
// activation of every step. A value an op returns is only valid until the
// op runs again; the training loop copies what it keeps.

// outBuf is an op's reusable output.
type outBuf struct{ t *tensor.Dense }

// get returns a tensor of the given shape and dtype, reusing the previous
// one when it fits.
func (b *outBuf) get(dt tensor.Dtype, shape tensor.Shape) *tensor.Dense {
	if b.t == nil || !b.t.Shape().Eq(shape) || b.t.Dtype() != dt {
		b.t = tensor.New(tensor.WithShape(shape.Clone()...), tensor.Of(dt))
	}
	return b.t
}

// affineOp computes y = φ(x·W + add + b); add and b are optional.
// Children: x (B, in), W (in, out), then add (B, out) if hasAdd, then
// b (1, out) if hasBias.
type affineOp struct {
	act             Activation
	hasAdd, hasBias bool
	dt              tensor.Dtype
	out             tensor.Shape
	buf             *outBuf
}

// affine builds φ(x·W + add + b) as one fused op (add and b may be nil).
// φ must be computable from its output (derivFromOutput).
func affine(x, w, add, b *G.Node, act Activation) (*G.Node, error) {
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 2 || len(ws) != 2 || xs[1] != ws[0] {
		return nil, fmt.Errorf("layers: affine needs x (B, in) and W (in, out), got %v and %v", xs, ws)
	}
	out := tensor.Shape{xs[0], ws[1]}
	op := &affineOp{act: act, dt: x.Dtype(), out: out, buf: &outBuf{}}
	children := G.Nodes{x, w}
	if add != nil {
		if !add.Shape().Eq(out) {
			return nil, fmt.Errorf("layers: affine addend has shape %v, want %v", add.Shape(), out)
		}
		op.hasAdd = true
		children = append(children, add)
	}
	if b != nil {
		if bs := b.Shape(); len(bs) != 2 || bs[0] != 1 || bs[1] != out[1] {
			return nil, fmt.Errorf("layers: affine bias has shape %v, want (1, %d)", bs, out[1])
		}
		op.hasBias = true
		children = append(children, b)
	}
	return G.ApplyOp(op, children...)
}

func (op *affineOp) Arity() int { return 2 + btoi(op.hasAdd) + btoi(op.hasBias) }
func (op *affineOp) Type() hm.Type {
	t := G.TensorType{Dims: 2, Of: op.dt}
	ts := make([]hm.Type, op.Arity()+1)
	for i := range ts {
		ts[i] = t
	}
	return hm.NewFnType(ts...)
}
func (op *affineOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.out.Clone(), nil }
func (op *affineOp) ReturnsPtr() bool                               { return false }
func (op *affineOp) CallsExtern() bool                              { return false }
func (op *affineOp) OverwritesInput() int                           { return -1 }
func (op *affineOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "Affine{%v,%v,%v,%v,%v}", op.act, op.hasAdd, op.hasBias, op.dt, []int(op.out))
}
func (op *affineOp) Hashcode() uint32 { return hashOf(op) }
func (op *affineOp) String() string   { return fmt.Sprintf("Affine{%v}", op.act) }

func (op *affineOp) Do(vals ...G.Value) (G.Value, error) {
	if len(vals) != op.Arity() {
		return nil, fmt.Errorf("layers: %v takes %d inputs, got %d", op, op.Arity(), len(vals))
	}
	out := op.buf.get(op.dt, op.out)
	var err error
	if op.dt == tensor.Float32 {
		err = affineDo[float32](op, out, vals)
	} else {
		err = affineDo[float64](op, out, vals)
	}
	return out, err
}

func affineDo[T deq.Float](op *affineOp, out *tensor.Dense, vals []G.Value) error {
	x, err := data[T](vals[0])
	if err != nil {
		return err
	}
	w, err := data[T](vals[1])
	if err != nil {
		return err
	}
	y := out.Data().([]T)
	rows, n := op.out[0], op.out[1]
	k := len(x) / rows
	next := 2
	var a, b []T
	if op.hasAdd {
		if a, err = data[T](vals[next]); err != nil {
			return err
		}
		next++
	}
	if op.hasBias {
		if b, err = data[T](vals[next]); err != nil {
			return err
		}
	}
	// Product and epilogue row block by row block, on all cores for big
	// batches: one hand-off per op.
	linalg.Work(rows, 2*rows*k*n, func(lo, hi int) {
		yb := y[lo*n : hi*n]
		linalg.MatMul(yb, x[lo*k:hi*k], w, hi-lo, k, n)
		if a != nil {
			for i, v := range a[lo*n : hi*n] {
				yb[i] += v
			}
		}
		if b != nil {
			for r := 0; r < hi-lo; r++ {
				yr := yb[r*n : (r+1)*n]
				for j := range yr {
					yr[j] += b[j]
				}
			}
		}
		actForward(op.act, yb)
	})
	return nil
}

func (op *affineOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	for i := range d {
		d[i] = true
	}
	return d
}

// SymDiff: s = g ⊙ φ'(y); ∂x = s·Wᵀ, ∂W = xᵀ·s, ∂add = s, ∂b = Σ_rows s.
func (op *affineOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	s := grad
	if op.act != Identity {
		var err error
		if s, err = G.ApplyOp(&actGradOp{act: op.act, dt: op.dt, shape: op.out, buf: &outBuf{}}, output, grad); err != nil {
			return nil, err
		}
	}
	x, w := inputs[0], inputs[1]
	dx, err := matMul(s, w, false, true)
	if err != nil {
		return nil, err
	}
	dw, err := matMul(x, s, true, false)
	if err != nil {
		return nil, err
	}
	grads := G.Nodes{dx, dw}
	if op.hasAdd {
		grads = append(grads, s)
	}
	if op.hasBias {
		db, err := G.ApplyOp(&colSumOp{dt: op.dt, n: op.out[1], buf: &outBuf{}}, s)
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
	s := g
	if op.act != Identity {
		if s, err = (&actGradOp{act: op.act, dt: op.dt, shape: op.out, buf: &outBuf{}}).Do(output.Value(), g); err != nil {
			return err
		}
	}
	w := inputs[1].Value()
	x := inputs[0].Value()
	contrib := []func() (G.Value, error){
		func() (G.Value, error) { return (&matMulOp{transB: true, dt: op.dt, buf: &outBuf{}}).Do(s, w) },
		func() (G.Value, error) { return (&matMulOp{transA: true, dt: op.dt, buf: &outBuf{}}).Do(x, s) },
	}
	if op.hasAdd {
		contrib = append(contrib, func() (G.Value, error) { return s, nil })
	}
	if op.hasBias {
		contrib = append(contrib, func() (G.Value, error) { return (&colSumOp{dt: op.dt, n: op.out[1], buf: &outBuf{}}).Do(s) })
	}
	for i, f := range contrib {
		v, err := f()
		if err != nil {
			return err
		}
		if err := accumulateGrad(inputs[i], v); err != nil {
			return err
		}
	}
	return nil
}

// actGradOp computes g ⊙ φ'(x) from y = φ(x). Children: y, g.
type actGradOp struct {
	act   Activation
	dt    tensor.Dtype
	shape tensor.Shape
	buf   *outBuf
}

func (op *actGradOp) Arity() int { return 2 }
func (op *actGradOp) Type() hm.Type {
	t := G.TensorType{Dims: len(op.shape), Of: op.dt}
	return hm.NewFnType(t, t, t)
}
func (op *actGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape.Clone(), nil }
func (op *actGradOp) ReturnsPtr() bool                               { return false }
func (op *actGradOp) CallsExtern() bool                              { return false }
func (op *actGradOp) OverwritesInput() int                           { return -1 }
func (op *actGradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "ActGrad{%v,%v,%v}", op.act, op.dt, []int(op.shape))
}
func (op *actGradOp) Hashcode() uint32 { return hashOf(op) }
func (op *actGradOp) String() string   { return fmt.Sprintf("ActGrad{%v}", op.act) }
func (op *actGradOp) Do(vals ...G.Value) (G.Value, error) {
	out := op.buf.get(op.dt, op.shape)
	var err error
	if op.dt == tensor.Float32 {
		err = actGradDo[float32](op.act, out, vals)
	} else {
		err = actGradDo[float64](op.act, out, vals)
	}
	return out, err
}

func actGradDo[T deq.Float](a Activation, out *tensor.Dense, vals []G.Value) error {
	y, err := data[T](vals[0])
	if err != nil {
		return err
	}
	g, err := data[T](vals[1])
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
	transA, transB bool
	dt             tensor.Dtype
	buf            *outBuf
}

// matMul builds op(a)·op(b).
func matMul(a, b *G.Node, transA, transB bool) (*G.Node, error) {
	return G.ApplyOp(&matMulOp{transA: transA, transB: transB, dt: a.Dtype(), buf: &outBuf{}}, a, b)
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

func (op *matMulOp) Arity() int { return 2 }
func (op *matMulOp) Type() hm.Type {
	t := G.TensorType{Dims: 2, Of: op.dt}
	return hm.NewFnType(t, t, t)
}
func (op *matMulOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	m, _, n, err := op.dims(in[0].(tensor.Shape), in[1].(tensor.Shape))
	return tensor.Shape{m, n}, err
}
func (op *matMulOp) ReturnsPtr() bool     { return false }
func (op *matMulOp) CallsExtern() bool    { return false }
func (op *matMulOp) OverwritesInput() int { return -1 }
func (op *matMulOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "MatMul{%v,%v,%v}", op.transA, op.transB, op.dt)
}
func (op *matMulOp) Hashcode() uint32 { return hashOf(op) }
func (op *matMulOp) String() string   { return fmt.Sprintf("MatMul{%v,%v}", op.transA, op.transB) }
func (op *matMulOp) Do(vals ...G.Value) (G.Value, error) {
	if len(vals) != 2 {
		return nil, fmt.Errorf("layers: matMul takes 2 inputs")
	}
	m, k, n, err := op.dims(vals[0].Shape(), vals[1].Shape())
	if err != nil {
		return nil, err
	}
	out := op.buf.get(op.dt, tensor.Shape{m, n})
	if op.dt == tensor.Float32 {
		err = matMulDo[float32](op, out, vals, m, k, n)
	} else {
		err = matMulDo[float64](op, out, vals, m, k, n)
	}
	return out, err
}

func matMulDo[T deq.Float](op *matMulOp, out *tensor.Dense, vals []G.Value, m, k, n int) error {
	a, err := data[T](vals[0])
	if err != nil {
		return err
	}
	b, err := data[T](vals[1])
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
		da, err = matMul(b, grad, op.transB, true)
	} else {
		da, err = matMul(grad, b, false, !op.transB)
	}
	if err != nil {
		return nil, err
	}
	if op.transB { // B = (op(A)ᵀ·g)ᵀ = gᵀ·op(A)
		db, err = matMul(grad, a, true, op.transA)
	} else {
		db, err = matMul(a, grad, !op.transA, false)
	}
	return G.Nodes{da, db}, err
}

// colSumOp sums the rows of a (B, n) matrix into (1, n). Child: the matrix.
type colSumOp struct {
	dt  tensor.Dtype
	n   int
	buf *outBuf
}

func (op *colSumOp) Arity() int { return 1 }
func (op *colSumOp) Type() hm.Type {
	t := G.TensorType{Dims: 2, Of: op.dt}
	return hm.NewFnType(t, t)
}
func (op *colSumOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{1, op.n}, nil
}
func (op *colSumOp) ReturnsPtr() bool      { return false }
func (op *colSumOp) CallsExtern() bool     { return false }
func (op *colSumOp) OverwritesInput() int  { return -1 }
func (op *colSumOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "ColSum{%v,%d}", op.dt, op.n) }
func (op *colSumOp) Hashcode() uint32      { return hashOf(op) }
func (op *colSumOp) String() string        { return "ColSum" }
func (op *colSumOp) Do(vals ...G.Value) (G.Value, error) {
	out := op.buf.get(op.dt, tensor.Shape{1, op.n})
	var err error
	if op.dt == tensor.Float32 {
		err = colSumDo[float32](op.n, out, vals[0])
	} else {
		err = colSumDo[float64](op.n, out, vals[0])
	}
	return out, err
}

func colSumDo[T deq.Float](n int, out *tensor.Dense, v G.Value) error {
	s, err := data[T](v)
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

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
