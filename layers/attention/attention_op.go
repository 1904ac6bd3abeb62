package attention

import (
	"fmt"
	"math"
	"sync"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/internal/linalg"
	"github.com/implicit-ml/implicit/internal/opkit"
)

// attnGeom is the static shape of the attention core: B sequences of T
// tokens, H heads of width dh (D = H·dh), and the RoPE base (0: none).
type attnGeom struct {
	b, t, h, dh int
	base        float64
}

func (g attnGeom) d() int    { return g.h * g.dh }
func (g attnGeom) rows() int { return g.b * g.t }

// flops is the cost of the given number of (T×dh)-by-(dh×T)-sized
// products for every (sequence, head) pair: what linalg.Work weighs
// against the cost of splitting over cores.
func (g attnGeom) flops(products int) int { return products * 2 * g.b * g.h * g.t * g.t * g.dh }

// CausalSelfAttention builds the core of multi-head causal self-attention
// as one op: for every sequence and head,
//
//	q̃_t = R(t)q_t/√dh, k̃_t = R(t)k_t,  P = softmax_causal(q̃k̃ᵀ),  o = P·v
//
// with R(t) the rotary position encoding (RoPE, base ropeBase; 0 means no
// rotation) and the causal mask letting position t attend to positions
// ≤ t only.
//
// Shapes: qkv is (B·T, 3·D), the queries, keys and values of each token
// side by side ([Q | K | V], head h in columns h·dh … (h+1)·dh−1 of each
// block), tokens batch-major (row b·T + t); the output is (B·T, D), the
// heads side by side in the same layout. T is seqLen, D = heads·dh. The
// backward pass is one hand-written op (∂qkv in the same layout), which
// recomputes the attention weights instead of storing them; it is not
// differentiated again.
func CausalSelfAttention(qkv *G.Node, seqLen, heads int, ropeBase float64) (*G.Node, error) {
	s := qkv.Shape()
	switch {
	case len(s) != 2 || s[1]%3 != 0:
		return nil, fmt.Errorf("attention: CausalSelfAttention needs qkv of shape (B·T, 3·D), got %v", s)
	case seqLen < 1 || s[0]%seqLen != 0:
		return nil, fmt.Errorf("attention: CausalSelfAttention: %d rows are not a whole number of sequences of length %d", s[0], seqLen)
	case heads < 1 || (s[1]/3)%heads != 0:
		return nil, fmt.Errorf("attention: CausalSelfAttention: width D = %d is not a multiple of %d heads", s[1]/3, heads)
	}
	g := attnGeom{b: s[0] / seqLen, t: seqLen, h: heads, dh: s[1] / 3 / heads, base: ropeBase}
	if err := checkRoPE(ropeBase, g.dh); err != nil {
		return nil, err
	}
	return G.ApplyOp(newAttnOp(g, qkv.Dtype()), qkv)
}

// attnOp is the attention core. Child: qkv.
type attnOp struct {
	opkit.Base
	geo  attnGeom
	rope *ropeTable
}

func newAttnOp(g attnGeom, dt tensor.Dtype) *attnOp {
	return &attnOp{geo: g, rope: newRopeTable(g.t, g.dh, g.base),
		Base: opkit.New(fmt.Sprintf("CausalAttention{%d heads}", g.h), fmt.Sprintf("attention.Causal{%v,%v}", dt, g), dt, 1, tensor.Shape{g.rows(), g.d()})}
}

func (op *attnOp) Do(vals ...G.Value) (G.Value, error) {
	if err := op.CheckArity(vals); err != nil {
		return nil, fmt.Errorf("attention: %w", err)
	}
	out := op.Output()
	return out, op.Dispatch(
		func() error { return attnDo[float32](op.geo, op.rope, out, vals[0]) },
		func() error { return attnDo[float64](op.geo, op.rope, out, vals[0]) })
}

func attnDo[T opkit.Float](g attnGeom, rope *ropeTable, out *tensor.Dense, v G.Value) error {
	qkv, err := opkit.Data[T](v)
	if err != nil {
		return err
	}
	if len(qkv) != g.rows()*3*g.d() {
		return fmt.Errorf("attention: the attention core got %d values, want %d", len(qkv), g.rows()*3*g.d())
	}
	attnForward(g, rope, out.Data().([]T), qkv)
	return nil
}

func (op *attnOp) DiffWRT(int) []bool { return []bool{true} }

// SymDiff: ∂qkv from one op fed qkv and the incoming gradient.
func (op *attnOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(op.grad(), inputs[0], grad)
	return G.Nodes{d}, err
}

func (op *attnOp) DoDiff(_ G.ExecutionContext, inputs G.Nodes, output *G.Node) error {
	g, err := output.Grad()
	if err != nil {
		return err
	}
	d, err := op.grad().Do(inputs[0].Value(), g)
	if err != nil {
		return err
	}
	return opkit.AccumulateGrad(inputs[0], d)
}

