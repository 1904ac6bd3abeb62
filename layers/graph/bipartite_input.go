package graph

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/opkit"
)

// BipartiteLayout says where a bipartite graph with M constraint nodes and
// N variable nodes lies in one flat input row: its dense M×N edge weights
// A (row-major, zero where there is no edge) and its node features, each a
// block of M (constraint) or N (variable) values.
type BipartiteLayout struct {
	// M and N are the numbers of constraint and variable nodes.
	M, N int
	// A is the offset of the M·N edge weights.
	A int
	// Cons and Vars are the constraint and variable features, in the
	// order they form a node's feature vector.
	Cons, Vars []Feature
	// Size is the length of a row; zero means the end of the last block.
	Size int
}

// Feature is one node feature: Scale·x[Offset+k] for node k. A zero Scale
// means 1. Scales bring features of very different sizes (costs of 1e-2,
// bounds of 10) to the unit range the initialisations assume.
type Feature struct {
	Offset int
	Scale  float64
}

func (f Feature) scale() float64 {
	if f.Scale == 0 {
		return 1
	}
	return f.Scale
}

// size returns the row length the layout needs.
func (l BipartiteLayout) size() int {
	end := l.A + l.M*l.N
	for _, f := range l.Cons {
		end = max(end, f.Offset+l.M)
	}
	for _, f := range l.Vars {
		end = max(end, f.Offset+l.N)
	}
	return max(end, l.Size)
}

// validate checks that every block lies in a row of width w.
func (l BipartiteLayout) validate(w int) error {
	if l.M <= 0 || l.N <= 0 || len(l.Cons) == 0 || len(l.Vars) == 0 {
		return fmt.Errorf("graph: bipartite layout needs M, N > 0 and at least one constraint and one variable feature, got M=%d N=%d, %d and %d features", l.M, l.N, len(l.Cons), len(l.Vars))
	}
	if l.A < 0 || l.size() > w {
		return fmt.Errorf("graph: bipartite layout reaches %d values but rows have %d; check the offsets", l.size(), w)
	}
	for _, f := range append(append([]Feature{}, l.Cons...), l.Vars...) {
		if f.Offset < 0 {
			return fmt.Errorf("graph: bipartite feature offset %d is negative", f.Offset)
		}
	}
	return nil
}

// SplitBipartite reads a batch of flat rows x (B, ≥ Size) laid out by l
// into the edge weights a (B, M·N), the constraint features (B·M, |Cons|)
// and the variable features (B·N, |Vars|), scaled. The inputs are data:
// no gradient flows back to x.
func SplitBipartite(x *G.Node, l BipartiteLayout) (a, cons, vars *G.Node, err error) {
	xs := x.Shape()
	if len(xs) != 2 {
		return nil, nil, nil, fmt.Errorf("graph: SplitBipartite needs rows (B, width), got shape %v", xs)
	}
	if err := l.validate(xs[1]); err != nil {
		return nil, nil, nil, err
	}
	var out [3]*G.Node
	for part := range out {
		op := newSplitOp(l, part, x.Dtype(), xs[0], xs[1])
		if out[part], err = G.ApplyOp(op, x); err != nil {
			return nil, nil, nil, err
		}
	}
	return out[0], out[1], out[2], nil
}

// splitOp extracts one part of a bipartite layout. Child: x.
type splitOp struct {
	opkit.Base
	l    BipartiteLayout
	part int // 0: A, 1: constraint features, 2: variable features
	b, w int
}

func newSplitOp(l BipartiteLayout, part int, dt tensor.Dtype, b, w int) *splitOp {
	out := tensor.Shape{b, l.M * l.N}
	switch part {
	case 1:
		out = tensor.Shape{b * l.M, len(l.Cons)}
	case 2:
		out = tensor.Shape{b * l.N, len(l.Vars)}
	}
	return &splitOp{l: l, part: part, b: b, w: w, Base: opkit.New(fmt.Sprintf("SplitBipartite{%d}", part),
		fmt.Sprintf("SplitBipartite{%v,%d,%d,%d,%+v}", dt, part, b, w, l), dt, 1, out)}
}

func (op *splitOp) DiffWRT(n int) []bool { return make([]bool, n) }
func (op *splitOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("graph: SplitBipartite reads data; its input is not differentiated")
}

func (op *splitOp) Do(vals ...G.Value) (G.Value, error) {
	if err := op.CheckArity(vals); err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	out := op.Output()
	return out, op.Dispatch(
		func() error { return splitDo[float32](op, out.Data().([]float32), vals[0]) },
		func() error { return splitDo[float64](op, out.Data().([]float64), vals[0]) })
}

func splitDo[T deq.Float](op *splitOp, out []T, v G.Value) error {
	x, err := opkit.Data[T](v)
	if err != nil {
		return err
	}
	if len(x) != op.b*op.w {
		return fmt.Errorf("graph: %v got %d values, want %d", op, len(x), op.b*op.w)
	}
	l := op.l
	for s := 0; s < op.b; s++ {
		row := x[s*op.w : (s+1)*op.w]
		switch op.part {
		case 0:
			copy(out[s*l.M*l.N:(s+1)*l.M*l.N], row[l.A:l.A+l.M*l.N])
		case 1:
			features(out[s*l.M*len(l.Cons):], row, l.Cons, l.M)
		case 2:
			features(out[s*l.N*len(l.Vars):], row, l.Vars, l.N)
		}
	}
	return nil
}

// features writes the k nodes' feature vectors, node-major, into out.
func features[T deq.Float](out, row []T, fs []Feature, k int) {
	for node := 0; node < k; node++ {
		for f, ft := range fs {
			out[node*len(fs)+f] = row[ft.Offset+node] * T(ft.scale())
		}
	}
}
