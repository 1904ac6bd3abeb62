package graph

import (
	"fmt"

	"github.com/implicit-ml/implicit/layers"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/linalg"
	"github.com/implicit-ml/implicit/internal/opkit"
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
		return nil, fmt.Errorf("graph: BipartiteAggregate of %d×%d graphs needs A (B, %d) and messages (B·S, W), got %v and %v", m, n, m*n, as, ms)
	}
	src, _ := dir.sizes(m, n)
	if ms[0] != as[0]*src {
		return nil, fmt.Errorf("graph: BipartiteAggregate %v: %d message rows for %d graphs of %d source nodes; want %d", dir, ms[0], as[0], src, as[0]*src)
	}
	if a.Dtype() != msg.Dtype() {
		return nil, fmt.Errorf("graph: BipartiteAggregate mixes dtypes %v and %v", a.Dtype(), msg.Dtype())
	}
	return G.ApplyOp(newAggOp(a.Dtype(), as[0], m, n, ms[1], dir), a, msg)
}

// aggOp is BipartiteAggregate. Children: A (B, M·N), messages (B·S, W).
type aggOp struct {
	opkit.Base
	b, m, n, w int
	dir        BipartiteDir
}

func newAggOp(dt tensor.Dtype, b, m, n, w int, dir BipartiteDir) *aggOp {
	_, dst := dir.sizes(m, n)
	return &aggOp{b: b, m: m, n: n, w: w, dir: dir, Base: opkit.New(fmt.Sprintf("BipartiteAgg{%v}", dir),
		fmt.Sprintf("BipartiteAgg{%v,%d,%d,%d,%d,%d}", dt, b, m, n, w, dir), dt, 2, tensor.Shape{b * dst, w})}
}

func (op *aggOp) Do(vals ...G.Value) (G.Value, error) {
	return opkit.Do(op, "graph", vals, aggDo[float32], aggDo[float64])
}

