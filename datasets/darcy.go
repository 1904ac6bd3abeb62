package datasets

import (
	"fmt"
	"math"
)

// DarcyConfig describes how Darcy-flow samples are made: the benchmark of
// the Fourier-neural-operator literature (Li et al. 2021), generated here
// rather than downloaded,
//
//	−∇·(a∇u) = 1 on the unit square, u = 0 on its boundary.
//
// Every field lives on the S×S nodes (i·h, j·h), i, j = 0, …, S−1,
// h = 1/(S−1), boundary included, stored row-major: element i·S+j is the
// node (i·h, j·h). Input a and output u share that grid, and u is zero on
// the boundary rows and columns, as in the FNO data sets.
//
// a takes the value High where a Gaussian random field is ≥ 0 and Low
// elsewhere (see SampleDarcyCoefficient); u is found by DarcyCG.
//
// The zero value is the benchmark of Li et al.: a 32×32 grid, values 12
// and 3, covariance (−Δ + 9)^(−2).
type DarcyConfig struct {
	// S is the number of grid nodes per side, boundary included. If S is
	// 0, 32 is used; 64 is the other common choice. It must be 3 to 1024.
	S int
	// High and Low are the values of a where the random field is ≥ 0 and
	// < 0. If zero, 12 and 3 are used; they must be positive.
	High, Low float64
	// Tau is τ in the covariance (−Δ + τ²)^(−α): larger τ gives finer
	// features. If Tau is 0, 3 is used.
	Tau float64
	// Alpha is α in the covariance: larger α gives smoother fields. If
	// Alpha is 0, 2 is used.
	Alpha float64
	// Modes is the number of cosine modes per axis, k = 0, …, Modes−1, in
	// the truncated series of the random field. If Modes is 0, S is used:
	// the finest cosine the grid resolves. At most 4096.
	Modes int
	// Tol is the relative residual ‖b − Au‖/‖b‖ at which the solver stops.
	// If Tol is 0, 1e-10 is used; it must be below 1.
	Tol float64
}

// Default values of DarcyConfig's fields.
const (
	darcyDefaultS     = 32
	darcyDefaultHigh  = 12
	darcyDefaultLow   = 3
	darcyDefaultTau   = 3
	darcyDefaultAlpha = 2
	darcyDefaultTol   = 1e-10
	darcyMaxS         = 1024
	darcyMaxModes     = 4096
)

// resolved returns c with its zero fields replaced by the defaults, or an
// error naming the first field out of range.
func (c DarcyConfig) resolved() (DarcyConfig, error) {
	if c.S == 0 {
		c.S = darcyDefaultS
	}
	if c.High == 0 {
		c.High = darcyDefaultHigh
	}
	if c.Low == 0 {
		c.Low = darcyDefaultLow
	}
	if c.Tau == 0 {
		c.Tau = darcyDefaultTau
	}
	if c.Alpha == 0 {
		c.Alpha = darcyDefaultAlpha
	}
	if c.Modes == 0 {
		c.Modes = c.S
	}
	if c.Tol == 0 {
		c.Tol = darcyDefaultTol
	}
	switch {
	case c.S < 3 || c.S > darcyMaxS:
		return c, fmt.Errorf("datasets: Darcy grid S = %d; want 3 to %d nodes per side (0 means %d)", c.S, darcyMaxS, darcyDefaultS)
	case !darcyPositive(c.High) || !darcyPositive(c.Low):
		return c, fmt.Errorf("datasets: Darcy coefficient values High = %g, Low = %g; both must be positive and finite", c.High, c.Low)
	case !darcyPositive(c.Tau):
		return c, fmt.Errorf("datasets: Darcy Tau = %g; want a positive, finite τ (0 means %d)", c.Tau, darcyDefaultTau)
	case !darcyPositive(c.Alpha):
		return c, fmt.Errorf("datasets: Darcy Alpha = %g; want a positive, finite α (0 means %d)", c.Alpha, darcyDefaultAlpha)
	case c.Modes < 1 || c.Modes > darcyMaxModes:
		return c, fmt.Errorf("datasets: Darcy Modes = %d; want 1 to %d cosine modes per axis (0 means S)", c.Modes, darcyMaxModes)
	case !(c.Tol > 0 && c.Tol < 1):
		return c, fmt.Errorf("datasets: Darcy Tol = %g; want a relative residual in (0, 1) (0 means %g)", c.Tol, darcyDefaultTol)
	}
	return c, nil
}

func darcyPositive(x float64) bool { return x > 0 && !math.IsInf(x, 1) }
