package layers

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
)

// ImplicitConfig is the static configuration of an implicit layer. Its
// zero value solves with Anderson to a relative residual of 1e-4 (at most
// 50 iterations) and differentiates exactly by IFT with the same rule.
type ImplicitConfig struct {
	// Forward is the fixed-point solver. Nil means deq.Anderson{}.
	Forward deq.Solver
	// Stop is the forward stopping rule (its zero value is deq.Stop's).
	Stop deq.Stop
	// Backward is the gradient mode. Nil means deq.IFT{}; an IFT with a
	// zero Stop uses the forward Stop (matching pairs). deq.Unrolled{K}
	// makes the layer K applications of the cell in the graph instead of
	// a solve.
	Backward deq.Backward
	// JacobianWeight, when positive, adds the Jacobian penalty
	// JacobianWeight·‖vᵀJ_f(z*)‖²/d (the Hutchinson estimate of the
	// squared Frobenius norm, v ~ N(0, I)) to the layer's Penalty, which
	// the model adds to its loss; it keeps the fixed point stable. It is
	// drawn on every JacobianEvery-th run (zero or 1: every run) and needs
	// a cell implementing JacobianVJPer (DenseCell does; so do the
	// convolutional and Fourier cells of the family packages).
	JacobianWeight float64
	JacobianEvery  int
	// JacobianSeed seeds the penalty's random vectors.
	JacobianSeed uint64
	// Strict makes a solve that does not converge (max iterations,
	// divergence) an error of the machine run: the forward solve, and the
	// backward (adjoint) solve, whose failure would otherwise give a
	// silently wrong gradient (the training loop warns about both, and
	// Stats says so, in either case). Non-finite values are always an
	// error, so NaNs never reach the weights.
	Strict bool
}

// resolved fills in defaults.
func (c ImplicitConfig) resolved() ImplicitConfig {
	if c.Forward == nil {
		c.Forward = deq.Anderson{}
	}
	if c.Backward == nil {
		c.Backward = deq.IFT{}
	}
	if ift, ok := c.Backward.(deq.IFT); ok && ift.Stop == (deq.Stop{}) {
		ift.Stop = c.Stop
		c.Backward = ift
	}
	return c
}

// Controls are the run-time (test-time) settings of an implicit layer.
// They are not part of the graph: change them between runs of a compiled
// machine. The zero value solves with the layer's configuration.
type Controls struct {
	// Iterations, when positive, replaces the solve by exactly this many
	// applications of the cell from z₀ = 0, with no stopping test: the
	// layer outputs the iterate y_t of the theory of test-time compute
	// (t−1 iterations inside the op, the last one in the graph).
	Iterations int
	// MaxIter and Tol, when non-zero, override the forward Stop's.
	MaxIter int
	Tol     float64
	// WarmStart starts each solve from a previous solution: of the same
	// samples when the caller names them (SetSampleIDs, which the
	// training loop does), so each sample restarts from its own last fixed
	// point (for instance an epoch earlier); otherwise from the previous
	// batch's solution.
	WarmStart bool
	// Anytime makes a solve that the layer's context interrupts (see
	// SetContext: a deadline, a cancellation) return each sample's best
	// iterate so far instead of failing the run: anytime inference. In
	// training an interrupted solve is always an error.
	Anytime bool
	// StartAtInjection starts the iterations (fixed-count or solve) from
	// the first injection instead of z₀ = 0, for cells whose state and
	// first injection live in the same space (a plug-and-play deblurring
	// cell starts at y₀ = Aᵀx). Warm
	// starts take precedence where they apply.
	StartAtInjection bool
}

// Stats describe an implicit layer's recent solves.
type Stats struct {
	// Forward and Backward are the stats of the last solves; their
	// statuses are deq.NotRun until a solve of that kind has run (a layer
	// trained unrolled never solves).
	Forward, Backward             deq.Stats
	ForwardStatus, BackwardStatus deq.Status
	// Counters since the layer was built or ResetStats was called.
	ForwardCalls, BackwardCalls int
	ForwardIters, BackwardIters int // evaluations of f and of J_fᵀv
	// ForwardNotConverged and BackwardNotConverged count samples that did
	// not meet the tolerance.
	ForwardNotConverged, BackwardNotConverged int
	ForwardSamples, BackwardSamples           int
}

