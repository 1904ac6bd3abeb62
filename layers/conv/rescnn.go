package conv

import (
	"fmt"

	"github.com/implicit-ml/implicit/layers"

	G "gorgonia.org/gorgonia"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/opkit"
)

// ResCNN is a residual convolutional network on H×W single-channel
// images, the learned denoiser D_θ of the deblurring workload:
//
//	D(u) = r·u + N(u),  N(u) = conv_L(φ(conv_{L−1}(… φ(conv_1(u)))))
//
// with 3×3 convolutions 1 → C → … → C → 1 (Depth = L ≥ 2 of them, φ after
// all but the last) and skip weight r (ResSkip, default 1). Shapes: u and
// D(u) are (B, H·W). The last convolution starts small
// (GlorotUniform(0.1)), so a fresh D with r = 1 is close to the identity.
// With ResLipschitz(l) and a 1-Lipschitz φ (ReLU, tanh), Lip(N) ≤ l and
// Lip(D) ≤ r + l.
type ResCNN struct {
	Convs                          []*Conv2D
	Height, Width, Channels, Depth int
	Act                            layers.Activation
	// Skip is r, the weight of the identity path.
	Skip float64
	err  error
}

var _ layers.Layer = (*ResCNN)(nil)

// ResOpt configures a ResCNN.
type ResOpt func(*resConfig)

type resConfig struct{ skip, lip float64 }

// ResSkip sets the weight r of the identity path (default 1; 0 removes it).
func ResSkip(r float64) ResOpt { return func(c *resConfig) { c.skip = r } }

// ResLipschitz bounds Lip(N) by l: the hidden convolutions' operator
// norms are kept at most 1 and the last one's at most l (ConvBound).
func ResLipschitz(l float64) ResOpt { return func(c *resConfig) { c.lip = l } }

// ResCNN creates the denoiser with parameters name.conv1.W, name.conv1.b …
// name.convL.b.
func NewResCNN(s *layers.Scope, name string, height, width, channels, depth int, act layers.Activation, opts ...ResOpt) *ResCNN {
	cfg := resConfig{skip: 1}
	for _, o := range opts {
		o(&cfg)
	}
	d := &ResCNN{Height: height, Width: width, Channels: channels, Depth: depth, Act: act, Skip: cfg.skip}
	switch {
	case depth < 2 || channels < 1:
		d.err = s.Fail(fmt.Errorf("conv: ResCNN %q needs depth ≥ 2 and channels ≥ 1, got %d and %d", name, depth, channels))
		return d
	case cfg.skip < 0 || cfg.lip < 0:
		d.err = s.Fail(fmt.Errorf("conv: ResCNN %q needs a skip weight and a Lipschitz bound ≥ 0, got %v and %v", name, cfg.skip, cfg.lip))
		return d
	}
	for l := range depth {
		in, out, a := channels, channels, act
		copts := []ConvOpt{}
		if cfg.lip > 0 {
			copts = append(copts, ConvBound(1))
		}
		if l == 0 {
			in = 1
		}
		if l == depth-1 {
			out, a = 1, layers.Identity
			copts = []ConvOpt{ConvInit(layers.GlorotUniform(0.1))}
			if cfg.lip > 0 {
				copts = append(copts, ConvBound(cfg.lip))
			}
		}
		c := NewConv2D(s, fmt.Sprintf("%s.conv%d", name, l+1), height, width, in, out, 3, a, copts...)
		if c.err != nil {
			d.err = c.err
			return d
		}
		d.Convs = append(d.Convs, c)
	}
	d.err = s.Err()
	return d
}

// Err is the error met while building the denoiser, if any.
func (d *ResCNN) Err() error { return d.err }

