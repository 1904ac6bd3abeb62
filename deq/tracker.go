package deq

import (
	"context"
	"math"
)

// Tracker holds the per-sample bookkeeping every solver shares: residuals,
// the best iterate, stopping, divergence and NaN detection. A solver —
// built in or written outside this package — creates one per solve,
// reports every iterate and its image to Observe, updates only the samples
// still Live, and ends with Result:
//
//	tr := deq.NewTracker[T](stop, p.Batch, p.Dim)
//	for !tr.Exhausted() {
//		p.F(fz, z)
//		if tr.Observe(z, fz) == 0 { break }
//		… step the live samples …
//	}
//	return tr.Result(name)
//
// Observe applies the Stop rule (tolerance, divergence, NaN); a solver with
// a stopping rule of its own calls Freeze instead (with a Stop whose Tol is
// Never, Observe then never stops a sample by itself).
type Tracker[T Float] struct {
	stop       Stop
	batch, dim int
	ctx        context.Context // see Watch
	cause      error           // the context's error, once it stopped the solve

	best     []T // best iterate per sample
	bestAbs  []float64
	bestRel  []float64
	bestIter []int
	status   []Status
	stopped  []int  // iteration at which a sample stopped, -1 while live
	live     []bool // sample still iterating
	nLive    int
	trace    []float64
	iter     int // evaluations so far
}

// traceReserve bounds the residual trace's first allocation: a Stop with a
// huge MaxIter (a solve that a deadline ends, as the anytime tests set up)
// once reserved MaxIter values up front — 8 GiB for 1<<30 — and the
// allocation's page faults alone could outlast the deadline. The trace
// grows by append past it.
const traceReserve = 1024

// NewTracker starts the bookkeeping of a solve of batch problems of dim
// values under stop (resolved: Solve passes it so).
func NewTracker[T Float](stop Stop, batch, dim int) *Tracker[T] {
	t := &Tracker[T]{
		stop:     stop,
		batch:    batch,
		dim:      dim,
		best:     make([]T, batch*dim),
		bestAbs:  make([]float64, batch),
		bestRel:  make([]float64, batch),
		bestIter: make([]int, batch),
		status:   make([]Status, batch),
		stopped:  make([]int, batch),
		live:     make([]bool, batch),
		nLive:    batch,
		trace:    make([]float64, 0, min(stop.MaxIter, traceReserve)),
	}
	for i := range t.live {
		t.live[i] = true
		t.bestAbs[i] = math.Inf(1)
		t.bestRel[i] = math.Inf(1)
		t.stopped[i] = -1
		t.bestIter[i] = -1
		t.status[i] = MaxIterations
	}
	return t
}

// Watch makes Observe stop the solve once ctx is done: the samples still
// live end as Interrupted with their best iterates (the problem's Ctx;
// nil watches nothing). Built-in solvers call it with Problem.Ctx.
func (t *Tracker[T]) Watch(ctx context.Context) { t.ctx = ctx }

// Observe records the residuals of iterate z (whose image is fz), the
// iter-th point evaluated (0 is the start), keeps each sample's best
// iterate and stops the samples that met the tolerance, diverged or went
// non-finite. It returns the number of samples still live.
func (t *Tracker[T]) Observe(z, fz []T) int {
	worst := 0.0
	for s := 0; s < t.batch; s++ {
		if !t.live[s] {
			continue
		}
		lo, hi := s*t.dim, (s+1)*t.dim
		abs, ref, finite := residual(z[lo:hi], fz[lo:hi])
		if !finite {
			t.Freeze(s, NonFinite)
			continue
		}
		rel := relative(abs, ref)
		m := t.stop.measure(abs, ref)
		if m > worst {
			worst = m
		}
		// The best iterate and divergence are judged by the absolute
		// residual: a relative residual can shrink while the iterate runs
		// off to infinity (F(z) = 2z + 1 has ‖F(z) − z‖/‖F(z)‖ → 1/2).
		if abs < t.bestAbs[s] || t.bestIter[s] < 0 {
			copy(t.best[lo:hi], z[lo:hi])
			t.bestAbs[s], t.bestRel[s], t.bestIter[s] = abs, rel, t.iter
		}
		switch {
		case t.stop.Tol >= 0 && m <= t.stop.Tol:
			t.Freeze(s, Converged)
		case abs > t.stop.Divergence*t.bestAbs[s]:
			t.Freeze(s, Diverged)
		}
	}
	t.trace = append(t.trace, worst)
	t.iter++
	if t.ctx != nil && t.nLive > 0 {
		if err := t.ctx.Err(); err != nil {
			t.cause = err
			for s := range t.live {
				t.Freeze(s, Interrupted)
			}
		}
	}
	return t.nLive
}

