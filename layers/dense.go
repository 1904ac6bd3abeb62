package layers

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/opkit"
)

// Dense is the affine layer y = φ(x·W + b).
//
// Shapes: x is (B, In), W is (In, Out), b is (1, Out), y is (B, Out).
type Dense struct {
	W, B    *G.Node // B is nil without bias
	Act     Activation
	In, Out int
	// Bound, when positive, is the largest spectral norm ‖W‖₂ Project
	// allows (see SpectralBound).
	Bound float64
	v     []float64 // right singular vector estimate, warm start of Project
	err   error
}

// DenseOpt configures a Dense layer.
type DenseOpt func(*denseConfig)

type denseConfig struct {
	noBias   bool
	init     Init
	biasInit Init
	bound    float64
}

// SpectralBound keeps ‖W‖₂ ≤ c: after every optimizer step (Project) W is
// scaled down when its spectral norm, estimated by power iteration warm
// started from the previous step's vector, exceeds c. A chain of such
// layers with 1-Lipschitz activations is at most Π c-Lipschitz: the
// Lipschitz-bounded baselines of the paper's toy experiment.
func SpectralBound(c float64) DenseOpt { return func(cf *denseConfig) { cf.bound = c } }

// NoBias builds the layer without b (for input injections x·U).
func NoBias() DenseOpt { return func(c *denseConfig) { c.noBias = true } }

// WithBiasInit sets the bias initialiser (default Zeros).
func WithBiasInit(i Init) DenseOpt { return func(c *denseConfig) { c.biasInit = i } }

// WithInit sets the weight initialiser (default GlorotUniform(1)).
func WithInit(i Init) DenseOpt { return func(c *denseConfig) { c.init = i } }

// Dense creates a Dense layer named name (parameters name.W and name.b).
func (s *Scope) Dense(name string, in, out int, act Activation, opts ...DenseOpt) *Dense {
	cfg := denseConfig{init: GlorotUniform(1), biasInit: Zeros}
	for _, o := range opts {
		o(&cfg)
	}
	d := &Dense{Act: act, In: in, Out: out}
	if in <= 0 || out <= 0 {
		d.err = s.Fail(fmt.Errorf("layers: Dense %q needs positive sizes, got in=%d out=%d", name, in, out))
		return d
	}
	d.W = s.Param(name+".W", tensor.Shape{in, out}, cfg.init)
	if !cfg.noBias {
		d.B = s.Param(name+".b", tensor.Shape{1, out}, cfg.biasInit)
	}
	d.err = s.err
	if cfg.bound < 0 {
		d.err = s.Fail(fmt.Errorf("layers: Dense %q: spectral bound %v must be positive", name, cfg.bound))
	}
	if cfg.bound > 0 && d.err == nil {
		d.Bound = cfg.bound
		d.v = s.Carried(name+".W#power", func() any {
			v := make([]float64, in)
			for i := range v {
				v[i] = s.rng.NormFloat64()
			}
			return v
		}).([]float64)
		if s.Created(name + ".W") { // a rebuild leaves the shared weights alone
			d.err = d.project(50)
		}
		s.projectors = append(s.projectors, d)
	}
	return d
}

// Project implements Projector: it enforces ‖W‖₂ ≤ Bound (a no-op
// without a bound).
func (d *Dense) Project() error {
	if d.Bound <= 0 || d.W == nil {
		return nil
	}
	return d.project(3)
}

// project runs iters power-iteration steps on WᵀW from the stored vector
// and rescales W when the estimate exceeds the bound. The estimate is a
// lower bound that tightens each step; warm starting keeps it close.
func (d *Dense) project(iters int) error {
	var sigma float64
	switch w := d.W.Value().Data().(type) {
	case []float64:
		sigma = powerStep(w, d.In, d.Out, d.v, iters)
		if sigma > d.Bound {
			for i := range w {
				w[i] *= d.Bound / sigma
			}
		}
	case []float32:
		sigma = powerStep(w, d.In, d.Out, d.v, iters)
		if sigma > d.Bound {
			f := float32(d.Bound / sigma)
			for i := range w {
				w[i] *= f
			}
		}
	default:
		return fmt.Errorf("layers: Dense weights of type %T", w)
	}
	return nil
}

// powerStep advances v (length rows) by iters steps of power iteration on
// AAᵀ for the rows×cols matrix A stored row-major (A = W, x·W convention)
// and returns the estimate of ‖A‖₂.
func powerStep[T deq.Float](a []T, rows, cols int, v []float64, iters int) float64 {
	u := make([]float64, cols)
	sigma := 0.0
	for it := 0; it < iters; it++ {
		clear(u)
		for r := 0; r < rows; r++ { // u = Aᵀv
			for c, x := range a[r*cols : (r+1)*cols] {
				u[c] += float64(x) * v[r]
			}
		}
		nu := opkit.Norm2(u)
		if nu == 0 {
			return 0
		}
		for r := 0; r < rows; r++ { // v = A u / ‖u‖
			s := 0.0
			for c, x := range a[r*cols : (r+1)*cols] {
				s += float64(x) * u[c]
			}
			v[r] = s / nu
		}
		sigma = opkit.Norm2(v)
		for r := range v {
			v[r] /= sigma
		}
	}
	return sigma
}

// Fwd implements Layer.
func (d *Dense) Fwd(x *G.Node) (*G.Node, error) {
	if d.err != nil {
		return nil, d.err
	}
	if s := x.Shape(); len(s) != 2 || s[1] != d.In {
		return nil, fmt.Errorf("layers: Dense(%d→%d) got input of shape %v, want (B, %d)", d.In, d.Out, s, d.In)
	}
	if d.Act.DerivFromOutput() {
		return Affine(x, d.W, nil, d.B, d.Act)
	}
	y, err := Affine(x, d.W, nil, d.B, Identity)
	if err != nil {
		return nil, err
	}
	return d.Act.Apply(y)
}

var _ Projector = (*Dense)(nil)

// Params implements Layer.
func (d *Dense) Params() G.Nodes {
	if d.B == nil {
		return G.Nodes{d.W}
	}
	return G.Nodes{d.W, d.B}
}
