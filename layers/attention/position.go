package attention

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/internal/opkit"
	"github.com/implicit-ml/implicit/layers"
)

// PositionEmbedding adds a learned (T, D) table to the token embeddings,
// row t to every token at position t: the optional alternative (or
// complement) to the rotary encoding the attention applies by default.
//
// Shapes: x and the output are (B·T, D), tokens batch-major (row b·T + t);
// the table P is (T, D), initialised from N(0, 0.1²) unless EmbedInit
// says otherwise (small next to unit-RMS token embeddings, so that at the
// start the tokens dominate).
type PositionEmbedding struct {
	P           *G.Node
	SeqLen, Dim int
	err         error
}

var _ layers.Layer = (*PositionEmbedding)(nil)

// NewPositionEmbedding creates a table for sequences of seqLen tokens of
// width dim, parameter name.P.
func NewPositionEmbedding(s *layers.Scope, name string, seqLen, dim int, opts ...EmbedOpt) *PositionEmbedding {
	cfg := embedConfig{init: Normal(0.1)}
	for _, o := range opts {
		o(&cfg)
	}
	p := &PositionEmbedding{SeqLen: seqLen, Dim: dim}
	if seqLen < 1 || dim < 1 {
		p.err = s.Fail(fmt.Errorf("attention: PositionEmbedding %q needs positive sizes, got length %d and width %d", name, seqLen, dim))
		return p
	}
	p.P = s.Param(name+".P", tensor.Shape{seqLen, dim}, cfg.init)
	p.err = s.Err()
	return p
}

// Fwd implements layers.Layer.
func (p *PositionEmbedding) Fwd(x *G.Node) (*G.Node, error) {
	if p.err != nil {
		return nil, p.err
	}
	s := x.Shape()
	if len(s) != 2 || s[1] != p.Dim || s[0]%p.SeqLen != 0 {
		return nil, fmt.Errorf("attention: PositionEmbedding(T=%d, D=%d) needs x of shape (B·%d, %d), got %v", p.SeqLen, p.Dim, p.SeqLen, p.Dim, s)
	}
	if x.Dtype() != p.P.Dtype() {
		return nil, fmt.Errorf("attention: PositionEmbedding dtypes differ: %v and %v", x.Dtype(), p.P.Dtype())
	}
	return G.ApplyOp(newPosOp(x.Dtype(), s[0], p.SeqLen, p.Dim, false), x, p.P)
}

// Params implements layers.Layer.
func (p *PositionEmbedding) Params() G.Nodes {
	if p.err != nil {
		return nil
	}
	return G.Nodes{p.P}
}

// posOp adds the table (children x (B·T, D), P (T, D); output (B·T, D)),
// or, with sum set, is its gradient for P: the sum over sequences of ∂y
// (child ∂y (B·T, D); output (T, D)).
type posOp struct {
	opkit.Base
	rows, t, d int
	sum        bool
}

func newPosOp(dt tensor.Dtype, rows, t, d int, sum bool) *posOp {
	name, arity, out := "PositionEmbedding", 2, tensor.Shape{rows, d}
	if sum {
		name, arity, out = "PositionEmbeddingGrad", 1, tensor.Shape{t, d}
	}
	return &posOp{rows: rows, t: t, d: d, sum: sum,
		Base: opkit.New(name, fmt.Sprintf("attention.Position{%v,%d,%d,%d,%v}", dt, rows, t, d, sum), dt, arity, out)}
}

func (op *posOp) Do(vals ...G.Value) (G.Value, error) {
	return opkit.Do(op, "attention", vals, posDo[float32], posDo[float64])
}

func posDo[T opkit.Float](op *posOp, out *tensor.Dense, vals []G.Value) error {
	x, err := opkit.Data[T](vals[0])
	if err != nil {
		return err
	}
	o, td := out.Data().([]T), op.t*op.d
	if len(x) != op.rows*op.d {
		return fmt.Errorf("attention: %v got %d values, want %d", op, len(x), op.rows*op.d)
	}
	if op.sum {
		clear(o)
		for s := 0; s < len(x); s += td {
			for i, v := range x[s : s+td] {
				o[i] += v
			}
		}
		return nil
	}
	p, err := opkit.Data[T](vals[1])
	if err != nil {
		return err
	}
	if len(p) != td {
		return fmt.Errorf("attention: %v got a table of %d values, want %d", op, len(p), td)
	}
	for s := 0; s < len(x); s += td {
		for i, v := range x[s : s+td] {
			o[s+i] = v + p[i]
		}
	}
	return nil
}

func (op *posOp) DiffWRT(n int) []bool {
	if op.sum {
		return make([]bool, n)
	}
	return []bool{true, true}
}

// SymDiff: ∂x = ∂y; ∂P = Σ_sequences ∂y.
func (op *posOp) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	if op.sum {
		return nil, fmt.Errorf("attention: the PositionEmbedding gradient is not differentiated again")
	}
	dp, err := G.ApplyOp(newPosOp(op.Dtype(), op.rows, op.t, op.d, true), grad)
	return G.Nodes{grad, dp}, err
}

func (op *posOp) DoDiff(_ G.ExecutionContext, inputs G.Nodes, output *G.Node) error {
	if op.sum {
		return fmt.Errorf("attention: the PositionEmbedding gradient is not differentiated again")
	}
	g, err := output.Grad()
	if err != nil {
		return err
	}
	if err := opkit.AccumulateGrad(inputs[0], g); err != nil {
		return err
	}
	dp, err := newPosOp(op.Dtype(), op.rows, op.t, op.d, true).Do(g)
	if err != nil {
		return err
	}
	return opkit.AccumulateGrad(inputs[1], dp)
}
