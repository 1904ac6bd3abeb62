package datasets

import (
	"fmt"
	"math"
)

// NavierStokesConfig describes how steady Navier–Stokes samples are made:
// case study 2 of "Implicit Models: Expressive Power Scales with
// Test-Time Compute", after the data of Marwah et al. (NeurIPS 2023),
// generated here rather than downloaded. On the periodic square
// [0, 2π)², the steady incompressible equations
//
//	(u·∇)u + ∇p = νΔu + f,   ∇·u = 0,
//
// are solved in vorticity–streamfunction form, ω = ∂v/∂x − ∂u/∂y,
// Δψ = −ω, u = (∂ψ/∂y, −∂ψ/∂x):
//
//	u·∇ω = νΔω + curl f,   curl f = ∂f_y/∂x − ∂f_x/∂y,
//
// with no drag term. The input of a sample is the forcing f (two
// channels, f_x and f_y), its target the steady vorticity ω (one
// channel), both on the S×S grid points (x_i, y_j) = (2πi/S, 2πj/S),
// row-major: element i·S+j is the point (x_i, y_j), as in DarcyConfig.
// The velocity, pressure-free, follows from ω (NavierStokesGrid.Velocity).
//
// # Forcing
//
// Every forcing is divergence-free, f = ∇^⊥φ = (∂φ/∂y, −∂φ/∂x), so that
// the map from f to curl f = −Δφ loses nothing (a gradient part of f
// would only change the pressure):
//
//	f = A·[(sin(k_f y), 0) + f_r],
//
// a Kolmogorov term plus a random smooth part f_r = ∇^⊥φ_r, whose stream
// function φ_r has independent complex normal coefficients of standard
// deviation |k|⁻² on the modes 1 ≤ max(|kx|, |ky|) ≤ Modes (so curl f_r
// has a flat spectrum there), scaled in each sample so that the root mean
// square of f_r is Perturbation times that of sin(k_f y).
//
// # Defaults, and why
//
// The zero value is a 32×32 grid (K = 10 resolved modes per axis after
// de-aliasing), ν = 0.01 as in the paper, k_f = 4, Modes = 3,
// Perturbation = 1 and A = 0.001. ν = 0.01 with a forcing of amplitude
// near 1 (jax-cfd's Kolmogorov setting) is turbulent, with no steady
// state to learn, so the amplitude is what sets the regime. At
// A = 0.001 the steady flows have an rms velocity U ≈ 0.040 (ω ≈ 0.047
// rms), Reynolds numbers U/(νk_f) ≈ 1.0 at the forcing scale and
// U·2π/ν ≈ 25 at the box scale, and are far from linear: the steady ω
// differs from the Stokes solution (the flow without the transport term)
// by about half its norm (0.52 on average). Every one of 1000 draws
// converged, and in a check of 200 draws none reached another steady
// state along a slower pseudo-time path (Δτ₀ = 1 instead of 1/ν) or from
// a random start, and every state found was linearly stable. Larger A
// is more nonlinear but makes some forcings multistable, and then the
// state the solver reaches depends on its path: at A = 0.002
// (nonlinearity 0.78) 4 draws in 200 reached another steady state along
// the slower path and 1 was unstable; at A = 0.003 it was 5 and 3 in 60.
// NavierStokesGrid documents the discretisation and the solver.
type NavierStokesConfig struct {
	// S is the number of grid points per side. If S is 0, 32 is used. It
	// must be 8 to 1024; powers of two are fastest.
	S int
	// Nu is the kinematic viscosity ν. If Nu is 0, 0.01 is used; it must
	// be positive and finite.
	Nu float64
	// Amplitude is A, the amplitude of the Kolmogorov term. If Amplitude
	// is 0, 0.001 is used; it must be positive and finite.
	Amplitude float64
	// ForceK is k_f, the wavenumber of the Kolmogorov term sin(k_f y). If
	// ForceK is 0, 4 is used; it must be at most K = ⌊(S−1)/3⌋.
	ForceK int
	// Modes bounds the random part of the forcing to the modes with
	// 1 ≤ max(|kx|, |ky|) ≤ Modes. If Modes is 0, 3 is used; it must be
	// at most K.
	Modes int
	// Perturbation is the root mean square of the random part relative to
	// that of the Kolmogorov term. If Perturbation is 0, 1 is used; a
	// negative value means no random part (every sample the same).
	Perturbation float64
	// Tol is the relative steady residual ‖R(ω)‖/‖curl f‖ at which the
	// solver stops (see NavierStokesGrid.Residual). If Tol is 0, 1e-10 is
	// used; it must be in (0, 1e-8]: the generator promises 1e-8.
	Tol float64
	// MaxSteps bounds the pseudo-time steps of one solve; a draw that
	// needs more is rejected. If MaxSteps is 0, 60 is used: converging
	// draws at the defaults take 5 to 7.
	MaxSteps int
}

