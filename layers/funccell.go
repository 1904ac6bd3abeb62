package layers

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/opkit"
)

// Builder writes a cell f(z, inj; θ) with differentiable Gorgonia ops. It
// is called once on the main graph (where Gorgonia differentiates it) and
// once for each private graph the framework compiles, with input nodes of
// the same shapes standing in for z, inj and θ, so it must only use its
// arguments (never capture nodes of another graph).
type Builder func(z, inj *G.Node, params G.Nodes) (*G.Node, error)

// FuncCell is the generic cell: any Builder. For the solves, the framework
// compiles two private graphs per (dtype, shapes) and caches them: one
// evaluating f, one evaluating J_f(z)ᵀv by Gorgonia's reverse mode.
type FuncCell struct {
	build  Builder
	params G.Nodes
	// State maps the injection shape to the state shape; nil means the
	// state has the injection's shape.
	State func(inj tensor.Shape) tensor.Shape
	cache *opkit.Cache
}

var _ Cell = (*FuncCell)(nil)

// NewCell returns the cell defined by build over the given parameters
// (create them with Scope.Param).
func NewCell(build Builder, params ...*G.Node) *FuncCell {
	return &FuncCell{build: build, params: params, cache: &opkit.Cache{}}
}

// Params implements Cell.
func (c *FuncCell) Params() G.Nodes { return c.params }

// StateShape implements Cell.
func (c *FuncCell) StateShape(inj []tensor.Shape) (tensor.Shape, error) {
	if c.build == nil {
		return nil, fmt.Errorf("layers: NewCell was given a nil Builder")
	}
	for i, p := range c.params {
		if p == nil {
			return nil, fmt.Errorf("layers: cell parameter %d is nil (did its Scope record an error?)", i)
		}
	}
	if len(inj) != 1 {
		return nil, fmt.Errorf("layers: a Builder cell takes one injection, got %d", len(inj))
	}
	s := inj[0].Clone()
	if c.State != nil {
		s = c.State(s)
	}
	if _, _, err := batchDim(s); err != nil {
		return nil, err
	}
	return s, nil
}

// Apply implements Cell.
func (c *FuncCell) Apply(z *G.Node, inj G.Nodes) (*G.Node, error) {
	if len(inj) != 1 {
		return nil, fmt.Errorf("layers: a Builder cell takes one injection, got %d", len(inj))
	}
	out, err := c.build(z, inj[0], c.params)
	if err != nil {
		return nil, err
	}
	if !out.Shape().Eq(z.Shape()) {
		return nil, fmt.Errorf("layers: cell maps a state of shape %v to shape %v; f must preserve the state's shape", z.Shape(), out.Shape())
	}
	return out, nil
}

// Kernel64 implements Cell.
func (c *FuncCell) Kernel64(inj []tensor.Shape) (Kernel[float64], error) {
	return graphKernelFor[float64](c, inj, tensor.Float64)
}

// Kernel32 implements Cell.
func (c *FuncCell) Kernel32(inj []tensor.Shape) (Kernel[float32], error) {
	return graphKernelFor[float32](c, inj, tensor.Float32)
}

func graphKernelFor[T deq.Float](c *FuncCell, inj []tensor.Shape, dt tensor.Dtype) (Kernel[T], error) {
	s, err := c.StateShape(inj)
	if err != nil {
		return nil, err
	}
	k, err := c.cache.Get(opkit.ShapesKey(dt.String(), inj), func() (any, error) {
		return newGraphKernel[T](c, s, inj[0], dt)
	})
	if err != nil {
		return nil, err
	}
	return k.(*graphKernel[T]), nil
}

// privateGraph is f (and optionally its VJP in z) compiled in its own graph.
type privateGraph struct {
	g      *G.ExprGraph
	z, inj *G.Node
	params G.Nodes
	v      *G.Node // incoming vector (VJP graph only)
	out    *G.Node // f(z), or J_f(z)ᵀv
	vm     G.VM
	zBuf   tensor.Tensor
	vBuf   tensor.Tensor
}

