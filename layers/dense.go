package layers

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Dense is the affine layer y = φ(x·W + b).
//
// Shapes: x is (B, In), W is (In, Out), b is (1, Out), y is (B, Out).
type Dense struct {
	W, B    *G.Node // B is nil without bias
	Act     Activation
	In, Out int
	err     error
}

// DenseOpt configures a Dense layer.
type DenseOpt func(*denseConfig)

type denseConfig struct {
	noBias bool
	init   Init
}

// NoBias builds the layer without b (for input injections x·U).
func NoBias() DenseOpt { return func(c *denseConfig) { c.noBias = true } }

// WithInit sets the weight initialiser (default GlorotUniform(1)).
func WithInit(i Init) DenseOpt { return func(c *denseConfig) { c.init = i } }

// Dense creates a Dense layer named name (parameters name.W and name.b).
func (s *Scope) Dense(name string, in, out int, act Activation, opts ...DenseOpt) *Dense {
	cfg := denseConfig{init: GlorotUniform(1)}
	for _, o := range opts {
		o(&cfg)
	}
	d := &Dense{Act: act, In: in, Out: out}
	if in <= 0 || out <= 0 {
		d.err = s.fail(fmt.Errorf("layers: Dense %q needs positive sizes, got in=%d out=%d", name, in, out))
		return d
	}
	d.W = s.Param(name+".W", tensor.Shape{in, out}, cfg.init)
	if !cfg.noBias {
		d.B = s.Param(name+".b", tensor.Shape{1, out}, Zeros)
	}
	d.err = s.err
	return d
}

// Fwd implements Layer.
func (d *Dense) Fwd(x *G.Node) (*G.Node, error) {
	if d.err != nil {
		return nil, d.err
	}
	if s := x.Shape(); len(s) != 2 || s[1] != d.In {
		return nil, fmt.Errorf("layers: Dense(%d→%d) got input of shape %v, want (B, %d)", d.In, d.Out, s, d.In)
	}
	if d.Act.derivFromOutput() {
		return affine(x, d.W, nil, d.B, d.Act)
	}
	y, err := affine(x, d.W, nil, d.B, Identity)
	if err != nil {
		return nil, err
	}
	return d.Act.Apply(y)
}

// Params implements Layer.
func (d *Dense) Params() G.Nodes {
	if d.B == nil {
		return G.Nodes{d.W}
	}
	return G.Nodes{d.W, d.B}
}
