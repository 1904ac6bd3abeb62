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

// BipartiteDir is the direction of a bipartite graph convolution between
// the M constraint nodes and the N variable nodes of a graph whose edges
// carry the weights A_ij (constraint i, variable j).
type BipartiteDir int

const (
	// VarToCons sends messages from variables to constraints:
	// agg_i = Σ_j A_ij m_j (the zero value).
	VarToCons BipartiteDir = iota
	// ConsToVar sends messages from constraints to variables:
	// agg_j = Σ_i A_ij m_i.
	ConsToVar
)

// String names the direction.
func (d BipartiteDir) String() string {
	if d == ConsToVar {
		return "cons→var"
	}
	return "var→cons"
}

// sizes returns the node counts of the source and destination sides.
func (d BipartiteDir) sizes(m, n int) (src, dst int) {
	if d == ConsToVar {
		return m, n
	}
	return n, m
}

// BipartiteAggregate sums messages over the edges of a batch of bipartite
// graphs, weighted by A: with dir VarToCons, out_i = Σ_j A_ij msg_j; with
// ConsToVar, out_j = Σ_i A_ij msg_i.
//
// Shapes: a is (B, M·N), each row one instance's dense A (row-major,
// zeros where there is no edge); msg is (B·S, W) and the output
// (B·D, W), S and D being the node counts of the source and destination
// sides (N and M for VarToCons), instance-major. The work is proportional
// to the edges, not to M·N. Gradients flow to msg and to a (dense: an
// absent edge has a gradient too).
func BipartiteAggregate(a, msg *G.Node, m, n int, dir BipartiteDir) (*G.Node, error) {
	as, ms := a.Shape(), msg.Shape()
	if m <= 0 || n <= 0 || len(as) != 2 || as[1] != m*n || len(ms) != 2 {
		return nil, fmt.Errorf("layers: BipartiteAggregate of %d×%d graphs needs A (B, %d) and messages (B·S, W), got %v and %v", m, n, m*n, as, ms)
	}
	src, _ := dir.sizes(m, n)
	if ms[0] != as[0]*src {
		return nil, fmt.Errorf("layers: BipartiteAggregate %v: %d message rows for %d graphs of %d source nodes; want %d", dir, ms[0], as[0], src, as[0]*src)
	}
	if a.Dtype() != msg.Dtype() {
		return nil, fmt.Errorf("layers: BipartiteAggregate mixes dtypes %v and %v", a.Dtype(), msg.Dtype())
	}
	op := &aggOp{dt: a.Dtype(), b: as[0], m: m, n: n, w: ms[1], dir: dir, buf: &outBuf{}}
	return G.ApplyOp(op, a, msg)
}

// aggOp is BipartiteAggregate. Children: A (B, M·N), messages (B·S, W).
type aggOp struct {
	dt         tensor.Dtype
	b, m, n, w int
	dir        BipartiteDir
	buf        *outBuf
}

func (op *aggOp) outShape() tensor.Shape {
	_, dst := op.dir.sizes(op.m, op.n)
	return tensor.Shape{op.b * dst, op.w}
}
func (op *aggOp) Arity() int { return 2 }
func (op *aggOp) Type() hm.Type {
	t := G.TensorType{Dims: 2, Of: op.dt}
	return hm.NewFnType(t, t, t)
}
func (op *aggOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.outShape(), nil }
func (op *aggOp) ReturnsPtr() bool                               { return false }
func (op *aggOp) CallsExtern() bool                              { return false }
func (op *aggOp) OverwritesInput() int                           { return -1 }
func (op *aggOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "BipartiteAgg{%v,%d,%d,%d,%d,%d}", op.dt, op.b, op.m, op.n, op.w, op.dir)
}
func (op *aggOp) Hashcode() uint32 { return hashOf(op) }
func (op *aggOp) String() string   { return fmt.Sprintf("BipartiteAgg{%v}", op.dir) }

func (op *aggOp) Do(vals ...G.Value) (G.Value, error) {
	if len(vals) != 2 {
		return nil, fmt.Errorf("layers: %v takes 2 inputs, got %d", op, len(vals))
	}
	out := op.buf.get(op.dt, op.outShape())
	var err error
	if op.dt == tensor.Float32 {
		err = aggDo[float32](op, out, vals)
	} else {
		err = aggDo[float64](op, out, vals)
	}
	return out, err
}