// Fwd implements layers.Layer.
func (d *ResCNN) Fwd(u *G.Node) (*G.Node, error) {
	if d.err != nil {
		return nil, d.err
	}
	// The skip connection is the last op's addend.
	skip := u
	switch d.Skip {
	case 0:
		skip = nil
	case 1:
	default:
		var err error
		if skip, err = G.Mul(u, layers.Const(u.Dtype(), d.Skip)); err != nil {
			return nil, err
		}
	}
	h := u
	for l, c := range d.Convs {
		var add *G.Node
		if l == len(d.Convs)-1 {
			add = skip
		}
		var err error
		if h, err = c.Apply(h, add); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// Params implements Layer: every convolution's W and b, in order.
func (d *ResCNN) Params() G.Nodes {
	if d.err != nil {
		return nil
	}
	var ps G.Nodes
	for _, c := range d.Convs {
		ps = append(ps, c.Params()...)
	}
	return ps
}

// ResCNNKernel evaluates a ResCNN and its input VJP on flat buffers for a
// batch of n images, without graphs: the numeric kernel of cells built on
// the denoiser (imaging.PGDCell). It is used by one solve at a time.
type ResCNNKernel[T deq.Float] struct {
	geos   []convGeom
	act    layers.Activation
	skip   T
	n      int
	w, b   [][]T
	hidden [][]T // outputs of the hidden layers
	deriv  [][]T // φ' of the hidden layers at the linearisation point
	pool   *colPool
	ga, gb []T // gradients flowing back through the hidden layers
}

// NewResCNNKernel returns the kernel of d for batches of n images.
func NewResCNNKernel[T deq.Float](d *ResCNN, n int) *ResCNNKernel[T] {
	e := &ResCNNKernel[T]{act: d.Act, skip: T(d.Skip), n: n, pool: &colPool{}}
	for l, c := range d.Convs {
		g := c.geom()
		e.geos = append(e.geos, g)
		if l < len(d.Convs)-1 {
			e.hidden = append(e.hidden, make([]T, n*g.outSize()))
			e.deriv = append(e.deriv, make([]T, n*g.outSize()))
		}
	}
	hid := n * d.Height * d.Width * d.Channels
	e.ga, e.gb = make([]T, hid), make([]T, hid)
	return e
}

// Layers is the number of convolutions; Bind takes two parameters per
// layer.
func (e *ResCNNKernel[T]) Layers() int { return len(e.geos) }

// Bind takes the weights and biases, in Params order.
func (e *ResCNNKernel[T]) Bind(params [][]T) error {
	if len(params) != 2*len(e.geos) {
		return fmt.Errorf("conv: ResCNN kernel bound to %d parameters, want %d", len(params), 2*len(e.geos))
	}
	e.w, e.b = e.w[:0], e.b[:0]
	for l, g := range e.geos {
		w, b := params[2*l], params[2*l+1]
		if len(w) != g.weights() || len(b) != g.cout {
			return fmt.Errorf("conv: ResCNN layer %d got %d weights and %d biases, want %d and %d", l+1, len(w), len(b), g.weights(), g.cout)
		}
		e.w, e.b = append(e.w, w), append(e.b, b)
	}
	return nil
}

// Forward writes D(u) into out; with keep, it records φ' of every hidden
// layer for VJP.
func (e *ResCNNKernel[T]) Forward(out, u []T, keep bool) {
	h := u
	last := len(e.geos) - 1
	for l, g := range e.geos {
		if l == last {
			if e.skip == 1 {
				convForward(g, e.pool, out, h, e.w[l], e.b[l], u, e.n, layers.Identity, nil)
				return
			}
			convForward(g, e.pool, out, h, e.w[l], e.b[l], nil, e.n, layers.Identity, nil)
			for i, v := range u {
				out[i] += e.skip * v
			}
			return
		}
		var d []T
		if keep {
			d = e.deriv[l]
		}
		convForward(g, e.pool, e.hidden[l], h, e.w[l], e.b[l], nil, e.n, e.act, d)
		h = e.hidden[l]
	}
}

// VJP writes J_D(u)ᵀ v into out, at the u of the last Forward with keep.
func (e *ResCNNKernel[T]) VJP(out, v []T) {
	last := len(e.geos) - 1
	g := v // gradient with respect to the current layer's output
	for l := last; l >= 0; l-- {
		geo := e.geos[l]
		s := g
		if l < last {
			s = e.gb[:e.n*geo.outSize()]
			for i, d := range e.deriv[l] {
				s[i] = g[i] * d
			}
			if e.act != layers.ReLU { // φ' ∈ {0, 1} creates no subnormals
				opkit.FlushSubnormal(s)
			}
		}
		if l == 0 {
			convBackData(geo, e.pool, out, s, e.w[0], e.n)
			break
		}
		next := e.ga[:e.n*geo.inSize()]
		convBackData(geo, e.pool, next, s, e.w[l], e.n)
		g = next
	}
	for i := range out { // the skip connection
		out[i] += e.skip * v[i]
	}
}