// MeanForwardIters is the mean number of cell evaluations per forward
// solve (the final application in the graph not counted).
func (s Stats) MeanForwardIters() float64 { return ratio(s.ForwardIters, s.ForwardCalls) }

// MeanBackwardIters is the mean number of VJPs per backward solve.
func (s Stats) MeanBackwardIters() float64 { return ratio(s.BackwardIters, s.BackwardCalls) }

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// implicitState is the mutable part of a layer, kept behind a pointer so
// that the ops' hashes never see it.
type implicitState struct {
	mu    sync.Mutex
	ctl   Controls
	ctx   context.Context // bounds the solves (SetContext); nil: none
	stats Stats
	warm  any // []float32 or []float64 of the last solution
	// ids are the dataset indices of the rows of the next batch (−1 for
	// padding), perSample the last fixed point of each index (map[int][]T).
	ids       []int
	perSample any
	// radius estimates ρ(J_f(z*)) per sample at the last backward pass.
	radius func(iters int, rng *rand.Rand) ([]float64, error)
	// noRadius, when radius is nil, says why: how the forward solves
	// since the layer was built ended without a fixed point.
	noRadius deq.Status
}

// Implicit is a deep-equilibrium layer: its output is the fixed point
// z* = f(z*, inj) of its Cell. The forward pass solves for z* inside a
// Gorgonia op with a deq solver; the backward pass solves the adjoint
// system u = g + J_f(z*)ᵀu with the Backward mode and lets Gorgonia
// differentiate one application of f at z* with incoming gradient u, which
// yields uᵀ∂f/∂inj and uᵀ∂f/∂θ. Training memory is therefore that of one
// application of f, whatever the number of iterations.
//
// Shapes: Fwd takes the injection (B, …) — typically x·U computed once by
// a Dense layer with NoBias — and returns the state (B, …) as given by
// the cell's StateShape.
type Implicit struct {
	Cell    Cell
	cfg     ImplicitConfig
	name    string
	state   *implicitState
	penalty *G.Node
	noise   *gaussState // the penalty's random vectors
	err     error
}

// Penalty returns the regularisation term the last Apply built (the
// Jacobian penalty of ImplicitConfig.JacobianWeight, differentiated at
// fixed z*), or nil: add it to the training loss.
func (l *Implicit) Penalty() *G.Node { return l.penalty }

var _ Layer = (*Implicit)(nil)

// Implicit creates an implicit layer around cell.
func (s *Scope) Implicit(name string, cell Cell, cfg ImplicitConfig) *Implicit {
	l := NewImplicit(name, cell, cfg)
	if l.err != nil {
		s.Fail(l.err)
	} else if s.err != nil {
		l.err = s.err
	}
	s.implicits = append(s.implicits, l)
	return l
}

// NewImplicit creates an implicit layer around cell (see Scope.Implicit).
func NewImplicit(name string, cell Cell, cfg ImplicitConfig) *Implicit {
	l := &Implicit{Cell: cell, cfg: cfg.resolved(), name: name,
		state: &implicitState{stats: Stats{ForwardStatus: deq.NotRun, BackwardStatus: deq.NotRun}}}
	if cell == nil {
		l.err = fmt.Errorf("layers: implicit layer %q has no cell", name)
	}
	return l
}

// Name returns the layer's name.
func (l *Implicit) Name() string { return l.name }

// Config returns the layer's resolved configuration.
func (l *Implicit) Config() ImplicitConfig { return l.cfg }

// Params implements Layer: the cell's parameters.
func (l *Implicit) Params() G.Nodes {
	if l.Cell == nil {
		return nil
	}
	return l.Cell.Params()
}

// Project implements Projector by projecting the cell's parameters when
// the cell is a Projector.
func (l *Implicit) Project() error {
	if p, ok := l.Cell.(Projector); ok {
		return p.Project()
	}
	return nil
}

