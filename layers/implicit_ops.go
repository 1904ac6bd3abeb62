package layers

import (
	"fmt"
	"hash"
	"math/rand/v2"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
)

// solveOp computes z* for children (inj…, θ…). It is not differentiable:
// gradients reach inj and θ through the application of f that follows it,
// with the incoming gradient replaced by the adjoint vector (hookOp).
type solveOp struct {
	l *Implicit
	// iter holds the iterates of fixed-count runs (Controls.Iterations),
	// reused across runs: inference allocates nothing for them.
	iter, scratch *outBuf
	state         tensor.Shape
	dt            tensor.Dtype
	nInj          int
	inType        []hm.Type
}

func newSolveOp(l *Implicit, state tensor.Shape, dt tensor.Dtype, children G.Nodes) *solveOp {
	op := &solveOp{l: l, state: state, dt: dt, nInj: len(children) - len(kernelInputs(l.Cell)), iter: &outBuf{}, scratch: &outBuf{}}
	for _, c := range children {
		op.inType = append(op.inType, c.Type())
	}
	return op
}

func (op *solveOp) Arity() int { return len(op.inType) }
func (op *solveOp) Type() hm.Type {
	ts := append(append([]hm.Type{}, op.inType...), G.TensorType{Dims: len(op.state), Of: op.dt})
	return hm.NewFnType(ts...)
}
func (op *solveOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.state.Clone(), nil }
func (op *solveOp) ReturnsPtr() bool                               { return false }
func (op *solveOp) CallsExtern() bool                              { return false }
func (op *solveOp) OverwritesInput() int                           { return -1 }

// WriteHash holds the layer's identity and static configuration only:
// two layers with equal configurations stay two nodes.
func (op *solveOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "implicit.solve/%p/%s/%s/%d/%v", op.l.state, op.l.cfg.Forward.Name(), op.l.cfg.Backward.Name(), op.nInj, []int(op.state))
}
func (op *solveOp) Hashcode() uint32 { return hashOf(op) }
func (op *solveOp) String() string   { return fmt.Sprintf("DEQSolve{%s}", op.l.name) }

func (op *solveOp) DiffWRT(n int) []bool { return make([]bool, n) }
func (op *solveOp) SymDiff(inputs G.Nodes, _, _ *G.Node) (G.Nodes, error) {
	return make(G.Nodes, len(inputs)), nil
}

// DoDiff is deliberately empty: the gradient flows through hookOp.
func (op *solveOp) DoDiff(G.ExecutionContext, G.Nodes, *G.Node) error { return nil }

func (op *solveOp) Do(vals ...G.Value) (G.Value, error) {
	if len(vals) != len(op.inType) {
		return nil, fmt.Errorf("layers: %v takes %d inputs, got %d", op, len(op.inType), len(vals))
	}
	if op.dt == tensor.Float32 {
		return solve[float32](op, vals)
	}
	return solve[float64](op, vals)
}

// kernelFor returns the cell's kernel for the given injection values.
func kernelFor[T deq.Float](c Cell, inj []G.Value) (Kernel[T], error) {
	shapes := make([]tensor.Shape, len(inj))
	for i, v := range inj {
		shapes[i] = v.Shape()
	}
	var k any
	var err error
	switch any(*new(T)).(type) {
	case float32:
		k, err = c.Kernel32(shapes)
	default:
		k, err = c.Kernel64(shapes)
	}
	if err != nil {
		return nil, err
	}
	return k.(Kernel[T]), nil
}

