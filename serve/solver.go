package serve

import (
	"fmt"

	"github.com/implicit-ml/implicit/deq"
)

// Solver is the forward solver of a served implicit layer: Inner, except
// in the batches a Server runs, whose plan it finds in the problem's
// context. There it solves with per-sample budgets (deq.SolveBudgeted):
// each sample leaves the batch when its own budget is met — its
// tolerance, its iteration count, its deadline — and a sample that leaves
// while others iterate is answered at once, through a readout run that
// applies the rest of the model to its iterate. Budgets of plain
// iterations are solved with Picard (y_t is defined by plain iteration),
// the others with Inner.
type Solver struct {
	// Inner solves everything else: nil means deq.Anderson{}.
	Inner deq.Solver
}

var _ deq.Solver = Solver{}

// WrapSolver returns Solver{Inner: inner}: pass it where a model's
// forward solver is chosen (experiments.LoadOptions.Solver) to make the
// model Budgeted.
func WrapSolver(inner deq.Solver) deq.Solver { return Solver{Inner: inner} }

// Name implements deq.Solver: the inner solver's name, so a wrapped
// model describes itself as the trained one.
func (s Solver) Name() string { return s.inner().Name() }

func (s Solver) inner() deq.Solver {
	if s.Inner == nil {
		return deq.Anderson{}
	}
	return s.Inner
}

// Solve64 implements deq.Solver.
func (s Solver) Solve64(p deq.Problem[float64], st deq.Stop) deq.Result[float64] {
	return solve(s, p, st)
}

// Solve32 implements deq.Solver.
func (s Solver) Solve32(p deq.Problem[float32], st deq.Stop) deq.Result[float32] {
	return solve(s, p, st)
}

func solve[T deq.Float](s Solver, p deq.Problem[T], st deq.Stop) deq.Result[T] {
	var v any
	if p.Ctx != nil {
		v = p.Ctx.Value(planKey{})
	}
	switch pl := v.(type) {
	case *readout:
		return readoutResult(pl, p)
	case *plan:
		inner := s.inner()
		if pl.plain {
			inner = deq.Picard{}
		}
		r := deq.SolveBudgeted(inner, p, st, pl.budgets, func(d deq.Departure[T]) { depart(pl, d) })
		if r.Status == deq.Interrupted {
			// A deadline is a sample's budget met, reported in its stats;
			// to the layer it is a solve that stopped early.
			r.Status = deq.MaxIterations
		}
		return r
	}
	return deq.Solve(s.inner(), p, st)
}

// float64s returns a float64 copy of z: the iterate of a departure that
// the plan keeps (the solver reuses z once the callback returns).
func float64s[T deq.Float](z []T) []float64 {
	out := make([]float64, len(z))
	for i, v := range z {
		out[i] = float64(v)
	}
	return out
}

// readoutResult is the readout's solve: the given iterates, unchanged,
// in the graph's first rows (a nil iterate: the starting point; the rest
// zero).
func readoutResult[T deq.Float](r *readout, p deq.Problem[T]) deq.Result[T] {
	z := make([]T, p.Batch*p.Dim)
	st := make([]deq.Status, p.Batch)
	for i, zs := range r.z {
		if zs == nil && i < p.Batch { // a sample that left the queue unsolved: its starting point
			if p.Z0 != nil {
				copy(z[i*p.Dim:(i+1)*p.Dim], p.Z0[i*p.Dim:(i+1)*p.Dim])
			}
			continue
		}
		if i >= p.Batch || len(zs) != p.Dim {
			return deq.FailedResult[T]("readout", p.Batch, fmt.Errorf("serve: readout row %d of %d values for a batch of %d×%d", i, len(zs), p.Batch, p.Dim))
		}
		for j, v := range zs {
			z[i*p.Dim+j] = T(v)
		}
	}
	return deq.Result[T]{Z: z, Status: deq.Converged, Stats: deq.Stats{SampleStatus: st, Residual: make([]float64, p.Batch),
		RelResidual: make([]float64, p.Batch), SampleIterations: make([]int, p.Batch), Solver: "readout"}}
}