// SetControls sets the run-time controls used by the following runs.
func (l *Implicit) SetControls(c Controls) {
	l.state.mu.Lock()
	defer l.state.mu.Unlock()
	l.state.ctl = c
}

// SetContext bounds the following solves, forward and backward, by ctx:
// once it is cancelled or its deadline passes, a solve stops at its next
// iteration (deq.Interrupted) and the run fails with ctx's error — or,
// with Controls.Anytime, the forward solve returns its best iterates. The
// training loop and the evaluators set it; nil removes it.
func (l *Implicit) SetContext(ctx context.Context) {
	l.state.mu.Lock()
	defer l.state.mu.Unlock()
	l.state.ctx = ctx
}

// Controls returns the current run-time controls.
func (l *Implicit) Controls() Controls {
	l.state.mu.Lock()
	defer l.state.mu.Unlock()
	return l.state.ctl
}

// SetSampleIDs names the samples of the next batch's rows (dataset
// indices, −1 for padding rows) for per-sample warm starts; nil forgets
// them.
func (l *Implicit) SetSampleIDs(ids []int) {
	l.state.mu.Lock()
	defer l.state.mu.Unlock()
	l.state.ids = append(l.state.ids[:0], ids...)
	if ids == nil {
		l.state.ids = nil
	}
}

// Stats returns a snapshot of the layer's solve statistics.
func (l *Implicit) Stats() Stats {
	l.state.mu.Lock()
	defer l.state.mu.Unlock()
	return l.state.stats
}

// ResetStats zeroes the counters of Stats.
func (l *Implicit) ResetStats() {
	l.state.mu.Lock()
	defer l.state.mu.Unlock()
	l.state.stats = Stats{}
}

// ErrNoFixedPoint is what SpectralRadius returns (wrapped, with the
// status) when the layer's last forward solve found no fixed point — it
// diverged or broke down — so there is no J_f(z*) to measure. A caller
// that reports the radius beside other results can test for it with
// errors.Is and leave the radius out instead of failing.
var ErrNoFixedPoint = errors.New("no fixed point to take the spectral radius at")

// SpectralRadius estimates the spectral radius of J_f(z*) at the fixed
// point of the layer's last solve — a forward solve (not an iterate of
// Controls.Iterations) or a backward pass — by power iteration on J_fᵀ,
// which has the same spectrum, averaged over the batch; iters = 0 means
// 30. It is the contraction of the learned operator in z at its fixed
// point: a radius near or above 1 warns that the fixed point is losing
// stability and the solves will slow down or fail. It needs a solve to
// have run.
func (l *Implicit) SpectralRadius(iters int, rng *rand.Rand) (float64, error) {
	l.state.mu.Lock()
	f, why := l.state.radius, l.state.noRadius
	l.state.mu.Unlock()
	if f == nil && why != deq.Converged {
		return 0, fmt.Errorf("layers: implicit layer %q: %w: its last forward solve ended %s (the cell is not contractive there)", l.name, ErrNoFixedPoint, why)
	}
	if f == nil {
		return 0, fmt.Errorf("layers: implicit layer %q has not solved for a fixed point yet; the spectral radius is taken there", l.name)
	}
	rho, err := f(iters, rng)
	if err != nil {
		return 0, err
	}
	mean := 0.0
	for _, r := range rho {
		mean += r
	}
	return mean / float64(len(rho)), nil
}

// Fwd implements Layer with a single injection.
func (l *Implicit) Fwd(inj *G.Node) (*G.Node, error) { return l.Apply(inj) }

