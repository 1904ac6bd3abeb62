package train

import (
	"context"
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Model kinds: what Model.Kind returns and reports show. An unrolled
// model is an implicit cell applied a fixed number of times in the graph.
const (
	KindExplicit = "explicit"
	KindImplicit = "implicit"
	KindUnrolled = "unrolled"
)

// Model is a network the loop can train and evaluate. Package network
// implements it for models written with package layers; train only sees
// this interface.
type Model interface {
	// Name identifies the model in reports, logs and checkpoints.
	Name() string
	// Kind is KindExplicit, KindImplicit or KindUnrolled.
	Kind() string
	// Build constructs the network in a new graph g for batches of the
	// given size. With train true the Net must have a Loss. The first call
	// creates the parameters; later calls (an inference graph, another
	// batch size) must share their values, so training through one graph
	// is seen by the others.
	Build(g *G.ExprGraph, batch int, train bool) (*Net, error)
}

// Net is a model built in one graph at one batch size.
type Net struct {
	// X and Y are input nodes for a batch of inputs and targets, shaped
	// (batch, InputShape…) and (batch, TargetShape…). Y may be nil for
	// inference graphs.
	X, Y *G.Node
	// Mask is an optional (batch) or (batch, 1) input node that the loop
	// sets to 1 for real rows and 0 for the padding of a partial batch.
	// Losses that cannot ignore zero targets on their own should use it.
	Mask *G.Node
	// Out is the model's output (logits, predictions), (batch, …).
	Out *G.Node
	// Loss is the scalar training loss (training graphs only).
	Loss *G.Node
	// Params are the trainable parameters (training graphs only).
	Params G.Nodes
	// Project, when set, is called after every optimizer step to map
	// constrained parameters back into their set.
	Project func() error
	// SetIterations, when set, fixes the test-time iteration count of the
	// model's implicit layers: t > 0 runs exactly t iterations from
	// z₀ = 0, t = 0 solves to the configured tolerance.
	SetIterations func(t int)
	// SolverStats, when set, reports the implicit layers' solve
	// statistics accumulated since ResetSolverStats.
	SolverStats      func() SolverStats
	ResetSolverStats func()
	// SetSampleIDs, when set, is told the dataset indices of each batch's
	// rows before it runs (−1 for padding), for per-sample warm starts.
	SetSampleIDs func(ids []int)
	// State and SetState, when set, save and restore the model's run-time
	// state that is not a parameter — per-sample warm starts, random
	// streams — so that a run resumed from a checkpoint continues exactly.
	State    func() ([]byte, error)
	SetState func([]byte) error
	// SetContext, when set, bounds the model's iterative solves by ctx, so
	// a cancellation stops a step or an evaluation within an iteration
	// rather than at its end (nil removes the bound).
	SetContext func(ctx context.Context)
	// SpectralRadius, when set, estimates the spectral radius of the
	// implicit layers' Jacobian J_f(z*) at the last backward pass (the
	// largest over layers of the mean over samples): the monitor of
	// Config.MonitorSpectralRadius.
	SpectralRadius func() (float64, error)
}

// SolverStats are accumulated solve statistics of a model's implicit
// layers.
type SolverStats struct {
	ForwardCalls, BackwardCalls int
	ForwardIters, BackwardIters int
	// ForwardNotConverged counts samples that missed the tolerance among
	// ForwardSamples; likewise for the backward (adjoint) solves.
	ForwardNotConverged, ForwardSamples   int
	BackwardNotConverged, BackwardSamples int
}

// MeanForward is the mean number of forward iterations per solve.
func (s SolverStats) MeanForward() float64 { return ratio(s.ForwardIters, s.ForwardCalls) }

// MeanBackward is the mean number of backward iterations per solve.
func (s SolverStats) MeanBackward() float64 { return ratio(s.BackwardIters, s.BackwardCalls) }

// NotConvergedFraction is the fraction of forward samples above tolerance.
func (s SolverStats) NotConvergedFraction() float64 {
	return ratio(s.ForwardNotConverged, s.ForwardSamples)
}

// BackwardNotConvergedFraction is the fraction of backward samples above
// tolerance.
func (s SolverStats) BackwardNotConvergedFraction() float64 {
	return ratio(s.BackwardNotConverged, s.BackwardSamples)
}

// Sub returns s − o, the statistics of an interval.
func (s SolverStats) Sub(o SolverStats) SolverStats {
	return SolverStats{
		s.ForwardCalls - o.ForwardCalls, s.BackwardCalls - o.BackwardCalls,
		s.ForwardIters - o.ForwardIters, s.BackwardIters - o.BackwardIters,
		s.ForwardNotConverged - o.ForwardNotConverged, s.ForwardSamples - o.ForwardSamples,
		s.BackwardNotConverged - o.BackwardNotConverged, s.BackwardSamples - o.BackwardSamples,
	}
}

// Add returns the sum of two stats.
func (s SolverStats) Add(o SolverStats) SolverStats {
	return SolverStats{
		s.ForwardCalls + o.ForwardCalls, s.BackwardCalls + o.BackwardCalls,
		s.ForwardIters + o.ForwardIters, s.BackwardIters + o.BackwardIters,
		s.ForwardNotConverged + o.ForwardNotConverged, s.ForwardSamples + o.ForwardSamples,
		s.BackwardNotConverged + o.BackwardNotConverged, s.BackwardSamples + o.BackwardSamples,
	}
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// runner is a compiled Net with the tensors bound to its inputs.
type runner struct {
	net  *Net
	vm   G.VM
	b    int
	x, y []float32 // per-sample scratch
	in   batchBuffers
}

// batchBuffers are the tensors bound to X, Y and Mask; the loop refills
// their backing arrays, so nodes stay bound to the same values.
type batchBuffers struct {
	x, y, mask tensor.Tensor
}

// compile compiles net's graph (with its gradients when train) into a
// TapeMachine and binds fresh buffers to its inputs.
func compile(net *Net, train bool) (*runner, error) {
	if net == nil || net.X == nil || net.Out == nil {
		return nil, fmt.Errorf("train: a Net needs X and Out nodes")
	}
	if train && (net.Loss == nil || net.Y == nil || len(net.Params) == 0) {
		return nil, fmt.Errorf("train: a training Net needs Y, Loss and Params")
	}
	g := net.X.Graph()
	r := &runner{net: net, b: net.X.Shape()[0]}
	var err error
	if r.in.x, err = bindInput(net.X); err != nil {
		return nil, err
	}
	if net.Y != nil {
		if r.in.y, err = bindInput(net.Y); err != nil {
			return nil, err
		}
	}
	if net.Mask != nil {
		if r.in.mask, err = bindInput(net.Mask); err != nil {
			return nil, err
		}
	}
	var opts []G.VMOpt
	outputs := G.Nodes{net.Out}
	if train {
		grads, err := G.Grad(net.Loss, net.Params...)
		if err != nil {
			return nil, fmt.Errorf("train: differentiating the loss: %w", err)
		}
		opts = append(opts, G.BindDualValues(net.Params...))
		outputs = append(G.Nodes{net.Loss}, grads...)
	}
	// Compile only what the outputs need: gradients nobody reads (of the
	// input images, of a solver's z*) are computed by the ops' SymDiff but
	// pruned here, as an inference graph prunes the whole backward pass.
	sub := g.ExactSubgraphRoots(outputs...)
	var inputs G.Nodes
	for _, n := range sub.AllNodes() {
		if n.IsVar() {
			inputs = append(inputs, n)
		}
	}
	prog, locs, err := G.CompileFunction(g, inputs, outputs)
	if err != nil {
		return nil, fmt.Errorf("train: compiling the graph: %w", err)
	}
	r.vm = G.NewTapeMachine(g, append(opts, G.WithPrecompiled(prog, locs))...)
	return r, nil
}

func bindInput(n *G.Node) (tensor.Tensor, error) {
	t := tensor.New(tensor.WithShape(n.Shape()...), tensor.Of(n.Dtype()))
	if err := G.Let(n, t); err != nil {
		return nil, fmt.Errorf("train: binding %s: %w", n.Name(), err)
	}
	return t, nil
}

// fill loads the samples idx of ds into the bound buffers; rows past
// len(idx) are zero (padding) with mask 0.
func (r *runner) fill(ds Dataset, idx []int) error {
	if len(idx) > r.b {
		return fmt.Errorf("train: %d samples for a batch of %d", len(idx), r.b)
	}
	xn := r.in.x.Shape().TotalSize() / r.b
	if len(r.x) != xn {
		r.x = make([]float32, xn)
	}
	yn := product(ds.TargetShape())
	if len(r.y) != yn {
		r.y = make([]float32, yn) // scratch even without a Y node: Sample writes it
	}
	if got := product(ds.InputShape()); got != xn {
		return fmt.Errorf("train: dataset inputs have %d values, the model's input node %d per sample", got, xn)
	}
	if r.in.y != nil && r.in.y.Shape().TotalSize()/r.b != yn {
		return fmt.Errorf("train: dataset targets have %d values, the model's target node %d per sample", yn, r.in.y.Shape().TotalSize()/r.b)
	}
	for row := 0; row < r.b; row++ {
		if row < len(idx) {
			ds.Sample(idx[row], r.x, r.y)
			setRow(r.in.x, row, r.x)
			if r.in.y != nil {
				setRow(r.in.y, row, r.y)
			}
		} else {
			zeroRow(r.in.x, row)
			if r.in.y != nil {
				zeroRow(r.in.y, row)
			}
		}
		if r.in.mask != nil {
			v := float32(0)
			if row < len(idx) {
				v = 1
			}
			setRow(r.in.mask, row, []float32{v})
		}
	}
	return nil
}

// run executes the machine once; the caller reads values, then calls
// reset.
func (r *runner) run() error { return r.vm.RunAll() }

func (r *runner) reset() { r.vm.Reset() }

// outputs copies the first n rows of Out into dst (as float32).
func (r *runner) outputs(dst []float32, n int) ([]float32, error) {
	v := r.net.Out.Value()
	if v == nil {
		return nil, fmt.Errorf("train: the output has no value; did the machine run?")
	}
	per := v.Shape().TotalSize() / r.b
	dst = dst[:0]
	switch d := v.Data().(type) {
	case []float64:
		for _, x := range d[:n*per] {
			dst = append(dst, float32(x))
		}
	case []float32:
		dst = append(dst, d[:n*per]...)
	default:
		return nil, fmt.Errorf("train: output of type %T", v.Data())
	}
	return dst, nil
}

func setRow(t tensor.Tensor, row int, v []float32) {
	n := len(v)
	switch d := t.Data().(type) {
	case []float64:
		for i, x := range v {
			d[row*n+i] = float64(x)
		}
	case []float32:
		copy(d[row*n:(row+1)*n], v)
	}
}

func zeroRow(t tensor.Tensor, row int) {
	n := t.Shape().TotalSize() / t.Shape()[0]
	switch d := t.Data().(type) {
	case []float64:
		clear(d[row*n : (row+1)*n])
	case []float32:
		clear(d[row*n : (row+1)*n])
	}
}

func product(s []int) int {
	p := 1
	for _, d := range s {
		p *= d
	}
	return p
}