// Freeze stops live sample s with the given status; its best iterate so
// far is what Result returns for it.
func (t *Tracker[T]) Freeze(s int, st Status) {
	if !t.live[s] {
		return
	}
	t.live[s] = false
	t.nLive--
	t.status[s] = st
	t.stopped[s] = t.iter
	if st == NonFinite && t.bestIter[s] < 0 {
		// No finite iterate was ever seen: return NaN rather than a
		// plausible-looking zero.
		lo, hi := s*t.dim, (s+1)*t.dim
		nan := T(math.NaN())
		for i := lo; i < hi; i++ {
			t.best[i] = nan
		}
	}
}

// Spend counts n evaluations of F that were not observed (GMRES's inner
// Arnoldi steps), so the budget and Stats.Iterations include them.
func (t *Tracker[T]) Spend(n int) { t.iter += n }

// Exhausted reports whether the evaluation budget (Stop.MaxIter) is spent.
func (t *Tracker[T]) Exhausted() bool { return t.iter >= t.stop.MaxIter }

// Live reports whether sample s is still iterating.
func (t *Tracker[T]) Live(s int) bool { return t.live[s] }

// Iterations is the number of evaluations counted so far.
func (t *Tracker[T]) Iterations() int { return t.iter }

// Result assembles the Result of the solver called name; samples still
// live end as MaxIterations.
func (t *Tracker[T]) Result(solver string) Result[T] {
	st := Converged
	sampleIters := make([]int, t.batch)
	for s := 0; s < t.batch; s++ {
		st = worse(st, t.status[s])
		if t.stopped[s] >= 0 {
			sampleIters[s] = t.stopped[s]
		} else {
			sampleIters[s] = t.iter
		}
	}
	return Result[T]{
		Z:      t.best,
		Status: st,
		cause:  t.cause,
		Stats: Stats{
			Iterations:       t.iter,
			Residual:         t.bestAbs,
			RelResidual:      t.bestRel,
			SampleIterations: sampleIters,
			BestIteration:    t.bestIter,
			SampleStatus:     t.status,
			Trace:            t.trace,
			Tol:              t.stop.Tol,
			Mode:             t.stop.Mode,
			MaxIter:          t.stop.MaxIter,
			Divergence:       t.stop.Divergence,
			Solver:           solver,
		},
	}
}

// residual returns ‖fz − z‖, ‖fz‖ and whether both vectors are finite.
// Finite vectors whose norms overflow give +Inf norms, which the divergence
// rule then catches.
func residual[T Float](z, fz []T) (abs, ref float64, finite bool) {
	var d2, f2 float64
	for i := range z {
		f, x := float64(fz[i]), float64(z[i])
		if isNonFinite(f) || isNonFinite(x) {
			return 0, 0, false
		}
		d := f - x
		d2 += d * d
		f2 += f * f
	}
	return math.Sqrt(d2), math.Sqrt(f2), true
}

// isNonFinite reports NaN or ±Inf.
func isNonFinite(v float64) bool { return v-v != 0 }
