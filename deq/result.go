package deq

import (
	"fmt"
	"math"
)

// Result is the outcome of a solve.
type Result[T Float] struct {
	// Z holds the best iterate of each sample (lowest residual seen),
	// Batch*Dim values. It is owned by the caller.
	Z []T
	// Status is the worst per-sample status.
	Status Status
	// Stats describe the run.
	Stats Stats
	// err holds the cause of a Failed status.
	err error
	// cause is the context's error of an Interrupted status.
	cause error
}

// Stats describe a solve.
type Stats struct {
	// Iterations is the number of evaluations of F (or of the linear
	// operator) made for the batch.
	Iterations int
	// Residual is, per sample, the absolute residual ‖F(z) − z‖ of the
	// returned iterate (for a linear problem, ‖G + M(u) − u‖).
	Residual []float64
	// RelResidual is, per sample, the relative residual of the returned
	// iterate (see Relative).
	RelResidual []float64
	// SampleIterations is, per sample, the iteration at which it stopped
	// (converged, diverged or went non-finite), or Iterations if it never
	// did.
	SampleIterations []int
	// BestIteration is, per sample, the 0-based index of the returned
	// iterate (0 is the starting point).
	BestIteration []int
	// SampleStatus is the status of each sample.
	SampleStatus []Status
	// Trace is the largest residual (in the Stop's mode) over the samples
	// still iterating, one entry per iteration.
	Trace []float64
	// Tol, Mode and MaxIter record the stopping rule that was applied.
	Tol        float64
	Mode       Mode
	MaxIter    int
	Divergence float64
	// Solver names the method that produced the result.
	Solver string
}

// NotConverged counts the samples whose status is not Converged.
func (s Stats) NotConverged() int {
	n := 0
	for _, st := range s.SampleStatus {
		if st != Converged {
			n++
		}
	}
	return n
}

// MaxResidual is the largest residual over the samples, in the Stop's mode.
func (s Stats) MaxResidual() float64 {
	r := s.RelResidual
	if s.Mode == Absolute {
		r = s.Residual
	}
	m := 0.0
	for _, v := range r {
		if v > m || math.IsNaN(v) {
			m = v
		}
	}
	return m
}

// Err returns nil when the solve converged and otherwise an error that
// says what happened and what to try.
func (r Result[T]) Err() error {
	s := r.Stats
	n := len(s.SampleStatus)
	bad := s.NotConverged()
	switch r.Status {
	case Converged:
		return nil
	case NotRun:
		return errorf("no solve ran")
	case MaxIterations:
		return errorf("%s: %d iterations reached, residual %.3g > tol %.3g (%s) for %d of %d samples; raise MaxIter, loosen Tol, add damping or make the map more contractive",
			s.Solver, s.Iterations, s.MaxResidual(), s.Tol, s.Mode, bad, n)
	case Interrupted:
		return fmt.Errorf("deq: %s was interrupted after %d iterations with %d of %d samples above tol %.3g (its best iterates are returned): %w",
			s.Solver, s.Iterations, countStatus(s.SampleStatus, Interrupted), n, s.Tol, r.cause)
	case Diverged:
		return errorf("%s diverged for %d of %d samples (residual grew past %.0gx its best); the map is not contractive there: add damping, use Anderson, lower the learning rate or constrain the weights (spectral or ∞-norm projection)",
			s.Solver, countStatus(s.SampleStatus, Diverged), n, s.Divergence)
	case NonFinite:
		return errorf("%s: non-finite values (NaN or Inf) for %d of %d samples; check the input for NaN/Inf and the weights for overflow, and lower the learning rate",
			s.Solver, countStatus(s.SampleStatus, NonFinite), n)
	case Failed:
		if r.err != nil {
			return fmt.Errorf("deq: %s failed: %w", s.Solver, r.err)
		}
		return errorf("%s failed", s.Solver)
	}
	return errorf("unknown status %v", r.Status)
}

func countStatus(ss []Status, want Status) int {
	n := 0
	for _, s := range ss {
		if s == want {
			n++
		}
	}
	return n
}

// FailedResult is the result of a solve that could not start or whose F
// failed: every sample Failed, and Err wraps err.
func FailedResult[T Float](solver string, batch int, err error) Result[T] {
	st := make([]Status, max(batch, 0))
	for i := range st {
		st[i] = Failed
	}
	return Result[T]{Status: Failed, err: err, Stats: Stats{Solver: solver, SampleStatus: st}}
}
