package layers

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/implicit-ml/implicit/internal/opkit"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Scope creates the parameters of a model in one graph: it fixes the graph,
// the element type and the random source, names every parameter uniquely,
// and keeps the first construction error (a layer built with bad arguments
// also returns that error from Fwd, so no error is lost).
//
// A Scope is not safe for concurrent use.
type Scope struct {
	g      *G.ExprGraph
	dt     tensor.Dtype
	rng    *rand.Rand
	byName map[string]*G.Node
	order  G.Nodes
	shared map[string]G.Value // values to reuse, by name (see Rebind)
	// created names the parameters this scope initialised (not shared);
	// carried is the layers' state that lives with the parameters and is
	// shared with every rebound scope (see Carried).
	created map[string]bool
	carried map[string]any
	err     error

	implicits  []*Implicit
	projectors []Projector
}

// NewScope returns a scope that creates float32 or float64 parameters in g,
// initialised from rng. Randomness is injected, never global.
func NewScope(g *G.ExprGraph, dt tensor.Dtype, rng *rand.Rand) *Scope {
	s := &Scope{g: g, dt: dt, rng: rng, byName: map[string]*G.Node{}, created: map[string]bool{}, carried: map[string]any{}}
	switch {
	case g == nil:
		s.Fail(fmt.Errorf("layers: NewScope needs a graph"))
	case dt != tensor.Float64 && dt != tensor.Float32:
		s.Fail(fmt.Errorf("layers: dtype %v is not supported; use tensor.Float32 or tensor.Float64", dt))
	case rng == nil:
		s.Fail(fmt.Errorf("layers: NewScope needs a *rand.Rand (randomness is injected, never global)"))
	}
	return s
}

// Rebind returns a scope on another graph (for instance an inference graph
// with another batch size) whose parameters share their values with this
// scope's: a parameter created there under an existing name is bound to the
// same tensor, so training updates made through one graph are seen by the
// other without copying. Build the same model in it.
func (s *Scope) Rebind(g *G.ExprGraph) *Scope {
	r := NewScope(g, s.dt, s.rng)
	r.carried = s.carried
	r.shared = map[string]G.Value{}
	for name, n := range s.byName {
		r.shared[name] = n.Value()
	}
	if s.err != nil {
		r.Fail(s.err)
	}
	return r
}

// Created says whether the named parameter was initialised by this scope
// (false when its value is shared from the scope this one was rebound
// from, or when there is no such parameter). A layer that adjusts its
// parameters when it is built (a projection onto a bound, a rescaling)
// does so only when they are created: building another graph of a model
// — an inference graph, before or after training — must never change
// the model's values.
func (s *Scope) Created(name string) bool { return s.created[name] }

// Carried returns the state a layer keeps with its parameters under key
// (a power-iteration vector, a reparametrisation's step size), made by
// init the first time the key is asked for and shared by every scope
// rebound from this one afterwards: the graph that trains updates it and
// every other graph of the model reads the same state, and a rebuild
// draws nothing from the random source. The caller owns the key's type.
func (s *Scope) Carried(key string, init func() any) any {
	v, ok := s.carried[key]
	if !ok {
		v = init()
		s.carried[key] = v
	}
	return v
}

// Graph returns the scope's graph.
func (s *Scope) Graph() *G.ExprGraph { return s.g }

// Dtype returns the element type of the scope's parameters.
func (s *Scope) Dtype() tensor.Dtype { return s.dt }

// Rand returns the scope's random source.
func (s *Scope) Rand() *rand.Rand { return s.rng }

// Err returns the first error met while building layers in this scope.
func (s *Scope) Err() error { return s.err }

// Implicits returns the implicit layers created in this scope, so a model
// can set their test-time controls and read their statistics.
func (s *Scope) Implicits() []*Implicit { return append([]*Implicit(nil), s.implicits...) }

// Project projects every constrained parameter created in this scope (El
// Ghaoui cells) back into its set; training loops call it after each
// optimizer step.
func (s *Scope) Project() error {
	for _, p := range s.projectors {
		if err := p.Project(); err != nil {
			return err
		}
	}
	return nil
}

// Params returns every parameter created in this scope, in creation order.
func (s *Scope) Params() G.Nodes { return append(G.Nodes(nil), s.order...) }

// Fail records err as the scope's error if it is the first, and returns
// it: a layer built with bad arguments calls it, so the error reaches Err
// and every later Fwd of the layer, never lost.
func (s *Scope) Fail(err error) error {
	if s.err == nil {
		s.err = err
	}
	return err
}

// AddProjector registers a constraint set that Project maps parameters
// back into after every optimizer step (bounded convolutions, reparametrised
// weights).
func (s *Scope) AddProjector(p Projector) { s.projectors = append(s.projectors, p) }

// Init fills a parameter's initial values.
type Init func(rng *rand.Rand, shape tensor.Shape, out []float64)

// GlorotUniform draws from U(−a, a) with a = gain·√(6/(fanIn+fanOut)), the
// fans being the first two dimensions (matrices) or the product of the
// trailing dimensions (convolution kernels).
func GlorotUniform(gain float64) Init {
	return func(rng *rand.Rand, shape tensor.Shape, out []float64) {
		fanIn, fanOut := fans(shape)
		a := gain * math.Sqrt(6/float64(fanIn+fanOut))
		for i := range out {
			out[i] = a * (2*rng.Float64() - 1)
		}
	}
}

// Zeros initialises to zero.
func Zeros(*rand.Rand, tensor.Shape, []float64) {}

// Constant initialises every value to c.
func Constant(c float64) Init {
	return func(_ *rand.Rand, _ tensor.Shape, out []float64) {
		for i := range out {
			out[i] = c
		}
	}
}

func fans(shape tensor.Shape) (in, out int) {
	switch len(shape) {
	case 0:
		return 1, 1
	case 1:
		return shape[0], shape[0]
	case 2:
		return shape[0], shape[1]
	}
	recept := 1
	for _, d := range shape[2:] {
		recept *= d
	}
	return shape[1] * recept, shape[0] * recept
}

// Param creates (or, in a rebound scope, reuses) the named parameter. It
// returns nil after recording an error when the name is taken or the shape
// is invalid.
func (s *Scope) Param(name string, shape tensor.Shape, init Init) *G.Node {
	if s.g == nil || s.err != nil {
		return nil
	}
	if _, dup := s.byName[name]; dup {
		s.Fail(fmt.Errorf("layers: parameter name %q is used twice in one scope; give each layer its own name", name))
		return nil
	}
	size := 1
	for _, d := range shape {
		if d <= 0 {
			s.Fail(fmt.Errorf("layers: parameter %q has invalid shape %v", name, shape))
			return nil
		}
		size *= d
	}
	var val G.Value
	if v, ok := s.shared[name]; ok {
		if !v.Shape().Eq(shape) {
			s.Fail(fmt.Errorf("layers: parameter %q has shape %v here but %v in the scope it was rebound from", name, shape, v.Shape()))
			return nil
		}
		val = v
	} else {
		vals := make([]float64, size)
		init(s.rng, shape, vals)
		val = opkit.NewTensor(s.dt, shape, vals)
		s.created[name] = true
	}
	var n *G.Node
	switch len(shape) {
	case 0:
		n = G.NewScalar(s.g, s.dt, G.WithName(name), G.WithValue(val))
	default:
		n = G.NewTensor(s.g, s.dt, len(shape), G.WithShape(shape...), G.WithName(name), G.WithValue(val))
	}
	s.byName[name] = n
	s.order = append(s.order, n)
	return n
}
