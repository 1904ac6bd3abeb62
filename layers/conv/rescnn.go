package conv

import (
	"fmt"
	"math"

	"github.com/implicit-ml/implicit/layers"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

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
//
// With ResNoiseLevel the denoiser also takes a learned noise level σ_D, as
// DRUNet does: the first convolution sees two channels, u and the constant
// map σ_D·1 (WithNoiseMap). The map does not depend on u, so the Lipschitz
// constant in u is unchanged: conv_1 restricted to the u channel has
// operator norm at most that of the whole two-channel convolution, which
// ResLipschitz bounds.
type ResCNN struct {
	Convs                          []*Conv2D
	Height, Width, Channels, Depth int
	Act                            layers.Activation
	// Skip is r, the weight of the identity path.
	Skip float64
	// Sigma is the learned noise level σ_D (1, 1) with ResNoiseLevel, nil
	// otherwise; it is clipped to [MinNoiseLevel, ∞) by Project.
	Sigma *G.Node
	err   error
}

var _ layers.Layer = (*ResCNN)(nil)

// ResOpt configures a ResCNN.
type ResOpt func(*resConfig)

type resConfig struct{ skip, lip, sigma float64 }

// ResNoiseLevel gives the denoiser a learned noise level σ_D, initialised
// to sigma0 > 0 and fed to the first convolution as a constant channel.
func ResNoiseLevel(sigma0 float64) ResOpt { return func(c *resConfig) { c.sigma = sigma0 } }

// ResSkip sets the weight r of the identity path (default 1; 0 removes it).
func ResSkip(r float64) ResOpt { return func(c *resConfig) { c.skip = r } }

// ResLipschitz bounds Lip(N) by l: the hidden convolutions' operator
// norms are kept at most 1 and the last one's at most l (ConvBound).
func ResLipschitz(l float64) ResOpt { return func(c *resConfig) { c.lip = l } }

// ResCNN creates the denoiser with parameters name.conv1.W, name.conv1.b …
// name.convL.b, then name.sigma with ResNoiseLevel.
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
	case cfg.skip < 0 || cfg.lip < 0 || cfg.sigma < 0:
		d.err = s.Fail(fmt.Errorf("conv: ResCNN %q needs a skip weight, a Lipschitz bound and a noise level ≥ 0, got %v, %v and %v", name, cfg.skip, cfg.lip, cfg.sigma))
		return d
	}
	for l := range depth {
		in, out, a := channels, channels, act
		copts := []ConvOpt{}
		if cfg.lip > 0 {
			copts = append(copts, ConvBound(1))
		}
		if l == 0 {
			in = 1 + opkit.Btoi(cfg.sigma > 0)
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
	if cfg.sigma > 0 {
		d.Sigma = s.Param(name+".sigma", tensor.Shape{1, 1}, layers.Constant(cfg.sigma))
		s.AddProjector(d)
	}
	d.err = s.Err()
	return d
}

// Project implements Projector: it clips σ_D to [MinNoiseLevel, ∞).
func (d *ResCNN) Project() error {
	if d.err != nil || d.Sigma == nil {
		return nil
	}
	switch v := d.Sigma.Value().Data().(type) {
	case []float64:
		v[0] = max(v[0], MinNoiseLevel)
	case []float32:
		v[0] = max(v[0], MinNoiseLevel)
	}
	return nil
}

// NoiseLevel returns the current σ_D (NaN without ResNoiseLevel).
func (d *ResCNN) NoiseLevel() float64 {
	if d.err != nil || d.Sigma == nil {
		return math.NaN()
	}
	v, err := layers.Floats64(d.Sigma.Value())
	if err != nil || len(v) != 1 {
		return math.NaN()
	}
	return v[0]
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
	if d.Sigma != nil {
		var err error
		if h, err = WithNoiseMap(u, d.Sigma); err != nil {
			return nil, err
		}
	}
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

// Params implements Layer: every convolution's W and b, in order, then
// σ_D with ResNoiseLevel.
func (d *ResCNN) Params() G.Nodes {
	if d.err != nil {
		return nil
	}
	var ps G.Nodes
	for _, c := range d.Convs {
		ps = append(ps, c.Params()...)
	}
	if d.Sigma != nil {
		ps = append(ps, d.Sigma)
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
	noisy  bool // the first convolution takes [u, σ_D·1]
	sigma  T
	in2    []T // the two-channel input, with noisy
	w, b   [][]T
	hidden [][]T // outputs of the hidden layers
	deriv  [][]T // φ' of the hidden layers at the linearisation point
	pool   *colPool
	ga, gb []T // gradients flowing back through the hidden layers
}

// NewResCNNKernel returns the kernel of d for batches of n images.
func NewResCNNKernel[T deq.Float](d *ResCNN, n int) *ResCNNKernel[T] {
	e := &ResCNNKernel[T]{act: d.Act, skip: T(d.Skip), n: n, noisy: d.Sigma != nil, pool: &colPool{}}
	if e.noisy {
		e.in2 = make([]T, 2*n*d.Height*d.Width)
	}
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

// Layers is the number of convolutions.
func (e *ResCNNKernel[T]) Layers() int { return len(e.geos) }

// NumParams is the number of parameters Bind takes: two per layer, and
// σ_D with a noise level.
func (e *ResCNNKernel[T]) NumParams() int { return 2*len(e.geos) + opkit.Btoi(e.noisy) }

// Bind takes the weights and biases, then σ_D, in Params order.
func (e *ResCNNKernel[T]) Bind(params [][]T) error {
	if len(params) != e.NumParams() {
		return fmt.Errorf("conv: ResCNN kernel bound to %d parameters, want %d", len(params), e.NumParams())
	}
	if e.noisy {
		s := params[len(params)-1]
		if len(s) != 1 {
			return fmt.Errorf("conv: ResCNN kernel got %d values of σ_D, want 1", len(s))
		}
		e.sigma = s[0]
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
	if e.noisy {
		NoiseMap(e.in2, u, e.sigma, e.n)
		h = e.in2
	}
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
		if l == 0 && e.noisy { // keep the u channel of the two
			convBackData(geo, e.pool, e.in2, s, e.w[0], e.n)
			px := len(out) / e.n
			for i := range e.n {
				copy(out[i*px:(i+1)*px], e.in2[2*i*px:(2*i+1)*px])
			}
			break
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
