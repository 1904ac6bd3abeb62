package deq

import (
	"fmt"
	"math"
)

// Mode says which residual a Stop rule compares with its tolerance.
type Mode int

const (
	// Relative compares ‖F(z) − z‖ / ‖F(z)‖ per sample (the zero value).
	Relative Mode = iota
	// Absolute compares ‖F(z) − z‖ per sample.
	Absolute
)

// String names the mode.
func (m Mode) String() string {
	switch m {
	case Relative:
		return "relative"
	case Absolute:
		return "absolute"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Never is a Tol that never stops a solve early: every sample runs MaxIter
// iterations. Use it to measure cost at a fixed iteration count.
const Never = -1.0

// Default values of a zero Stop.
const (
	DefaultTol        = 1e-4
	DefaultMaxIter    = 50
	DefaultDivergence = 1e6
)

// Stop is the stopping rule of a solve. Its zero value stops each sample
// when its relative residual falls to 1e-4, after at most 50 iterations.
type Stop struct {
	// Tol is the residual at which a sample has converged. Zero means
	// DefaultTol (1e-4); a negative value (see Never) disables early stopping.
	Tol float64
	// Mode selects the residual compared with Tol. Zero is Relative.
	Mode Mode
	// MaxIter bounds the number of evaluations of F. Zero means
	// DefaultMaxIter (50).
	MaxIter int
	// Divergence is the factor by which a sample's residual may exceed its
	// best residual so far before the sample is declared diverged and
	// frozen at its best iterate. Zero means DefaultDivergence (1e6).
	Divergence float64
}

// resolved returns the rule with defaults filled in.
func (s Stop) resolved() Stop {
	if s.Tol == 0 {
		s.Tol = DefaultTol
	}
	if s.MaxIter <= 0 {
		s.MaxIter = DefaultMaxIter
	}
	if s.Divergence <= 0 {
		s.Divergence = DefaultDivergence
	}
	return s
}

// validate rejects values that cannot be meant.
func (s Stop) validate() error {
	if math.IsNaN(s.Tol) || math.IsInf(s.Tol, 0) {
		return errorf("Stop.Tol is %v; use a finite tolerance, or deq.Never to disable early stopping", s.Tol)
	}
	if s.Mode != Relative && s.Mode != Absolute {
		return errorf("Stop.Mode %d is neither Relative nor Absolute", int(s.Mode))
	}
	if s.MaxIter < 0 {
		return errorf("Stop.MaxIter is %d; it must be ≥ 0 (0 means %d)", s.MaxIter, DefaultMaxIter)
	}
	return nil
}

// measure returns the residual compared with Tol under this mode.
func (s Stop) measure(abs, ref float64) float64 {
	if s.Mode == Absolute {
		return abs
	}
	return relative(abs, ref)
}

// relative is abs/ref, defined as zero when both are zero.
func relative(abs, ref float64) float64 {
	if abs == 0 {
		return 0
	}
	if ref < tiny {
		ref = tiny
	}
	return abs / ref
}

// tiny keeps relative residuals finite when F(z) = 0.
const tiny = 1e-30
