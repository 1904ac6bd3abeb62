package layers

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/opkit"
)

// solveOp computes z* for children (inj…, θ…). It is not differentiable:
// gradients reach inj and θ through the application of f that follows it,
// with the incoming gradient replaced by the adjoint vector (hookOp).
type solveOp struct {
	opkit.Base
	l *Implicit
	// iter holds the iterates of fixed-count runs (Controls.Iterations),
	// reused across runs: inference allocates nothing for them.
	iter, scratch *opkit.Buf
	state         tensor.Shape
	nInj          int
	inType        []hm.Type
	// key is the hash key, which the hook's and the adjoint's extend.
	key string
}

func newSolveOp(l *Implicit, state tensor.Shape, dt tensor.Dtype, children G.Nodes) *solveOp {
	op := &solveOp{l: l, state: state, nInj: len(children) - len(kernelInputs(l.Cell)), iter: &opkit.Buf{}, scratch: &opkit.Buf{}}
	for _, c := range children {
		op.inType = append(op.inType, c.Type())
	}
	// The key holds the layer's identity and static configuration only:
	// two layers with equal configurations stay two nodes.
	op.key = fmt.Sprintf("implicit.solve/%p/%s/%s/%d/%v", l.state, l.cfg.Forward.Name(), l.cfg.Backward.Name(), op.nInj, []int(state))
	op.Base = opkit.New(fmt.Sprintf("DEQSolve{%s}", l.name), op.key, dt, len(children), state).
		WithTypes(append(append([]hm.Type{}, op.inType...), stateType(state, dt))...)
	return op
}

// stateType is the graph type of a state of the given shape.
func stateType(state tensor.Shape, dt tensor.Dtype) hm.Type {
	return G.TensorType{Dims: len(state), Of: dt}
}

func (op *solveOp) DiffWRT(n int) []bool { return make([]bool, n) }
func (op *solveOp) SymDiff(inputs G.Nodes, _, _ *G.Node) (G.Nodes, error) {
	return make(G.Nodes, len(inputs)), nil
}

// DoDiff is deliberately empty: the gradient flows through hookOp.
func (op *solveOp) DoDiff(G.ExecutionContext, G.Nodes, *G.Node) error { return nil }

func (op *solveOp) Do(vals ...G.Value) (G.Value, error) {
	if err := op.CheckArity(vals); err != nil {
		return nil, fmt.Errorf("layers: %w", err)
	}
	var out G.Value
	err := op.Dispatch(
		func() (err error) { out, err = solve[float32](op, vals); return err },
		func() (err error) { out, err = solve[float64](op, vals); return err })
	return out, err
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
	run := snapshot[T](l, batch, dim)
	p := deq.Problem[T]{F: k.Eval, Batch: batch, Dim: dim, Ctx: run.ctx}
	if run.ctl.StartAtInjection {
		if p.Z0, err = opkit.Data[T](inj[0]); err != nil {
			return nil, err
		}
		if len(p.Z0) != batch*dim {
			return nil, fmt.Errorf("layers: implicit layer %q starts at its injection, but the injection has %d values and the state %d", l.name, len(p.Z0), batch*dim)
		}
	}
	var r deq.Result[T]
	if run.ctl.Iterations > 0 {
		z := op.iter.Get(op.Dtype(), op.state).Data().([]T)
		scratch := op.scratch.Get(op.Dtype(), op.state).Data().([]T)
		r = deq.IterateInto(p, run.ctl.Iterations-1, z, scratch)
	} else {
		run.warmStart(&p)
		r = deq.Solve(l.cfg.Forward, p, l.stop(run.ctl))
	}
	run.record(l, r)
	if run.ctl.Iterations == 0 && (r.Status == deq.Converged || r.Status == deq.MaxIterations) {
		keepRadius(l, k, r.Z, batch, dim)
	} else if run.ctl.Iterations == 0 && r.Status != deq.Interrupted {
		l.state.mu.Lock()
		l.state.noRadius = r.Status
		l.state.mu.Unlock()
	}
	switch {
	case r.Status == deq.NonFinite || r.Status == deq.Failed:
		return nil, fmt.Errorf("layers: implicit layer %q forward: %w", l.name, r.Err())
	case r.Status == deq.Interrupted && !run.ctl.Anytime:
		return nil, fmt.Errorf("layers: implicit layer %q forward: %w", l.name, r.Err())
	case l.cfg.Strict && run.ctl.Iterations == 0 && r.Status != deq.Converged && r.Status != deq.Interrupted:
		return nil, fmt.Errorf("layers: implicit layer %q forward (strict): %w", l.name, r.Err())
	}
	if run.ctl.Iterations > 0 {
		return op.iter.Get(op.Dtype(), op.state), nil
	}
	return tensor.New(tensor.WithShape(op.state...), tensor.WithBacking(r.Z)), nil
}