func (op *attnOp) grad() *attnGradOp {
	g, dt := op.geo, op.Dtype()
	return &attnGradOp{geo: g, rope: op.rope,
		Base: opkit.New("CausalAttentionGrad", fmt.Sprintf("attention.CausalGrad{%v,%v}", dt, g), dt, 2, tensor.Shape{g.rows(), 3 * g.d()})}
}

// attnGradOp is the attention core's backward pass. Children: qkv and the
// output's gradient; its output is ∂qkv.
type attnGradOp struct {
	opkit.Base
	geo  attnGeom
	rope *ropeTable
}

func (op *attnGradOp) Do(vals ...G.Value) (G.Value, error) {
	if err := op.CheckArity(vals); err != nil {
		return nil, fmt.Errorf("attention: %w", err)
	}
	out := op.Output()
	return out, op.Dispatch(
		func() error { return attnGradDo[float32](op.geo, op.rope, out, vals) },
		func() error { return attnGradDo[float64](op.geo, op.rope, out, vals) })
}

func attnGradDo[T opkit.Float](g attnGeom, rope *ropeTable, out *tensor.Dense, vals []G.Value) error {
	qkv, err := opkit.Data[T](vals[0])
	if err != nil {
		return err
	}
	dout, err := opkit.Data[T](vals[1])
	if err != nil {
		return err
	}
	if len(qkv) != g.rows()*3*g.d() || len(dout) != g.rows()*g.d() {
		return fmt.Errorf("attention: the attention gradient got %d and %d values, want %d and %d", len(qkv), len(dout), g.rows()*3*g.d(), g.rows()*g.d())
	}
	attnBackward(g, rope, out.Data().([]T), qkv, dout)
	return nil
}

func (op *attnGradOp) DiffWRT(n int) []bool { return make([]bool, n) }
func (op *attnGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("attention: the attention gradient is not differentiated again")
}

// The kernels work one (sequence, head) pair at a time, in parallel over
// pairs: the pair's rotated queries and keys are copied into contiguous
// T×dh buffers, and every product is one linalg.Gemm reading the values
// and writing the output in place through leading dimensions.

// loadRotated writes the pair's rotated rows scale·R(t)x_t into dst
// (T×dh) from src, whose row t starts at src[t·ld].
func loadRotated[T opkit.Float](g attnGeom, rope *ropeTable, dst, src []T, ld int, scale T) {
	for t := range g.t {
		rotate(rope, dst[t*g.dh:(t+1)*g.dh], src[t*ld:t*ld+g.dh], t, scale)
	}
}

// scores writes the causal attention weights P = softmax_causal(q̃k̃ᵀ)
// (T×T, zero above the diagonal) into p.
func scores[T opkit.Float](g attnGeom, p, q, k []T) {
	logits(g, p, q, k)
	causalSoftmax(p, g.t)
}

// logits writes q̃k̃ᵀ (T×T, every entry) into p.
func logits[T opkit.Float](g attnGeom, p, q, k []T) {
	linalg.Gemm(false, true, g.t, g.t, g.dh, 1, q, g.dh, k, g.dh, 0, p, g.t)
}

// causalSoftmax replaces each row i of the n×n logits p by its softmax
// over columns j ≤ i, and zeros the columns j > i: the entries masked out
// are never read, so they cannot leak into the weights.
func causalSoftmax[T opkit.Float](p []T, n int) {
	if p32, ok := any(p).([]float32); ok {
		for i := range n {
			softmaxRow32(p32[i*n : i*n+i+1])
			clear(p32[i*n+i+1 : (i+1)*n])
		}
		return
	}
	for i := range n {
		row := p[i*n : (i+1)*n]
		m := row[0]
		for _, v := range row[1 : i+1] {
			m = max(m, v)
		}
		sum := 0.0
		for j, v := range row[:i+1] {
			e := math.Exp(float64(v - m))
			row[j] = T(e)
			sum += e
		}
		inv := T(1 / sum)
		for j := range row[:i+1] {
			row[j] *= inv
		}
		clear(row[i+1:])
	}
}

// softmaxRow32 replaces row by its softmax in float32 arithmetic, with
// exp32: with math.Exp and float64 round trips the softmax was the
// largest part of the float32 forward pass; this path makes the op's
// forward pass about 15% faster and its backward 8% (BenchmarkAttentionCore).
func softmaxRow32(row []float32) {
	m := row[0]
	for _, v := range row[1:] {
		m = max(m, v)
	}
	var sum float32
	for j, v := range row {
		e := exp32(v - m)
		row[j] = e
		sum += e
	}
	inv := 1 / sum
	for j := range row {
		row[j] *= inv
	}
}

// exp32 is e^x for x ≤ 0 in float32, to within 2 ulp (TestExp32):
// x = n·ln2 + r with |r| ≤ ln2/2, e^r by its degree-7 Taylor polynomial
// (truncation error 4e-9, under float32's half ulp), and 2^n added to the
// exponent bits. Below −86, where e^x < 5e-38 counts for nothing next to
// the row's largest weight 1, it returns 0 (keeping 2^n normal).
func exp32(x float32) float32 {
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375 // ln 2 split so that n·ln2hi is exact
		ln2lo = -2.12194440e-4
	)
	if !(x >= -86) {
		return 0
	}
	n := float32(int32(x*log2e - 0.5)) // nearest integer (x ≤ 0, and int32 truncates toward 0)
	r := x - n*ln2hi - n*ln2lo
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040)))))))
	return math.Float32frombits(math.Float32bits(p) + uint32(int32(n))<<23)
}