func aggDo[T deq.Float](op *aggOp, out *tensor.Dense, vals []G.Value) error {
	a, err := opkit.Data[T](vals[0])
	if err != nil {
		return err
	}
	msg, err := opkit.Data[T](vals[1])
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
//
// In float32, an instance whose A has at least one nonzero in 8 runs as one
// dense product (A·msg or Aᵀ·msg in linalg's vector tiles): on the LP
// workload's 10 × 50 graphs with 100 edges that is 5 times the multiply-
// adds of the edge loop, which runs them one scalar at a time and was a
// quarter to a third of an LP step.
func aggregate[T deq.Float](out, a, msg []T, lo, hi, m, n, w int, dir BipartiteDir) {
	src, dst := dir.sizes(m, n)
	clear(out[lo*dst*w : hi*dst*w])
	_, dense := any(out).([]float32)
	for s := lo; s < hi; s++ {
		as := a[s*m*n : (s+1)*m*n]
		ms := msg[s*src*w : (s+1)*src*w]
		os := out[s*dst*w : (s+1)*dst*w]
		if dense && 8*nonzeros(as) >= len(as) {
			// VarToCons: out (m × w) = A·msg; ConsToVar: out (n × w) = Aᵀ·msg.
			linalg.Gemm(dir == ConsToVar, false, dst, w, src, 1, as, n, ms, w, 0, os, w)
			continue
		}
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

// nonzeros counts the nonzero entries of a.
func nonzeros[T deq.Float](a []T) int {
	n := 0
	for _, v := range a {
		if v != 0 {
			n++
		}
	}
	return n
}

func (op *aggOp) DiffWRT(int) []bool { return []bool{true, true} }

// SymDiff: the messages' gradient is the aggregation in the other
// direction; A's is the outer product of the two sides per instance.
func (op *aggOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	a, msg := inputs[0], inputs[1]
	back := newAggOp(op.Dtype(), op.b, op.m, op.n, op.w, 1-op.dir)
	dmsg, err := G.ApplyOp(back, a, grad)
	if err != nil {
		return nil, err
	}
	cons, vars := grad, msg
	if op.dir == ConsToVar {
		cons, vars = msg, grad
	}
	da, err := G.ApplyOp(newEdgeGradOp(op.Dtype(), op.b, op.m, op.n, op.w), cons, vars)
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
	back := newAggOp(op.Dtype(), op.b, op.m, op.n, op.w, 1-op.dir)
	dmsg, err := back.Do(a, g)
	if err != nil {
		return err
	}
	cons, vars := g, msg
	if op.dir == ConsToVar {
		cons, vars = msg, g
	}
	da, err := newEdgeGradOp(op.Dtype(), op.b, op.m, op.n, op.w).Do(cons, vars)
	if err != nil {
		return err
	}
	if err := opkit.AccumulateGrad(inputs[0], da); err != nil {
		return err
	}
	return opkit.AccumulateGrad(inputs[1], dmsg)
}

// edgeGradOp is the gradient of an aggregation with respect to A:
// dA_ij = ⟨cons_i, vars_j⟩ per instance. Children: the constraint-side
// rows (B·M, W) and the variable-side rows (B·N, W); output (B, M·N).
type edgeGradOp struct {
	opkit.Base
	b, m, n, w int
}

func newEdgeGradOp(dt tensor.Dtype, b, m, n, w int) *edgeGradOp {
	return &edgeGradOp{b: b, m: m, n: n, w: w, Base: opkit.New("BipartiteEdgeGrad",
		fmt.Sprintf("BipartiteEdgeGrad{%v,%d,%d,%d,%d}", dt, b, m, n, w), dt, 2, tensor.Shape{b, m * n})}
}

func (op *edgeGradOp) DiffWRT(n int) []bool { return make([]bool, n) }
func (op *edgeGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("graph: the edge gradient of a bipartite aggregation is not differentiated again")
}

func (op *edgeGradOp) Do(vals ...G.Value) (G.Value, error) {
	out := op.Output()
	return out, op.Dispatch(
		func() error { return edgeGradDo[float32](op, out, vals) },
		func() error { return edgeGradDo[float64](op, out, vals) })
}

func edgeGradDo[T deq.Float](op *edgeGradOp, out *tensor.Dense, vals []G.Value) error {
	cons, err := opkit.Data[T](vals[0])
	if err != nil {
		return err
	}
	vars, err := opkit.Data[T](vals[1])
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
func addAct(x, y *G.Node, act layers.Activation) (*G.Node, error) {
	if !x.Shape().Eq(y.Shape()) || len(x.Shape()) != 2 {
		return nil, fmt.Errorf("graph: addAct needs two matrices of one shape, got %v and %v", x.Shape(), y.Shape())
	}
	dt, shape := x.Dtype(), x.Shape()
	return G.ApplyOp(&addActOp{act: act, Base: opkit.New(fmt.Sprintf("AddAct{%v}", act),
		fmt.Sprintf("AddAct{%v,%v,%v}", act, dt, []int(shape)), dt, 2, shape)}, x, y)
}

// addActOp is φ(x + y). Children: x, y.
type addActOp struct {
	opkit.Base
	act layers.Activation
}

func (op *addActOp) Do(vals ...G.Value) (G.Value, error) {
	if err := op.CheckArity(vals); err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	out := op.Output()
	return out, op.Dispatch(
		func() error { return addActDo[float32](op.act, out.Data().([]float32), vals) },
		func() error { return addActDo[float64](op.act, out.Data().([]float64), vals) })
}

func addActDo[T deq.Float](act layers.Activation, out []T, vals []G.Value) error {
	x, err := opkit.Data[T](vals[0])
	if err != nil {
		return err
	}
	y, err := opkit.Data[T](vals[1])
	if err != nil {
		return err
	}
	for i := range out {
		out[i] = x[i] + y[i]
	}
	layers.Activate(act, out, nil)
	return nil
}

func (op *addActOp) DiffWRT(int) []bool { return []bool{true, true} }

// SymDiff: both inputs receive g ⊙ φ'.
func (op *addActOp) SymDiff(_ G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	s, err := layers.ActivationGrad(op.act, output, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{s, s}, nil
}

func (op *addActOp) DoDiff(_ G.ExecutionContext, inputs G.Nodes, output *G.Node) error {
	g, err := output.Grad()
	if err != nil {
		return err
	}
	s, err := layers.ActivationGradValue(op.act, output.Value(), g)
	if err != nil {
		return err
	}
	if err := opkit.AccumulateGrad(inputs[0], s); err != nil {
		return err
	}
	return opkit.AccumulateGrad(inputs[1], s)
}