func solve[T deq.Float](op *solveOp, vals []G.Value) (G.Value, error) {
	l := op.l
	inj, params := vals[:op.nInj], vals[op.nInj:]
	k, err := kernelFor[T](l.Cell, inj)
	if err != nil {
		return nil, err
	}
	if err := k.Bind(inj, params); err != nil {
		return nil, err
	}
	batch, dim, err := batchDim(op.state)
	if err != nil {
		return nil, err
	}
	l.state.mu.Lock()
	ctl := l.state.ctl
	warm, _ := l.state.warm.([]T)
	ids := l.state.ids
	cache, _ := l.state.perSample.(map[int][]T)
	if ctl.WarmStart && ids != nil && cache == nil {
		cache = map[int][]T{}
		l.state.perSample = cache
	}
	l.state.mu.Unlock()
	perSample := ctl.WarmStart && len(ids) == batch

	p := deq.Problem[T]{F: k.Eval, Batch: batch, Dim: dim}
	if ctl.StartAtInjection {
		z0, err := data[T](inj[0])
		if err != nil {
			return nil, err
		}
		if len(z0) != batch*dim {
			return nil, fmt.Errorf("layers: implicit layer %q starts at its injection, but the injection has %d values and the state %d", l.name, len(z0), batch*dim)
		}
		p.Z0 = z0
	}
	var r deq.Result[T]
	if ctl.Iterations > 0 {
		z := op.iter.get(op.dt, op.state).Data().([]T)
		scratch := op.scratch.get(op.dt, op.state).Data().([]T)
		r = deq.IterateInto(p, ctl.Iterations-1, z, scratch)
	} else {
		switch {
		case perSample: // each sample from its own last fixed point
			z0 := make([]T, batch*dim)
			for s, id := range ids {
				if zs, ok := cache[id]; ok {
					copy(z0[s*dim:(s+1)*dim], zs)
				}
			}
			p.Z0 = z0
		case ctl.WarmStart && len(warm) == batch*dim:
			p.Z0 = warm
		}
		r = deq.Solve(l.cfg.Forward, p, l.stop(ctl))
	}

	l.state.mu.Lock()
	st := &l.state.stats
	st.Forward, st.ForwardStatus = r.Stats, r.Status
	st.ForwardCalls++
	st.ForwardIters += r.Stats.Iterations
	st.ForwardSamples += batch
	st.ForwardNotConverged += r.Stats.NotConverged()
	if ctl.WarmStart && (r.Status == deq.Converged || r.Status == deq.MaxIterations) {
		l.state.warm = append(warm[:0], r.Z...)
		if perSample {
			for s, id := range ids {
				if id < 0 {
					continue // padding
				}
				zs := cache[id]
				if zs == nil {
					zs = make([]T, dim)
					cache[id] = zs
				}
				copy(zs, r.Z[s*dim:(s+1)*dim])
			}
		}
	}
	l.state.mu.Unlock()

	switch {
	case r.Status == deq.NonFinite || r.Status == deq.Failed:
		return nil, fmt.Errorf("layers: implicit layer %q forward: %w", l.name, r.Err())
	case l.cfg.Strict && ctl.Iterations == 0 && r.Status != deq.Converged:
		return nil, fmt.Errorf("layers: implicit layer %q forward (strict): %w", l.name, r.Err())
	}
	if ctl.Iterations > 0 {
		return op.iter.t, nil
	}
	return tensor.New(tensor.WithShape(op.state...), tensor.WithBacking(r.Z)), nil
}

// hookOp passes f(z*) through unchanged; its derivative replaces the
// incoming gradient g by the adjoint vector u = g + J_f(z*)ᵀu (or the
// backward mode's approximation of it). Children: f(z*), z*, inj…, θ….
type hookOp struct {
	solve   *solveOp
	outType hm.Type
	buf     *outBuf
}

func newHookOp(l *Implicit, s *solveOp, outType hm.Type) *hookOp {
	return &hookOp{solve: s, outType: outType, buf: &outBuf{}}
}

func (op *hookOp) Arity() int { return 2 + len(op.solve.inType) }
func (op *hookOp) Type() hm.Type {
	st := G.TensorType{Dims: len(op.solve.state), Of: op.solve.dt}
	ts := append([]hm.Type{st, st}, op.solve.inType...)
	return hm.NewFnType(append(ts, st)...)
}
func (op *hookOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.solve.state.Clone(), nil
}
func (op *hookOp) ReturnsPtr() bool     { return false }
func (op *hookOp) CallsExtern() bool    { return false }
func (op *hookOp) OverwritesInput() int { return -1 }
func (op *hookOp) WriteHash(h hash.Hash) {
	fmt.Fprint(h, "implicit.hook/")
	op.solve.WriteHash(h)
}
func (op *hookOp) Hashcode() uint32 { return hashOf(op) }
func (op *hookOp) String() string   { return fmt.Sprintf("DEQHook{%s}", op.solve.l.name) }

func (op *hookOp) Do(vals ...G.Value) (G.Value, error) {
	if len(vals) != op.Arity() {
		return nil, fmt.Errorf("layers: %v takes %d inputs, got %d", op, op.Arity(), len(vals))
	}
	t, ok := vals[0].(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("layers: %v got %T", op, vals[0])
	}
	out := op.buf.get(op.solve.dt, op.solve.state)
	return out, copyDense(out, t)
}

func (op *hookOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	d[0] = true
	return d
}

func (op *hookOp) SymDiff(inputs G.Nodes, _ *G.Node, grad *G.Node) (G.Nodes, error) {
	aop := &adjointOp{solve: op.solve}
	u, err := G.ApplyOp(aop, append(G.Nodes{grad}, inputs[1:]...)...)
	if err != nil {
		return nil, err
	}
	out := make(G.Nodes, len(inputs))
	out[0] = u
	return out, nil
}

