package graph

import (
	"fmt"
	"math/rand/v2"

	"github.com/implicit-ml/implicit/layers"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// PartsDense is a dense layer on the concatenation of several inputs,
//
//	y = φ([x₁ … x_k]·W + b) = φ(Σ_p x_p·W_p + b),
//
// with W stored as one block W_p per part, so no concatenation is built
// and a part that does not change (an embedding inside a fixed-point
// iteration) can have its product computed once.
//
// Shapes: x_p is (R, In[p]), W_p is (In[p], Out), b is (1, Out), y is
// (R, Out).
type PartsDense struct {
	W   []*G.Node
	B   *G.Node
	Act layers.Activation
	In  []int
	Out int
	err error
}

// PartsDense creates a PartsDense layer with parameters name.W0, name.W1,
// … and name.b. The weights are initialised as one Glorot-uniform matrix
// of the concatenated fan-in. act must have a derivative computable from
// its output (identity, tanh, ReLU, sigmoid, softplus).
func NewPartsDense(s *layers.Scope, name string, in []int, out int, act layers.Activation) *PartsDense {
	return NewPartsDenseWith(s, name, in, out, act, ConvOptions{})
}

// NewPartsDenseWith is NewPartsDense with the weights drawn by opt.Init
// (nil: Glorot uniform) as one matrix of the concatenated fan-in, split
// into its parts' blocks of rows, and a ReLU layer's biases starting at
// opt.ReLUBias.
func NewPartsDenseWith(s *layers.Scope, name string, in []int, out int, act layers.Activation, opt ConvOptions) *PartsDense {
	init := opt.Init
	d := &PartsDense{Act: act, In: append([]int(nil), in...), Out: out}
	total := 0
	for _, k := range in {
		if k <= 0 {
			total = -1
			break
		}
		total += k
	}
	switch {
	case len(in) == 0 || total <= 0 || out <= 0:
		d.err = s.Fail(fmt.Errorf("graph: PartsDense %q needs positive part widths and output, got %v and %d", name, in, out))
		return d
	case !act.DerivFromOutput():
		d.err = s.Fail(fmt.Errorf("graph: PartsDense %q: activation %v is not supported (use identity, tanh, relu, sigmoid or softplus)", name, act))
		return d
	}
	if init == nil {
		init = layers.GlorotUniform(1)
	}
	// One matrix for all parts, drawn when the first part is created (a
	// rebound scope draws nothing); each part takes its block of rows.
	// For i.i.d. draws such as Glorot's this is the same as drawing the
	// blocks one after another.
	full, row := []float64(nil), 0
	for p, k := range in {
		block := func(rng *rand.Rand, _ tensor.Shape, vals []float64) {
			if full == nil {
				full = make([]float64, total*out)
				init(rng, tensor.Shape{total, out}, full)
			}
			copy(vals, full[row*out:])
		}
		d.W = append(d.W, s.Param(fmt.Sprintf("%s.W%d", name, p), tensor.Shape{k, out}, block))
		row += k
	}
	bias := layers.Zeros
	if act == layers.ReLU && opt.ReLUBias != 0 {
		bias = layers.Constant(opt.ReLUBias)
	}
	d.B = s.Param(name+".b", tensor.Shape{1, out}, bias)
	d.err = s.Err()
	return d
}

// Params implements Layer.
func (d *PartsDense) Params() G.Nodes { return append(append(G.Nodes{}, d.W...), d.B) }

// Fwd implements Layer for a single part.
func (d *PartsDense) Fwd(x *G.Node) (*G.Node, error) { return d.Apply(x) }

// Apply builds φ(Σ_p x_p·W_p + b) for one input per part.
func (d *PartsDense) Apply(xs ...*G.Node) (*G.Node, error) {
	if d.err != nil {
		return nil, d.err
	}
	return d.apply(xs, d.W, nil, d.Act)
}

// apply builds φ(Σ_p x_p·W_p + b + add) for the weight blocks ws (a
// leading subset of d.W), an optional addend and the activation outAct.
func (d *PartsDense) apply(xs, ws G.Nodes, add *G.Node, outAct layers.Activation) (*G.Node, error) {
	if len(xs) != len(ws) || len(xs) == 0 {
		return nil, fmt.Errorf("graph: PartsDense takes %d parts, got %d inputs", len(ws), len(xs))
	}
	for p, x := range xs {
		if s := x.Shape(); len(s) != 2 || s[1] != d.In[p] || s[0] != xs[0].Shape()[0] {
			return nil, fmt.Errorf("graph: PartsDense part %d has shape %v, want (%d, %d)", p, s, xs[0].Shape()[0], d.In[p])
		}
	}
	if add != nil && len(xs) > 1 {
		acc, err := d.apply(xs, ws, nil, layers.Identity)
		if err != nil {
			return nil, err
		}
		return addAct(acc, add, outAct)
	}
	// A chain of fused ops in part order, the bias in the first and φ in
	// the last: t = x₁·W₁ + b, t = x₂·W₂ + t, …, y = φ(x_k·W_k + t). The
	// leading parts that do not change between applications (embeddings
	// inside an unrolled iteration) then build identical nodes each time,
	// which Gorgonia's hash-consing shares: they are computed once.
	acc := add
	for p := range xs {
		var b *G.Node
		if p == 0 {
			b = d.B
		}
		act := layers.Identity
		if p == len(xs)-1 {
			act = outAct
		}
		var err error
		if acc, err = layers.Affine(xs[p], ws[p], acc, b, act); err != nil {
			return nil, err
		}
	}
	return acc, nil
}

// BipartiteConv is a graph convolution from one side of a bipartite graph
// to the other (Dir), with two-layer ReLU MLPs for the messages and the
// update and sum aggregation weighted by the edge weights A_ij:
//
//	m_s   = W²ₘ·ReLU(W¹ₘ·[src_s] + b¹ₘ) + b²ₘ            (every source node s)
//	agg_t = Σ_s A_ts m_s                                 (every destination node t)
//	out_t = ReLU(W²ᵤ·ReLU(W¹ᵤ·[dst_t, agg_t] + b¹ᵤ) + b²ᵤ)
//
// written here for column vectors. [src] and [dst] are the node features,
// each given as one or more parts (for instance an embedding and the
// state of a fixed-point iteration). Shapes: source parts (B·S, Src[p]),
// destination parts (B·D, Dst[p]), A (B, M·N), output (B·D, Width), S and
// D being the node counts of the two sides, instance-major.
type BipartiteConv struct {
	Msg1, Msg2 *PartsDense // message MLP: Src → Width → Width
	// Dst1, Dst2, with ConvOptions.DstMLP: the destination MLP, Dst →
	// Width → Width (ReLU, then identity); nil otherwise.
	Dst1, Dst2 *PartsDense
	Upd1, Upd2 *PartsDense // update MLP: Dst (or Width) + [Width] → Width → Width
	Dir        BipartiteDir
	M, N       int
	Src, Dst   []int
	Width      int
	err        error
}

// ConvOptions are a BipartiteConv's options; the zero value is the
// convolution documented there.
type ConvOptions struct {
	// DstMLP passes the destination features through a two-layer MLP of
	// their own (Dst → Width, ReLU, → Width) before the update, which then
	// sees [MLP(dst), agg]: the convolutions of the LP paper's code carry
	// three MLPs, on the source, on the destination and on the
	// concatenation.
	DstMLP bool
	// Init draws every weight matrix (nil: Glorot uniform, gain 1).
	Init layers.Init
	// ReLUBias starts the biases of the ReLU layers at this value (zero
	// by default; the others always start at zero): a small positive bias
	// keeps a narrow layer from starting dead, every unit negative on every
	// input, which freezes the whole network.
	ReLUBias float64
}

// BipartiteConv creates a convolution for graphs of m constraint and n
// variable nodes, with source and destination feature parts of the given
// widths and width hidden and output channels. Parameters are
// name.msg1.*, name.msg2.*, name.upd1.* and name.upd2.*.
func NewBipartiteConv(s *layers.Scope, name string, m, n int, dir BipartiteDir, src, dst []int, width int) *BipartiteConv {
	return NewBipartiteConvWith(s, name, m, n, dir, src, dst, width, ConvOptions{})
}

// NewBipartiteConvWith is NewBipartiteConv with options; the destination
// MLP's parameters are name.dst1.* and name.dst2.*, created after the
// message MLP's.
func NewBipartiteConvWith(s *layers.Scope, name string, m, n int, dir BipartiteDir, src, dst []int, width int, opt ConvOptions) *BipartiteConv {
	c := &BipartiteConv{Dir: dir, M: m, N: n, Src: append([]int(nil), src...), Dst: append([]int(nil), dst...), Width: width}
	if m <= 0 || n <= 0 || width <= 0 || len(src) == 0 || len(dst) == 0 || (dir != VarToCons && dir != ConsToVar) {
		c.err = s.Fail(fmt.Errorf("graph: BipartiteConv %q needs m, n, width > 0, source and destination parts and a direction, got %d, %d, %d, %v, %v, %v", name, m, n, width, src, dst, dir))
		return c
	}
	c.Msg1 = NewPartsDenseWith(s, name+".msg1", src, width, layers.ReLU, opt)
	c.Msg2 = NewPartsDenseWith(s, name+".msg2", []int{width}, width, layers.Identity, opt)
	upd := dst
	if opt.DstMLP {
		c.Dst1 = NewPartsDenseWith(s, name+".dst1", dst, width, layers.ReLU, opt)
		c.Dst2 = NewPartsDenseWith(s, name+".dst2", []int{width}, width, layers.Identity, opt)
		upd = []int{width}
	}
	c.Upd1 = NewPartsDenseWith(s, name+".upd1", append(append([]int(nil), upd...), width), width, layers.ReLU, opt)
	c.Upd2 = NewPartsDenseWith(s, name+".upd2", []int{width}, width, layers.ReLU, opt)
	c.err = s.Err()
	return c
}

// Params returns the convolution's parameters: the message MLP's, the
// destination MLP's (if any), then the update MLP's.
func (c *BipartiteConv) Params() G.Nodes {
	if c.Msg1 == nil {
		return nil
	}
	var ps G.Nodes
	for _, d := range []*PartsDense{c.Msg1, c.Msg2, c.Dst1, c.Dst2, c.Upd1, c.Upd2} {
		if d != nil {
			ps = append(ps, d.Params()...)
		}
	}
	return ps
}

// Apply builds the convolution for source parts src, destination parts
// dst and edge weights a.
//
// The dense maps run on the constraint side, which has fewer nodes: for
// var → cons the hidden layer is aggregated before the message's second
// layer, Σ_j A_ij (h_j·W² + b²) = (Σ_j A_ij h_j)·W² + (Σ_j A_ij)·b²; for
// cons → var the update's aggregate block is applied before aggregating,
// (Σ_i A_ij m_i)·Wₐ = Σ_i A_ij (m_i·Wₐ). The function is the same.
func (c *BipartiteConv) Apply(src, dst G.Nodes, a *G.Node) (*G.Node, error) {
	if c.err != nil {
		return nil, c.err
	}
	if c.Dst1 != nil {
		hd, err := c.Dst1.Apply(dst...)
		if err != nil {
			return nil, err
		}
		pd, err := c.Dst2.Apply(hd)
		if err != nil {
			return nil, err
		}
		dst = G.Nodes{pd}
	}
	h, err := c.Msg1.Apply(src...)
	if err != nil {
		return nil, err
	}
	wa := c.Upd1.W[len(c.Upd1.W)-1]
	var u *G.Node
	if c.Dir == VarToCons {
		ah, err := BipartiteAggregate(a, h, c.M, c.N, c.Dir)
		if err != nil {
			return nil, err
		}
		deg, err := bipartiteDegree(a, c.M, c.N)
		if err != nil {
			return nil, err
		}
		db, err := layers.Affine(deg, c.Msg2.B, nil, nil, layers.Identity)
		if err != nil {
			return nil, err
		}
		agg, err := layers.Affine(ah, c.Msg2.W[0], db, nil, layers.Identity)
		if err != nil {
			return nil, err
		}
		u, err = c.Upd1.apply(append(append(G.Nodes{}, dst...), agg), c.Upd1.W, nil, c.Upd1.Act)
		if err != nil {
			return nil, err
		}
	} else {
		msg, err := c.Msg2.Apply(h)
		if err != nil {
			return nil, err
		}
		mw, err := layers.Affine(msg, wa, nil, nil, layers.Identity)
		if err != nil {
			return nil, err
		}
		agg, err := BipartiteAggregate(a, mw, c.M, c.N, c.Dir)
		if err != nil {
			return nil, err
		}
		if u, err = c.Upd1.apply(dst, c.Upd1.W[:len(c.Upd1.W)-1], agg, c.Upd1.Act); err != nil {
			return nil, err
		}
	}
	return c.Upd2.Apply(u)
}

// bipartiteDegree returns Σ_j A_ij for every constraint node, (B·M, 1).
func bipartiteDegree(a *G.Node, m, n int) (*G.Node, error) {
	rows := a.Shape()[0] * n
	ones := tensor.New(tensor.WithShape(rows, 1), tensor.Of(a.Dtype()))
	switch d := ones.Data().(type) {
	case []float64:
		for i := range d {
			d[i] = 1
		}
	case []float32:
		for i := range d {
			d[i] = 1
		}
	}
	one := a.Graph().AddNode(G.NewConstant(ones, G.WithName(fmt.Sprintf("ones%d", rows))))
	return BipartiteAggregate(a, one, m, n, VarToCons)
}
