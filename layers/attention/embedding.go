package attention

import (
	"fmt"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/internal/opkit"
	"github.com/implicit-ml/implicit/layers"
)

// Normal initialises from N(0, std²).
func Normal(std float64) layers.Init {
	return func(rng *rand.Rand, _ tensor.Shape, out []float64) {
		for i := range out {
			out[i] = std * rng.NormFloat64()
		}
	}
}

// Embedding maps token ids to rows of a learned (V, D) table.
//
// Shapes: the ids are a float tensor (B, T) holding integers in [0, V)
// (the training loop feeds float data; the ids' dtype must be the
// table's); the output is (B·T, D), row b·T + t the embedding of token t
// of sequence b. The gradient scatter-adds into the table; the ids get
// none. An id that is not an integer in range is an error of the run,
// never a panic. The table starts from N(0, 1) (unit-RMS rows, what the
// RMS-normalised blocks expect) unless EmbedInit says otherwise.
type Embedding struct {
	W          *G.Node
	Vocab, Dim int
	err        error
}

var _ layers.Layer = (*Embedding)(nil)

// EmbedOpt configures an Embedding or a PositionEmbedding.
type EmbedOpt func(*embedConfig)

type embedConfig struct{ init layers.Init }

// EmbedInit sets the table's initialiser.
func EmbedInit(i layers.Init) EmbedOpt { return func(c *embedConfig) { c.init = i } }

// NewEmbedding creates a table of vocab rows of width dim, parameter
// name.W.
func NewEmbedding(s *layers.Scope, name string, vocab, dim int, opts ...EmbedOpt) *Embedding {
	cfg := embedConfig{init: Normal(1)}
	for _, o := range opts {
		o(&cfg)
	}
	e := &Embedding{Vocab: vocab, Dim: dim}
	if vocab < 1 || dim < 1 {
		e.err = s.Fail(fmt.Errorf("attention: Embedding %q needs positive sizes, got vocabulary %d and width %d", name, vocab, dim))
		return e
	}
	e.W = s.Param(name+".W", tensor.Shape{vocab, dim}, cfg.init)
	e.err = s.Err()
	return e
}

// Fwd implements layers.Layer: ids (B, T) → (B·T, D).
func (e *Embedding) Fwd(ids *G.Node) (*G.Node, error) {
	if e.err != nil {
		return nil, e.err
	}
	s := ids.Shape()
	switch {
	case len(s) != 2:
		return nil, fmt.Errorf("attention: Embedding needs ids of shape (B, T), got %v", s)
	case ids.Dtype() != e.W.Dtype():
		return nil, fmt.Errorf("attention: Embedding ids are %v but the table is %v; feed the ids in the model's dtype", ids.Dtype(), e.W.Dtype())
	}
	return G.ApplyOp(newEmbedOp(e.W.Dtype(), s[0]*s[1], e.Vocab, e.Dim), ids, e.W)
}

// Params implements layers.Layer.
func (e *Embedding) Params() G.Nodes {
	if e.err != nil {
		return nil
	}
	return G.Nodes{e.W}
}

// embedOp looks rows up: children ids (B, T), W (V, D); output (B·T, D).
type embedOp struct {
	opkit.Base
	n, v, d int
}

func newEmbedOp(dt tensor.Dtype, n, v, d int) *embedOp {
	return &embedOp{n: n, v: v, d: d,
		Base: opkit.New("Embedding", fmt.Sprintf("attention.Embedding{%v,%d,%d,%d}", dt, n, v, d), dt, 2, tensor.Shape{n, d})}
}

func (op *embedOp) Do(vals ...G.Value) (G.Value, error) {
	return opkit.Do(op, "attention", vals, embedDo[float32], embedDo[float64])
}

func embedDo[T opkit.Float](op *embedOp, out *tensor.Dense, vals []G.Value) error {
	ids, w, err := twoInputs[T](vals)
	if err != nil {
		return err
	}
	if len(ids) != op.n || len(w) != op.v*op.d {
		return fmt.Errorf("attention: Embedding got %d ids and %d table values, want %d and %d", len(ids), len(w), op.n, op.v*op.d)
	}
	if err := checkIDs(ids, op.v); err != nil {
		return err
	}
	y, d := out.Data().([]T), op.d
	for r, id := range ids {
		copy(y[r*d:(r+1)*d], w[int(id)*d:(int(id)+1)*d])
	}
	return nil
}

// checkIDs returns an error naming the first id that is not an integer
// in [0, v).
func checkIDs[T opkit.Float](ids []T, v int) error {
	for r, id := range ids {
		f := float64(id)
		if !(f >= 0 && f < float64(v)) || f != math.Trunc(f) {
			return fmt.Errorf("attention: token id %v at flat position %d is not an integer in [0, %d); check the data's vocabulary against the Embedding's", f, r, v)
		}
	}
	return nil
}

func (op *embedOp) DiffWRT(int) []bool { return []bool{false, true} }

// SymDiff: no gradient to the ids; ∂W scatter-adds the rows of ∂y.
func (op *embedOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dw, err := G.ApplyOp(op.grad(), inputs[0], grad)
	return G.Nodes{nil, dw}, err
}

func (op *embedOp) DoDiff(_ G.ExecutionContext, inputs G.Nodes, output *G.Node) error {
	g, err := output.Grad()
	if err != nil {
		return err
	}
	dw, err := op.grad().Do(inputs[0].Value(), g)
	if err != nil {
		return err
	}
	return opkit.AccumulateGrad(inputs[1], dw)
}

func (op *embedOp) grad() *embedGradOp {
	dt := op.Dtype()
	return &embedGradOp{n: op.n, v: op.v, d: op.d,
		Base: opkit.New("EmbeddingGrad", fmt.Sprintf("attention.EmbeddingGrad{%v,%d,%d,%d}", dt, op.n, op.v, op.d), dt, 2, tensor.Shape{op.v, op.d})}
}

// embedGradOp scatter-adds: children ids, ∂y (B·T, D); output ∂W (V, D).
type embedGradOp struct {
	opkit.Base
	n, v, d int
}

func (op *embedGradOp) Do(vals ...G.Value) (G.Value, error) {
	return opkit.Do(op, "attention", vals, embedGradDo[float32], embedGradDo[float64])
}

func embedGradDo[T opkit.Float](op *embedGradOp, out *tensor.Dense, vals []G.Value) error {
	ids, dy, err := twoInputs[T](vals)
	if err != nil {
		return err
	}
	if len(ids) != op.n || len(dy) != op.n*op.d {
		return fmt.Errorf("attention: Embedding gradient got %d ids and %d values, want %d and %d", len(ids), len(dy), op.n, op.n*op.d)
	}
	if err := checkIDs(ids, op.v); err != nil {
		return err
	}
	dw, d := out.Data().([]T), op.d
	clear(dw)
	for r, id := range ids {
		row := dw[int(id)*d : (int(id)+1)*d]
		for j, g := range dy[r*d : (r+1)*d] {
			row[j] += g
		}
	}
	return nil
}

func (op *embedGradOp) DiffWRT(n int) []bool { return make([]bool, n) }
func (op *embedGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("attention: the Embedding gradient is not differentiated again")
}