// Default values of NavierStokesConfig's fields, and limits.
const (
	nsDefaultS            = 32
	nsDefaultNu           = 0.01
	nsDefaultAmplitude    = 0.001
	nsDefaultForceK       = 4
	nsDefaultModes        = 3
	nsDefaultPerturbation = 1
	nsDefaultTol          = 1e-10
	nsDefaultMaxSteps     = 60
	nsMinS, nsMaxS        = 8, 1024
	// nsKeepTol is the steady residual every kept sample is checked to,
	// independently of the solver's own stopping test.
	nsKeepTol = 1e-8
)

// resolved returns c with its zero fields replaced by the defaults, or an
// error naming the first field out of range.
func (c NavierStokesConfig) resolved() (NavierStokesConfig, error) {
	if c.S == 0 {
		c.S = nsDefaultS
	}
	if c.Nu == 0 {
		c.Nu = nsDefaultNu
	}
	if c.Amplitude == 0 {
		c.Amplitude = nsDefaultAmplitude
	}
	if c.ForceK == 0 {
		c.ForceK = nsDefaultForceK
	}
	if c.Modes == 0 {
		c.Modes = nsDefaultModes
	}
	switch {
	case c.Perturbation == 0:
		c.Perturbation = nsDefaultPerturbation
	case c.Perturbation < 0:
		c.Perturbation = -1 // one value for "none", so that it names one cache file
	}
	if c.Tol == 0 {
		c.Tol = nsDefaultTol
	}
	if c.MaxSteps == 0 {
		c.MaxSteps = nsDefaultMaxSteps
	}
	if c.S < nsMinS || c.S > nsMaxS {
		return c, fmt.Errorf("datasets: Navier–Stokes grid S = %d; want %d to %d points per side (0 means %d)", c.S, nsMinS, nsMaxS, nsDefaultS)
	}
	k := nsMaxK(c.S)
	switch {
	case !nsPositive(c.Nu):
		return c, fmt.Errorf("datasets: Navier–Stokes Nu = %g; want a positive, finite viscosity (0 means %g)", c.Nu, nsDefaultNu)
	case !nsPositive(c.Amplitude):
		return c, fmt.Errorf("datasets: Navier–Stokes Amplitude = %g; want a positive, finite forcing amplitude (0 means %g)", c.Amplitude, nsDefaultAmplitude)
	case c.ForceK < 1 || c.ForceK > k:
		return c, fmt.Errorf("datasets: Navier–Stokes ForceK = %d; want 1 to %d, the modes a %d-point grid resolves after de-aliasing (0 means %d)", c.ForceK, k, c.S, nsDefaultForceK)
	case c.Modes < 1 || c.Modes > k:
		return c, fmt.Errorf("datasets: Navier–Stokes Modes = %d; want 1 to %d, the modes a %d-point grid resolves after de-aliasing (0 means %d)", c.Modes, k, c.S, nsDefaultModes)
	case math.IsNaN(c.Perturbation) || math.IsInf(c.Perturbation, 1):
		return c, fmt.Errorf("datasets: Navier–Stokes Perturbation = %g; want a finite ratio (0 means %d)", c.Perturbation, nsDefaultPerturbation)
	case !(c.Tol > 0 && c.Tol <= nsKeepTol):
		return c, fmt.Errorf("datasets: Navier–Stokes Tol = %g; want a relative residual in (0, %g] (0 means %g)", c.Tol, nsKeepTol, nsDefaultTol)
	case c.MaxSteps < 1:
		return c, fmt.Errorf("datasets: Navier–Stokes MaxSteps = %d; want a positive bound (0 means %d)", c.MaxSteps, nsDefaultMaxSteps)
	}
	return c, nil
}

func nsPositive(x float64) bool { return x > 0 && !math.IsInf(x, 1) }

// perturbation returns the ratio of the random part, 0 for none.
func (c NavierStokesConfig) perturbation() float64 { return max(c.Perturbation, 0) }