// Apply builds the layer for one or more injections (cells written as
// Builders take exactly one).
func (l *Implicit) Apply(inj ...*G.Node) (*G.Node, error) {
	if l.err != nil {
		return nil, l.err
	}
	if len(inj) == 0 {
		return nil, fmt.Errorf("layers: implicit layer %q needs an injection", l.name)
	}
	params := kernelInputs(l.Cell)
	dt := inj[0].Dtype()
	for _, n := range append(G.Nodes(inj), params...) {
		if n == nil {
			return nil, fmt.Errorf("layers: implicit layer %q has a nil input or parameter", l.name)
		}
		if n.Dtype() != dt {
			return nil, fmt.Errorf("layers: implicit layer %q mixes dtypes %v and %v", l.name, dt, n.Dtype())
		}
	}
	if dt != tensor.Float64 && dt != tensor.Float32 {
		return nil, fmt.Errorf("layers: implicit layer %q needs float32 or float64, got %v", l.name, dt)
	}
	state, err := l.Cell.StateShape(ShapesOf(inj))
	if err != nil {
		return nil, err
	}
	if u, ok := l.cfg.Backward.(deq.Unrolled); ok {
		return unroll(l.Cell, inj, state, dt, u.Resolved().Steps)
	}
	children := append(append(G.Nodes{}, inj...), params...)
	sop := newSolveOp(l, state, dt, children)
	zstar, err := G.ApplyOp(sop, children...)
	if err != nil {
		return nil, fmt.Errorf("layers: implicit layer %q: %w", l.name, err)
	}
	fz, err := l.Cell.Apply(zstar, inj)
	if err != nil {
		return nil, err
	}
	if l.cfg.JacobianWeight > 0 {
		if l.penalty, l.noise, err = jacobianPenalty(l.Cell, fz, l.cfg.JacobianWeight, l.cfg.JacobianEvery, l.cfg.JacobianSeed); err != nil {
			return nil, fmt.Errorf("layers: implicit layer %q: %w", l.name, err)
		}
	}
	hop := newHookOp(sop)
	return G.ApplyOp(hop, append(G.Nodes{fz, zstar}, children...)...)
}

// stop returns the forward stopping rule under the current controls.
func (l *Implicit) stop(ctl Controls) deq.Stop {
	s := l.cfg.Stop
	if ctl.MaxIter > 0 {
		s.MaxIter = ctl.MaxIter
	}
	if ctl.Tol != 0 {
		s.Tol = ctl.Tol
	}
	return s
}

// Unrolled is the explicit twin of an implicit layer: Steps applications
// of the same cell, weight-tied, from z₀ = 0, all in the graph. Gradients
// are exact backpropagation through the copies; memory grows with Steps.
type Unrolled struct {
	Cell  Cell
	Steps int
}

var _ Layer = (*Unrolled)(nil)

// Fwd implements Layer.
func (u *Unrolled) Fwd(inj *G.Node) (*G.Node, error) { return u.Apply(inj) }

// Apply builds the unrolled layer for one or more injections.
func (u *Unrolled) Apply(inj ...*G.Node) (*G.Node, error) {
	if u.Cell == nil || u.Steps < 1 || len(inj) == 0 {
		return nil, fmt.Errorf("layers: Unrolled needs a cell, Steps ≥ 1 and an injection (got Steps=%d)", u.Steps)
	}
	state, err := u.Cell.StateShape(ShapesOf(inj))
	if err != nil {
		return nil, err
	}
	return unroll(u.Cell, inj, state, inj[0].Dtype(), u.Steps)
}

// Project implements Projector, like Implicit.Project.
func (u *Unrolled) Project() error {
	if p, ok := u.Cell.(Projector); ok {
		return p.Project()
	}
	return nil
}

// Params implements Layer.
func (u *Unrolled) Params() G.Nodes {
	if u.Cell == nil {
		return nil
	}
	return u.Cell.Params()
}

func unroll(c Cell, inj G.Nodes, state tensor.Shape, dt tensor.Dtype, steps int) (*G.Node, error) {
	// The zero state is attached to the graph: a cell whose first op reads
	// only the state would otherwise have no graph to live in.
	z := inj[0].Graph().AddNode(G.NewConstant(tensor.New(tensor.WithShape(state...), tensor.Of(dt)), G.WithName(fmt.Sprintf("zeros%v", []int(state)))))
	for i := 0; i < steps; i++ {
		var err error
		if z, err = c.Apply(z, inj); err != nil {
			return nil, err
		}
	}
	return z, nil
}