func aggDo[T deq.Float](op *aggOp, out *tensor.Dense, vals []G.Value) error {
	a, err := data[T](vals[0])
	if err != nil {
		return err
	}
	msg, err := data[T](vals[1])
	if err != nil {
		return err
	}
	o := out.Data().([]T)
	linalg.Work(op.b, op.b*op.m*op.n*(1+op.w/4), func(lo, hi int) {
		aggregate(o, a, msg, lo, hi, op.m, op.n, op.w, op.dir)
	})
	return nil
}

// aggregate writes the aggregates of instances lo … hi−1 into out.
func aggregate[T deq.Float](out, a, msg []T, lo, hi, m, n, w int, dir BipartiteDir) {
	src, dst := dir.sizes(m, n)
	clear(out[lo*dst*w : hi*dst*w])
	for s := lo; s < hi; s++ {
		as := a[s*m*n : (s+1)*m*n]
		ms := msg[s*src*w : (s+1)*src*w]
		os := out[s*dst*w : (s+1)*dst*w]
		for i := 0; i < m; i++ {
			for j, aij := range as[i*n : (i+1)*n] {
				if aij == 0 {
					continue
				}
				var to, from []T
				if dir == VarToCons {
					to, from = os[i*w:(i+1)*w], ms[j*w:(j+1)*w]
				} else {
					to, from = os[j*w:(j+1)*w], ms[i*w:(i+1)*w]
				}
				for k, v := range from {
					to[k] += aij * v
				}
			}
		}
	}
}

func (op *aggOp) DiffWRT(int) []bool { return []bool{true, true} }

// SymDiff: the messages' gradient is the aggregation in the other
// direction; A's is the outer product of the two sides per instance.
func (op *aggOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	a, msg := inputs[0], inputs[1]
	back := &aggOp{dt: op.dt, b: op.b, m: op.m, n: op.n, w: op.w, dir: 1 - op.dir, buf: &outBuf{}}
	dmsg, err := G.ApplyOp(back, a, grad)
	if err != nil {
		return nil, err
	}
	cons, vars := grad, msg
	if op.dir == ConsToVar {
		cons, vars = msg, grad
	}
	da, err := G.ApplyOp(&edgeGradOp{dt: op.dt, b: op.b, m: op.m, n: op.n, w: op.w, buf: &outBuf{}}, cons, vars)
	if err != nil {
		return nil, err
	}
	return G.Nodes{da, dmsg}, nil
}

func (op *aggOp) DoDiff(_ G.ExecutionContext, inputs G.Nodes, output *G.Node) error {
	g, err := output.Grad()
	if err != nil {
		return err
	}
	a, msg := inputs[0].Value(), inputs[1].Value()
	back := &aggOp{dt: op.dt, b: op.b, m: op.m, n: op.n, w: op.w, dir: 1 - op.dir, buf: &outBuf{}}
	dmsg, err := back.Do(a, g)
	if err != nil {
		return err
	}
	cons, vars := g, msg
	if op.dir == ConsToVar {
		cons, vars = msg, g
	}
	da, err := (&edgeGradOp{dt: op.dt, b: op.b, m: op.m, n: op.n, w: op.w, buf: &outBuf{}}).Do(cons, vars)
	if err != nil {
		return err
	}
	if err := accumulateGrad(inputs[0], da); err != nil {
		return err
	}
	return accumulateGrad(inputs[1], dmsg)
}

// edgeGradOp is the gradient of an aggregation with respect to A:
// dA_ij = ⟨cons_i, vars_j⟩ per instance. Children: the constraint-side
// rows (B·M, W) and the variable-side rows (B·N, W); output (B, M·N).
type edgeGradOp struct {
	dt         tensor.Dtype
	b, m, n, w int
	buf        *outBuf
}

func (op *edgeGradOp) Arity() int { return 2 }
func (op *edgeGradOp) Type() hm.Type {
	t := G.TensorType{Dims: 2, Of: op.dt}
	return hm.NewFnType(t, t, t)
}
func (op *edgeGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.b, op.m * op.n}, nil
}
func (op *edgeGradOp) ReturnsPtr() bool     { return false }
func (op *edgeGradOp) CallsExtern() bool    { return false }
func (op *edgeGradOp) OverwritesInput() int { return -1 }
func (op *edgeGradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "BipartiteEdgeGrad{%v,%d,%d,%d,%d}", op.dt, op.b, op.m, op.n, op.w)
}
func (op *edgeGradOp) Hashcode() uint32     { return hashOf(op) }
func (op *edgeGradOp) String() string       { return "BipartiteEdgeGrad" }
func (op *edgeGradOp) DiffWRT(n int) []bool { return make([]bool, n) }
func (op *edgeGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("layers: the edge gradient of a bipartite aggregation is not differentiated again")
}

