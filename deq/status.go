package deq

import "fmt"

// Status says how a solve ended. For a batch it is the worst status over
// the samples, in the order of the constants below.
type Status int

const (
	// NotRun: no solve has run — the status of a layer's statistics before
	// its first solve, or of a layer trained unrolled, which never solves.
	// It is below Converged: a batch's status is the worst of its samples'.
	NotRun Status = iota - 1
	// Converged: every sample met the stopping tolerance.
	Converged
	// MaxIterations: some sample was still above tolerance after MaxIter
	// evaluations; its best iterate is returned.
	MaxIterations
	// Interrupted: the problem's context was cancelled or its deadline
	// passed before some sample met the tolerance; its best iterate so far
	// is returned (anytime inference).
	Interrupted
	// Diverged: some sample's residual grew past Stop.Divergence times its
	// best residual; its best iterate is returned.
	Diverged
	// NonFinite: F produced NaN or Inf for some sample (or the input held
	// them); that sample's best finite iterate is returned, if any.
	NonFinite
	// Failed: F returned an error, or the problem was malformed.
	Failed
)

// String names the status.
func (s Status) String() string {
	switch s {
	case NotRun:
		return "not-run"
	case Converged:
		return "converged"
	case MaxIterations:
		return "max-iterations"
	case Interrupted:
		return "interrupted"
	case Diverged:
		return "diverged"
	case NonFinite:
		return "non-finite"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// OK reports whether the status is Converged.
func (s Status) OK() bool { return s == Converged }

// worse returns the more severe of two statuses.
func worse(a, b Status) Status {
	if b > a {
		return b
	}
	return a
}
