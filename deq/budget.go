package deq

import (
	"context"
	"math"
	"time"
)

// Budget is one sample's compute budget in a batched solve (see
// SolveBudgeted). Its zero value leaves the sample to the solve's Stop
// rule: its tolerance and its MaxIter.
type Budget struct {
	// Iterations, when positive, stops the sample after exactly this many
	// evaluations of F, returning the iterate the last one was applied
	// to: one more application of F (an implicit layer's output) is then
	// y_Iterations of plain iteration from the start. Tol and MaxIter are
	// ignored; a Deadline still applies.
	Iterations int
	// Tol, when positive, is the sample's own tolerance on its residual
	// (in the Stop's Mode); zero means the Stop's.
	Tol float64
	// MaxIter, when positive, caps the sample's evaluations; zero means
	// the Stop's.
	MaxIter int
	// Deadline, when not zero, stops the sample before an evaluation that
	// would end after it (judged by the duration of the previous
	// evaluation) and otherwise right after the first evaluation that
	// ends after it, with status Interrupted and its best iterate.
	Deadline time.Time
}

// Departure describes a sample that left a budgeted solve.
type Departure[T Float] struct {
	// Sample is the row of the batch.
	Sample int
	// Z is the iterate returned for the sample (Dim values). It is valid
	// only during the callback: copy it to keep it.
	Z []T
	// Status says why it left: Converged (its tolerance was met, or its
	// Iterations were done), MaxIterations, Interrupted (its deadline or
	// the problem's context), Diverged or NonFinite.
	Status Status
	// Iterations is the number of evaluations of F made while the sample
	// was in the solve.
	Iterations int
	// Residual and RelResidual are ‖F(Z) − Z‖ and its relative form.
	Residual, RelResidual float64
	// Remaining is the number of samples still in the solve after this
	// one left; zero for the samples that leave last.
	Remaining int
}

// SolveBudgeted solves p with s, each sample under its own budget: a
// sample leaves the solve as soon as its budget is met, the callback
// leave (when not nil) is told at once, and the solve ends when every
// sample has left. F is still evaluated on the whole batch (its rows are
// batched matrix products), but a sample's result is fixed when it
// leaves, so a caller can answer it while the others iterate.
//
// budgets holds one Budget per sample (nil: all zero). The solver runs
// under stop's Mode and Divergence, with its tolerance disabled: the
// budgets decide. Samples with Iterations budgets return the last
// iterate, the others their best (lowest residual) one. The Result has
// the departures' iterates and statistics; a cancelled p.Ctx ends the
// samples still in the solve as Interrupted. leave is called from the
// goroutine that runs F and must not block.
func SolveBudgeted[T Float](s Solver, p Problem[T], stop Stop, budgets []Budget, leave func(Departure[T])) Result[T] {
	if s == nil {
		s = Anderson{}
	}
	name := "budgeted " + s.Name()
	if err := p.validate(); err != nil {
		return FailedResult[T](name, p.Batch, err)
	}
	if err := stop.validate(); err != nil {
		return FailedResult[T](name, p.Batch, err)
	}
	if budgets == nil {
		budgets = make([]Budget, p.Batch)
	}
	if len(budgets) != p.Batch {
		return FailedResult[T](name, p.Batch, errorf("%d budgets for a batch of %d", len(budgets), p.Batch))
	}
	stop = stop.resolved()
	b, err := newBudgeted(p, stop, budgets, leave)
	if err != nil {
		return FailedResult[T](name, p.Batch, err)
	}
	parent := p.Ctx
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	b.cancel = cancel
	inner := p
	inner.F, inner.Ctx = b.eval, ctx
	r := Solve(s, inner, Stop{Tol: Never, Mode: stop.Mode, MaxIter: b.maxCap, Divergence: stop.Divergence})
	if r.Status == Failed {
		return r
	}
	// Samples still in the solve: the context stopped it, or the solver
	// froze them (divergence) and ran out of iterations.
	final := MaxIterations
	if err := parent.Err(); err != nil {
		final, b.cause = Interrupted, err
	}
	b.leaveAll(final)
	return b.result(name, stop)
}

// budgeted is the bookkeeping of one budgeted solve.
type budgeted[T Float] struct {
	p       Problem[T]
	stop    Stop
	budgets []Budget
	leave   func(Departure[T])
	cancel  context.CancelFunc
	cause   error
	maxCap  int

	calls    int
	last     time.Duration // duration of the last evaluation of F
	live     []bool
	nLive    int
	z        []T       // returned iterate per sample
	zf       []T       // F(z) of the returned iterate
	abs, rel []float64 // residuals of the returned iterate
	best     []float64 // lowest absolute residual seen
	iters    []int
	status   []Status
	seen     []bool // a returned iterate has been recorded
}