func (op *edgeGradOp) Do(vals ...G.Value) (G.Value, error) {
	out := op.buf.get(op.dt, tensor.Shape{op.b, op.m * op.n})
	var err error
	if op.dt == tensor.Float32 {
		err = edgeGradDo[float32](op, out, vals)
	} else {
		err = edgeGradDo[float64](op, out, vals)
	}
	return out, err
}

func edgeGradDo[T deq.Float](op *edgeGradOp, out *tensor.Dense, vals []G.Value) error {
	cons, err := data[T](vals[0])
	if err != nil {
		return err
	}
	vars, err := data[T](vals[1])
	if err != nil {
		return err
	}
	o := out.Data().([]T)
	m, n, w := op.m, op.n, op.w
	linalg.Work(op.b, 2*op.b*m*n*w, func(lo, hi int) {
		for s := lo; s < hi; s++ {
			linalg.MatMulBT(o[s*m*n:(s+1)*m*n], cons[s*m*w:(s+1)*m*w], vars[s*n*w:(s+1)*n*w], m, w, n)
		}
	})
	return nil
}

// addAct builds φ(x + y) as one op; φ must be computable from its output.
func addAct(x, y *G.Node, act Activation) (*G.Node, error) {
	if !x.Shape().Eq(y.Shape()) || len(x.Shape()) != 2 {
		return nil, fmt.Errorf("layers: addAct needs two matrices of one shape, got %v and %v", x.Shape(), y.Shape())
	}
	return G.ApplyOp(&addActOp{act: act, dt: x.Dtype(), shape: x.Shape().Clone(), buf: &outBuf{}}, x, y)
}

// addActOp is φ(x + y). Children: x, y.
type addActOp struct {
	act   Activation
	dt    tensor.Dtype
	shape tensor.Shape
	buf   *outBuf
}

func (op *addActOp) Arity() int { return 2 }
func (op *addActOp) Type() hm.Type {
	t := G.TensorType{Dims: 2, Of: op.dt}
	return hm.NewFnType(t, t, t)
}
func (op *addActOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape.Clone(), nil }
func (op *addActOp) ReturnsPtr() bool                               { return false }
func (op *addActOp) CallsExtern() bool                              { return false }
func (op *addActOp) OverwritesInput() int                           { return -1 }
func (op *addActOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "AddAct{%v,%v,%v}", op.act, op.dt, []int(op.shape))
}
func (op *addActOp) Hashcode() uint32 { return hashOf(op) }
func (op *addActOp) String() string   { return fmt.Sprintf("AddAct{%v}", op.act) }

func (op *addActOp) Do(vals ...G.Value) (G.Value, error) {
	if len(vals) != 2 {
		return nil, fmt.Errorf("layers: %v takes 2 inputs, got %d", op, len(vals))
	}
	out := op.buf.get(op.dt, op.shape)
	var err error
	if op.dt == tensor.Float32 {
		err = addActDo[float32](op.act, out.Data().([]float32), vals)
	} else {
		err = addActDo[float64](op.act, out.Data().([]float64), vals)
	}
	return out, err
}

func addActDo[T deq.Float](act Activation, out []T, vals []G.Value) error {
	x, err := data[T](vals[0])
	if err != nil {
		return err
	}
	y, err := data[T](vals[1])
	if err != nil {
		return err
	}
	for i := range out {
		out[i] = x[i] + y[i]
	}
	actForward(act, out)
	return nil
}

func (op *addActOp) DiffWRT(int) []bool { return []bool{true, true} }

// SymDiff: both inputs receive g ⊙ φ'.
func (op *addActOp) SymDiff(_ G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	s := grad
	if op.act != Identity {
		var err error
		if s, err = G.ApplyOp(&actGradOp{act: op.act, dt: op.dt, shape: op.shape, buf: &outBuf{}}, output, grad); err != nil {
			return nil, err
		}
	}
	return G.Nodes{s, s}, nil
}

func (op *addActOp) DoDiff(_ G.ExecutionContext, inputs G.Nodes, output *G.Node) error {
	g, err := output.Grad()
	if err != nil {
		return err
	}
	s := g
	if op.act != Identity {
		if s, err = (&actGradOp{act: op.act, dt: op.dt, shape: op.shape, buf: &outBuf{}}).Do(output.Value(), g); err != nil {
			return err
		}
	}
	if err := accumulateGrad(inputs[0], s); err != nil {
		return err
	}
	return accumulateGrad(inputs[1], s)
}