// keepRadius makes SpectralRadius measure J_f at the forward solution z
// (copied), with the kernel as this solve bound it: it holds until the
// layer's next solve binds the kernel again.
func keepRadius[T deq.Float](l *Implicit, k Kernel[T], z []T, batch, dim int) {
	zc := append([]T(nil), z...)
	f := func(iters int, rng *rand.Rand) ([]float64, error) {
		if err := k.Linearize(zc); err != nil {
			return nil, err
		}
		return deq.SpectralRadius(k.VJP, batch, dim, iters, rng)
	}
	l.state.mu.Lock()
	l.state.radius = f
	l.state.mu.Unlock()
}

// forwardRun is what one forward solve reads of its layer's run-time
// state, taken under the lock once.
type forwardRun[T deq.Float] struct {
	ctl       Controls
	ctx       context.Context
	warm      []T         // the last solution (batch warm starts)
	ids       []int       // the batch's sample IDs
	cache     map[int][]T // each sample's last fixed point
	perSample bool        // warm starts per sample apply to this batch
	batch     int
	dim       int
}

func snapshot[T deq.Float](l *Implicit, batch, dim int) *forwardRun[T] {
	l.state.mu.Lock()
	defer l.state.mu.Unlock()
	r := &forwardRun[T]{ctl: l.state.ctl, ctx: l.state.ctx, ids: l.state.ids, batch: batch, dim: dim}
	r.warm, _ = l.state.warm.([]T)
	r.cache, _ = l.state.perSample.(map[int][]T)
	if r.ctl.WarmStart && r.ids != nil && r.cache == nil {
		r.cache = map[int][]T{}
		l.state.perSample = r.cache
	}
	r.perSample = r.ctl.WarmStart && len(r.ids) == batch
	return r
}

// warmStart sets the problem's starting point: each sample's own last
// fixed point, or the previous batch's solution.
func (r *forwardRun[T]) warmStart(p *deq.Problem[T]) {
	switch {
	case r.perSample:
		z0 := make([]T, p.Batch*p.Dim)
		for s, id := range r.ids {
			if zs, ok := r.cache[id]; ok {
				copy(z0[s*p.Dim:(s+1)*p.Dim], zs)
			}
		}
		p.Z0 = z0
	case r.ctl.WarmStart && len(r.warm) == p.Batch*p.Dim:
		p.Z0 = r.warm
	}
}

// record adds the solve to the layer's statistics and keeps its solution
// for warm starts.
func (r *forwardRun[T]) record(l *Implicit, res deq.Result[T]) {
	l.state.mu.Lock()
	defer l.state.mu.Unlock()
	st := &l.state.stats
	st.Forward, st.ForwardStatus = res.Stats, res.Status
	st.ForwardCalls++
	st.ForwardIters += res.Stats.Iterations
	st.ForwardSamples += r.batch
	st.ForwardNotConverged += res.Stats.NotConverged()
	if !r.ctl.WarmStart || (res.Status != deq.Converged && res.Status != deq.MaxIterations) {
		return
	}
	l.state.warm = append(r.warm[:0], res.Z...)
	if !r.perSample {
		return
	}
	for s, id := range r.ids {
		if id < 0 {
			continue // padding
		}
		zs := r.cache[id]
		if zs == nil {
			zs = make([]T, r.dim)
			r.cache[id] = zs
		}
		copy(zs, res.Z[s*r.dim:(s+1)*r.dim])
	}
}