// attnForward writes the attention output (B·T, D) into out.
func attnForward[T opkit.Float](g attnGeom, rope *ropeTable, out, qkv []T) {
	d, n, dh := g.d(), g.t, g.dh
	ld := 3 * d
	scale := T(1 / math.Sqrt(float64(dh)))
	linalg.Work(g.b*g.h, g.flops(2), func(lo, hi int) {
		buf := getScratch[T](2*n*dh + n*n)
		defer putScratch(buf)
		q, k, p := (*buf)[:n*dh], (*buf)[n*dh:2*n*dh], (*buf)[2*n*dh:]
		for bh := lo; bh < hi; bh++ {
			b, h := bh/g.h, bh%g.h
			seq := qkv[b*n*ld:]
			loadRotated(g, rope, q, seq[h*dh:], ld, scale)
			loadRotated(g, rope, k, seq[d+h*dh:], ld, 1)
			scores(g, p, q, k)
			linalg.Gemm(false, false, n, dh, n, 1, p, n, seq[2*d+h*dh:], ld, 0, out[b*n*d+h*dh:], d)
		}
	})
}

// attnBackward writes ∂qkv (B·T, 3·D) into dqkv given the output's
// gradient dout (B·T, D):
//
//	∂v = Pᵀ·do,  ∂P = do·vᵀ,  ∂S = P ⊙ (∂P − rowsum(P ⊙ ∂P)),
//	∂q_t = R(t)ᵀ(∂S·k̃)_t/√dh,  ∂k_t = R(t)ᵀ(∂Sᵀ·q̃)_t.
//
// Masked entries have P = 0, so ∂S is zero there and no gradient crosses
// the mask.
func attnBackward[T opkit.Float](g attnGeom, rope *ropeTable, dqkv, qkv, dout []T) {
	d, n, dh := g.d(), g.t, g.dh
	ld := 3 * d
	scale := T(1 / math.Sqrt(float64(dh)))
	linalg.Work(g.b*g.h, g.flops(5), func(lo, hi int) {
		buf := getScratch[T](4*n*dh + 2*n*n)
		defer putScratch(buf)
		s := *buf
		q, k, dq, dk := s[:n*dh], s[n*dh:2*n*dh], s[2*n*dh:3*n*dh], s[3*n*dh:4*n*dh]
		p, dp := s[4*n*dh:4*n*dh+n*n], s[4*n*dh+n*n:]
		for bh := lo; bh < hi; bh++ {
			b, h := bh/g.h, bh%g.h
			seq, dseq, do := qkv[b*n*ld:], dqkv[b*n*ld:], dout[b*n*d+h*dh:]
			loadRotated(g, rope, q, seq[h*dh:], ld, scale)
			loadRotated(g, rope, k, seq[d+h*dh:], ld, 1)
			scores(g, p, q, k)
			linalg.Gemm(true, false, n, dh, n, 1, p, n, do, d, 0, dseq[2*d+h*dh:], ld)
			linalg.Gemm(false, true, n, n, dh, 1, do, d, seq[2*d+h*dh:], ld, 0, dp, n)
			for i := range n {
				pr, dr := p[i*n:i*n+i+1], dp[i*n:(i+1)*n]
				var dot T
				for j, v := range pr {
					dot += v * dr[j]
				}
				for j, v := range pr {
					dr[j] = v * (dr[j] - dot)
				}
				clear(dr[i+1:])
			}
			linalg.Gemm(false, false, n, dh, n, 1, dp, n, k, dh, 0, dq, dh)
			linalg.Gemm(true, false, n, dh, n, 1, dp, n, q, dh, 0, dk, dh)
			for t := range n {
				rotateBack(rope, dseq[t*ld+h*dh:t*ld+(h+1)*dh], dq[t*dh:(t+1)*dh], t, scale)
				rotateBack(rope, dseq[t*ld+d+h*dh:t*ld+d+(h+1)*dh], dk[t*dh:(t+1)*dh], t, 1)
			}
		}
	})
}

// Scratch buffers of the kernels, one per worker at a time; like
// linalg's packing buffers they hold no results between calls.
var scratch32, scratch64 sync.Pool

func scratchPool[T opkit.Float]() *sync.Pool {
	if opkit.IsFloat32[T]() {
		return &scratch32
	}
	return &scratch64
}

func getScratch[T opkit.Float](n int) *[]T {
	if b, ok := scratchPool[T]().Get().(*[]T); ok && cap(*b) >= n {
		*b = (*b)[:n]
		return b
	}
	b := make([]T, n)
	return &b
}

func putScratch[T opkit.Float](b *[]T) { scratchPool[T]().Put(b) }