func (op *hookOp) DoDiff(_ G.ExecutionContext, inputs G.Nodes, output *G.Node) error {
	g, err := output.Grad()
	if err != nil {
		return err
	}
	vals := []G.Value{g}
	for _, n := range inputs[1:] {
		vals = append(vals, n.Value())
	}
	u, err := (&adjointOp{solve: op.solve}).Do(vals...)
	if err != nil {
		return err
	}
	return accumulateGrad(inputs[0], u)
}

// adjointOp solves u = g + J_f(z*)ᵀu with the layer's backward mode.
// Children: g, z*, inj…, θ….
type adjointOp struct{ solve *solveOp }

func (op *adjointOp) Arity() int { return 2 + len(op.solve.inType) }
func (op *adjointOp) Type() hm.Type {
	st := G.TensorType{Dims: len(op.solve.state), Of: op.solve.dt}
	ts := append([]hm.Type{st, st}, op.solve.inType...)
	return hm.NewFnType(append(ts, st)...)
}
func (op *adjointOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.solve.state.Clone(), nil
}
func (op *adjointOp) ReturnsPtr() bool     { return false }
func (op *adjointOp) CallsExtern() bool    { return false }
func (op *adjointOp) OverwritesInput() int { return -1 }
func (op *adjointOp) WriteHash(h hash.Hash) {
	fmt.Fprint(h, "implicit.adjoint/")
	op.solve.WriteHash(h)
}
func (op *adjointOp) Hashcode() uint32     { return hashOf(op) }
func (op *adjointOp) String() string       { return fmt.Sprintf("DEQAdjoint{%s}", op.solve.l.name) }
func (op *adjointOp) DiffWRT(n int) []bool { return make([]bool, n) }
func (op *adjointOp) SymDiff(inputs G.Nodes, _, _ *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("layers: the adjoint of implicit layer %q cannot be differentiated again", op.solve.l.name)
}

func (op *adjointOp) Do(vals ...G.Value) (G.Value, error) {
	if len(vals) != op.Arity() {
		return nil, fmt.Errorf("layers: %v takes %d inputs, got %d", op, op.Arity(), len(vals))
	}
	if op.solve.dt == tensor.Float32 {
		return adjoint[float32](op, vals)
	}
	return adjoint[float64](op, vals)
}

func adjoint[T deq.Float](op *adjointOp, vals []G.Value) (G.Value, error) {
	s := op.solve
	l := s.l
	g, err := data[T](vals[0])
	if err != nil {
		return nil, err
	}
	zstar, err := data[T](vals[1])
	if err != nil {
		return nil, err
	}
	inj, params := vals[2:2+s.nInj], vals[2+s.nInj:]
	k, err := kernelFor[T](l.Cell, inj)
	if err != nil {
		return nil, err
	}
	if err := k.Bind(inj, params); err != nil {
		return nil, err
	}
	if err := k.Linearize(zstar); err != nil {
		return nil, err
	}
	batch, dim, err := batchDim(s.state)
	if err != nil {
		return nil, err
	}
	r := deq.SolveAdjoint(l.cfg.Backward, deq.Adjoint[T]{VJP: k.VJP, G: g, Batch: batch, Dim: dim})

	l.state.mu.Lock()
	st := &l.state.stats
	st.Backward, st.BackwardStatus = r.Stats, r.Status
	st.BackwardCalls++
	st.BackwardIters += r.Stats.Iterations
	st.BackwardSamples += batch
	st.BackwardNotConverged += r.Stats.NotConverged()
	l.state.radius = func(iters int, rng *rand.Rand) ([]float64, error) {
		return deq.SpectralRadius(k.VJP, batch, dim, iters, rng)
	}
	l.state.mu.Unlock()

	if r.Status == deq.NonFinite || r.Status == deq.Failed {
		return nil, fmt.Errorf("layers: implicit layer %q backward: %w", l.name, r.Err())
	}
	return tensor.New(tensor.WithShape(s.state...), tensor.WithBacking(r.Z)), nil
}

// copyDense copies src's values into dst (same shape and dtype).
func copyDense(dst, src *tensor.Dense) error {
	switch d := dst.Data().(type) {
	case []float32:
		copy(d, src.Data().([]float32))
	case []float64:
		copy(d, src.Data().([]float64))
	default:
		return fmt.Errorf("layers: cannot copy %T", d)
	}
	return nil
}