func newBudgeted[T Float](p Problem[T], stop Stop, budgets []Budget, leave func(Departure[T])) (*budgeted[T], error) {
	b := &budgeted[T]{p: p, stop: stop, budgets: budgets, leave: leave,
		live: make([]bool, p.Batch), nLive: p.Batch, z: make([]T, p.Batch*p.Dim), zf: make([]T, p.Batch*p.Dim),
		abs: make([]float64, p.Batch), rel: make([]float64, p.Batch), best: make([]float64, p.Batch), iters: make([]int, p.Batch),
		status: make([]Status, p.Batch), seen: make([]bool, p.Batch)}
	copy(b.z, p.Z0)
	for s, bu := range budgets {
		if bu.Iterations < 0 || bu.MaxIter < 0 || math.IsNaN(bu.Tol) || math.IsInf(bu.Tol, 0) || bu.Tol < 0 {
			return nil, errorf("budget of sample %d is invalid (%+v): Iterations and MaxIter must be ≥ 0, Tol finite and ≥ 0", s, bu)
		}
		b.live[s] = true
		b.abs[s], b.rel[s], b.best[s] = math.NaN(), math.NaN(), math.Inf(1)
		b.maxCap = max(b.maxCap, b.limit(s))
	}
	return b, nil
}

// limit is the most evaluations sample s may take.
func (b *budgeted[T]) limit(s int) int {
	switch bu := b.budgets[s]; {
	case bu.Iterations > 0:
		return bu.Iterations
	case bu.MaxIter > 0:
		return bu.MaxIter
	}
	return b.stop.MaxIter
}

// eval is the map the inner solver sees: F, then each live sample's
// budget checked against the pair (z, F(z)).
func (b *budgeted[T]) eval(out, z []T) error {
	now := time.Now()
	if b.calls > 0 {
		b.beforeEval(now)
	}
	if b.nLive == 0 {
		return nil // the inner solver stops at its next look at the context
	}
	if err := b.p.F(out, z); err != nil {
		return err
	}
	end := time.Now()
	b.last = end.Sub(now)
	b.calls++
	d := b.p.Dim
	for s := range b.live {
		if !b.live[s] {
			continue
		}
		zs, fs := z[s*d:(s+1)*d], out[s*d:(s+1)*d]
		abs, ref, finite := residual(zs, fs)
		if !finite {
			b.depart(s, NonFinite)
			continue
		}
		bu := b.budgets[s]
		if !b.seen[s] || bu.Iterations > 0 || abs < b.abs[s] {
			copy(b.z[s*d:(s+1)*d], zs)
			copy(b.zf[s*d:(s+1)*d], fs)
			b.abs[s], b.rel[s], b.seen[s] = abs, relative(abs, ref), true
		}
		b.best[s] = min(b.best[s], abs)
		b.check(s, abs, b.stop.measure(abs, ref), end)
	}
	if b.nLive == 0 {
		b.cancel()
	}
	return nil
}

// beforeEval lets the samples whose deadline the next evaluation would
// overrun leave with what they have.
func (b *budgeted[T]) beforeEval(now time.Time) {
	for s := range b.live {
		if dl := b.budgets[s].Deadline; b.live[s] && !dl.IsZero() && !now.Add(b.last).Before(dl) {
			b.depart(s, Interrupted)
		}
	}
	if b.nLive == 0 {
		b.cancel()
	}
}

// check lets sample s leave when its budget is met after an evaluation
// that ended at end with absolute residual abs (m in the Stop's mode), or
// when its residual grew past Divergence times its best.
func (b *budgeted[T]) check(s int, abs, m float64, end time.Time) {
	bu := b.budgets[s]
	tol := b.stop.Tol
	if bu.Tol > 0 {
		tol = bu.Tol
	}
	switch {
	case bu.Iterations > 0 && b.calls >= bu.Iterations:
		b.depart(s, Converged)
	case bu.Iterations == 0 && m <= tol:
		b.depart(s, Converged)
	case !bu.Deadline.IsZero() && !end.Before(bu.Deadline):
		b.depart(s, Interrupted)
	case b.calls >= b.limit(s):
		b.depart(s, MaxIterations)
	case abs > b.stop.Divergence*b.best[s]:
		b.depart(s, Diverged)
	}
}

// depart records sample s's departure and tells the callback.
func (b *budgeted[T]) depart(s int, st Status) {
	if !b.live[s] {
		return
	}
	b.live[s] = false
	b.nLive--
	b.status[s], b.iters[s] = st, b.calls
	if st == Interrupted && b.cause == nil {
		b.cause = context.DeadlineExceeded // a sample's own deadline
	}
	d := b.p.Dim
	zs := b.z[s*d : (s+1)*d]
	if st == NonFinite && !b.seen[s] {
		for i := range zs {
			zs[i] = T(math.NaN())
		}
	}
	if b.leave != nil {
		b.leave(Departure[T]{Sample: s, Z: zs, Status: st, Iterations: b.calls, Residual: b.abs[s], RelResidual: b.rel[s], Remaining: b.nLive})
	}
}

// leaveAll ends every sample still in the solve with status st.
func (b *budgeted[T]) leaveAll(st Status) {
	for s := range b.live {
		b.depart(s, st)
	}
}

// result assembles the solve's Result from the departures.
func (b *budgeted[T]) result(name string, stop Stop) Result[T] {
	st := Converged
	for _, s := range b.status {
		st = worse(st, s)
	}
	return Result[T]{Z: b.z, Status: st, cause: b.cause, Stats: Stats{
		Iterations: b.calls, Residual: b.abs, RelResidual: b.rel, SampleIterations: b.iters, SampleStatus: b.status,
		Tol: stop.Tol, Mode: stop.Mode, MaxIter: b.maxCap, Divergence: stop.Divergence, Solver: name,
	}}
}