// hookOp passes f(z*) through unchanged; its derivative replaces the
// incoming gradient g by the adjoint vector u = g + J_f(z*)ᵀu (or the
// backward mode's approximation of it). Children: f(z*), z*, inj…, θ….
type hookOp struct {
	opkit.Base
	solve *solveOp
}

func newHookOp(s *solveOp) *hookOp {
	return &hookOp{solve: s, Base: opkit.New(fmt.Sprintf("DEQHook{%s}", s.l.name), "implicit.hook/"+s.key, s.Dtype(), 2+len(s.inType), s.state).
		WithTypes(s.adjointTypes()...)}
}

// adjointTypes are the types of an op with children (state, state, inj…,
// θ…) and a state output: the hook's and the adjoint's.
func (op *solveOp) adjointTypes() []hm.Type {
	st := stateType(op.state, op.Dtype())
	ts := append([]hm.Type{st, st}, op.inType...)
	return append(ts, st)
}

func (op *hookOp) Do(vals ...G.Value) (G.Value, error) {
	if err := op.CheckArity(vals); err != nil {
		return nil, fmt.Errorf("layers: %w", err)
	}
	t, ok := vals[0].(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("layers: %v got %T", op, vals[0])
	}
	out := op.Output()
	return out, copyDense(out, t)
}

func (op *hookOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	d[0] = true
	return d
}

func (op *hookOp) SymDiff(inputs G.Nodes, _ *G.Node, grad *G.Node) (G.Nodes, error) {
	aop := newAdjointOp(op.solve)
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
	u, err := newAdjointOp(op.solve).Do(vals...)
	if err != nil {
		return err
	}
	return opkit.AccumulateGrad(inputs[0], u)
}

// adjointOp solves u = g + J_f(z*)ᵀu with the layer's backward mode.
// Children: g, z*, inj…, θ….
type adjointOp struct {
	opkit.Base
	solve *solveOp
}

func newAdjointOp(s *solveOp) *adjointOp {
	return &adjointOp{solve: s, Base: opkit.New(fmt.Sprintf("DEQAdjoint{%s}", s.l.name), "implicit.adjoint/"+s.key, s.Dtype(), 2+len(s.inType), s.state).
		WithTypes(s.adjointTypes()...)}
}

func (op *adjointOp) DiffWRT(n int) []bool { return make([]bool, n) }
func (op *adjointOp) SymDiff(inputs G.Nodes, _, _ *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("layers: the adjoint of implicit layer %q cannot be differentiated again", op.solve.l.name)
}

func (op *adjointOp) Do(vals ...G.Value) (G.Value, error) {
	if err := op.CheckArity(vals); err != nil {
		return nil, fmt.Errorf("layers: %w", err)
	}
	var out G.Value
	err := op.Dispatch(
		func() (err error) { out, err = adjoint[float32](op, vals); return err },
		func() (err error) { out, err = adjoint[float64](op, vals); return err })
	return out, err
}

func adjoint[T deq.Float](op *adjointOp, vals []G.Value) (G.Value, error) {
	s := op.solve
	l := s.l
	g, err := opkit.Data[T](vals[0])
	if err != nil {
		return nil, err
	}
	zstar, err := opkit.Data[T](vals[1])
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
	l.state.mu.Lock()
	ctx := l.state.ctx
	l.state.mu.Unlock()
	r := deq.SolveAdjoint(l.cfg.Backward, deq.Adjoint[T]{VJP: k.VJP, G: g, Batch: batch, Dim: dim, Ctx: ctx})

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

	switch {
	case r.Status == deq.NonFinite || r.Status == deq.Failed || r.Status == deq.Interrupted:
		return nil, fmt.Errorf("layers: implicit layer %q backward: %w", l.name, r.Err())
	case l.cfg.Strict && r.Status != deq.Converged:
		return nil, fmt.Errorf("layers: implicit layer %q backward (strict): the adjoint solve ended %v, so its gradient would be wrong: %w; "+
			"solve the adjoint with GMRES (deq.IFT{Solver: deq.GMRES{}}, -adjoint gmres), which does not need J_f to be contractive, or make the cell contractive", l.name, r.Status, r.Err())
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