func newPrivateGraph[T deq.Float](c *FuncCell, state, inj tensor.Shape, dt tensor.Dtype, vjp bool) (*privateGraph, error) {
	p := &privateGraph{g: G.NewGraph()}
	p.z = G.NewTensor(p.g, dt, len(state), G.WithShape(state...), G.WithName("z"))
	p.inj = G.NewTensor(p.g, dt, len(inj), G.WithShape(inj...), G.WithName("inj"))
	for i, q := range c.params {
		s := q.Shape()
		var n *G.Node
		if s.IsScalar() {
			n = G.NewScalar(p.g, dt, G.WithName(fmt.Sprintf("theta%d", i)))
		} else {
			n = G.NewTensor(p.g, dt, len(s), G.WithShape(s...), G.WithName(fmt.Sprintf("theta%d", i)))
		}
		p.params = append(p.params, n)
	}
	f, err := c.build(p.z, p.inj, p.params)
	if err != nil {
		return nil, fmt.Errorf("layers: building the cell's private graph: %w", err)
	}
	if !f.Shape().Eq(state) {
		return nil, fmt.Errorf("layers: cell maps a state of shape %v to shape %v; f must preserve the state's shape", state, f.Shape())
	}
	p.out = f
	p.zBuf = tensor.New(tensor.WithShape(state...), tensor.Of(dt))
	if err := G.Let(p.z, p.zBuf); err != nil {
		return nil, err
	}
	if vjp {
		p.v = G.NewTensor(p.g, dt, len(state), G.WithShape(state...), G.WithName("v"))
		p.vBuf = tensor.New(tensor.WithShape(state...), tensor.Of(dt))
		if err := G.Let(p.v, p.vBuf); err != nil {
			return nil, err
		}
		grads, err := G.Backpropagate(G.Nodes{f}, G.Nodes{p.v}, G.Nodes{p.z})
		if err != nil {
			return nil, fmt.Errorf("layers: differentiating the cell in z failed (does f depend on z through differentiable ops?): %w", err)
		}
		p.out = grads[0]
	}
	prog, locs, err := G.Compile(p.g)
	if err != nil {
		return nil, fmt.Errorf("layers: compiling the cell's private graph: %w", err)
	}
	p.vm = G.NewTapeMachine(p.g, G.WithPrecompiled(prog, locs))
	return p, nil
}

func (p *privateGraph) bind(inj G.Value, params []G.Value) error {
	if err := G.Let(p.inj, inj); err != nil {
		return fmt.Errorf("layers: binding the injection: %w", err)
	}
	if len(params) != len(p.params) {
		return fmt.Errorf("layers: cell has %d parameters, got %d values", len(p.params), len(params))
	}
	for i, v := range params {
		if err := G.Let(p.params[i], v); err != nil {
			return fmt.Errorf("layers: binding parameter %d: %w", i, err)
		}
	}
	return nil
}

// run executes the graph and copies its output into out.
func run[T deq.Float](p *privateGraph, out []T) error {
	defer p.vm.Reset()
	if err := p.vm.RunAll(); err != nil {
		return fmt.Errorf("layers: running the cell: %w", err)
	}
	d, err := opkit.Data[T](p.out.Value())
	if err != nil {
		return err
	}
	copy(out, d)
	return nil
}

// graphKernel evaluates a Builder cell through its private graphs.
type graphKernel[T deq.Float] struct {
	eval, vjp *privateGraph
}

func newGraphKernel[T deq.Float](c *FuncCell, state, inj tensor.Shape, dt tensor.Dtype) (*graphKernel[T], error) {
	e, err := newPrivateGraph[T](c, state, inj, dt, false)
	if err != nil {
		return nil, err
	}
	v, err := newPrivateGraph[T](c, state, inj, dt, true)
	if err != nil {
		return nil, err
	}
	return &graphKernel[T]{eval: e, vjp: v}, nil
}

func (k *graphKernel[T]) Bind(inj, params []G.Value) error {
	if len(inj) != 1 {
		return fmt.Errorf("layers: a Builder cell takes one injection, got %d", len(inj))
	}
	if err := k.eval.bind(inj[0], params); err != nil {
		return err
	}
	return k.vjp.bind(inj[0], params)
}

func (k *graphKernel[T]) Eval(out, z []T) error {
	copy(k.eval.zBuf.Data().([]T), z)
	return run(k.eval, out)
}

func (k *graphKernel[T]) Linearize(z []T) error {
	copy(k.vjp.zBuf.Data().([]T), z)
	return nil
}

func (k *graphKernel[T]) VJP(out, v []T) error {
	copy(k.vjp.vBuf.Data().([]T), v)
	return run(k.vjp, out)
}
