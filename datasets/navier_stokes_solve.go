package datasets

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// NavierStokesGrid is the discretisation of one NavierStokesConfig: it
// solves for steady states, evaluates the steady residual and maps
// perturbations. Fields are grid values as in NavierStokesConfig: a
// scalar field (ω) has S² values, a vector field (f, u) 2·S², its x
// component first, each row-major.
//
// # Discretisation
//
// Fourier pseudo-spectral with the 2/3 rule: ω is represented by its
// Fourier modes |kx|, |ky| ≤ K = ⌊(S−1)/3⌋, derivatives are exact
// multiplications by ik, the product u·∇ω is formed on the grid and
// truncated to those modes, which on an S-point grid is exactly its
// Galerkin projection P[u·∇ω] (the aliases of a product of two resolved
// fields all land on discarded modes). The discrete steady residual is
//
//	R(ω) = P[u·∇ω] − νΔω − P curl f,
//
// and ‖·‖ the discrete L2 norm, the root mean square over the S² grid
// points (Parseval: the same from the resolved Fourier coefficients).
// The mean of ω is zero (the mean of curl u on a torus); the velocity has
// zero mean too, which the forcings here (no mean) keep steady.
//
// # Solver
//
// Pseudo-transient continuation (Ψtc, Kelley & Keyes 1998) with
// Newton–Krylov steps: from the start (rest unless given), each step
// solves (I/Δτ + J(ω))δ = −R(ω), a backward-Euler step of ∂ω/∂τ = −R(ω)
// linearised once, with the exact Jacobian-vector product
// J v = P[u·∇v + u(v)·∇ω] − νΔv and restarted GMRES, right-preconditioned
// by the Stokes part (I/Δτ − νΔ)⁻¹, a diagonal. Δτ starts at 1/ν, the
// viscous time of the largest scale, and grows as the residual falls
// (Δτ ← Δτ·‖R_old‖/‖R_new‖): the first steps are damped, large
// backward-Euler steps from rest toward an attracting state, the last
// ones Newton steps that converge quadratically; a step that raises the
// residual tenfold is undone and Δτ quartered. At the defaults a solve
// takes about 6 steps and 75 Jacobian products.
//
// Why not simpler: the slowest modes of these flows decay at rates of
// 0.004 to 0.01 (the Jacobian's spectrum), so time stepping to a
// residual of 1e-10 takes thousands of time units, over a thousand
// steps even at the advective CFL limit. Newton from rest, Δτ = ∞ at
// once, overshoots: it took 5 to 10 times more steps in trials, and it
// can land on an unstable steady state. A solve that has not reached Tol
// after MaxSteps steps is reported as not converged: no steady state
// attracts the start (a periodic or chaotic flow keeps the residual up),
// or it is too slow to find.
//
// A NavierStokesGrid holds work buffers: it is not safe for concurrent
// use; make one per goroutine.
type NavierStokesGrid struct {
	cfg NavierStokesConfig
	op  *nsOperator
	ctl nsControls
}

// NewNavierStokesGrid returns the discretisation of cfg, its zero fields
// replaced by the defaults.
func NewNavierStokesGrid(cfg NavierStokesConfig) (*NavierStokesGrid, error) {
	cfg, err := cfg.resolved()
	if err != nil {
		return nil, err
	}
	return newNavierStokesGrid(cfg), nil
}

// newNavierStokesGrid is NewNavierStokesGrid for a resolved cfg.
func newNavierStokesGrid(cfg NavierStokesConfig) *NavierStokesGrid {
	return &NavierStokesGrid{cfg: cfg, op: newNSOperator(cfg.S, cfg.Nu),
		ctl: nsControls{tol: cfg.Tol, maxSteps: cfg.MaxSteps, maxProducts: nsMaxProducts,
			restart: nsRestart, dt0: 1 / cfg.Nu, dtMax: math.Inf(1)}}
}

// GMRES limits of one Ψtc step: Krylov spaces of up to nsRestart vectors
// (converging steps at the defaults need 10 to 40 products) and at most
// nsMaxProducts products in all; an inexact step is still a descent step
// for the next one to improve on.
const (
	nsRestart     = 60
	nsMaxProducts = 200
)

// Config returns the configuration, defaults filled in.
func (g *NavierStokesGrid) Config() NavierStokesConfig { return g.cfg }

// checkLen returns an error unless the field v, named name, holds c
// components of S² values, all finite.
func (g *NavierStokesGrid) checkLen(name string, v []float64, c int) error {
	s := g.cfg.S
	if len(v) != c*s*s {
		what := "one value per grid point, S²"
		if c == 2 {
			what = "two components of S² values, 2·S²"
		}
		return fmt.Errorf("datasets: Navier–Stokes %s has %d values on a %d×%d grid; want %s = %d", name, len(v), s, s, what, c*s*s)
	}
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("datasets: Navier–Stokes %s[%d] = %g; want finite values", name, i, x)
		}
	}
	return nil
}

// specScalar returns the packed coefficients of the scalar grid field v.
func (g *NavierStokesGrid) specScalar(v []float64) []complex128 {
	c := make([]complex128, g.op.sp.m)
	g.op.sp.toSpec(c, nil, v, nil)
	c[g.op.sp.zero()] = 0
	return c
}

// specCurl returns the packed curl ∂f_y/∂x − ∂f_x/∂y of the vector grid
// field f.
func (g *NavierStokesGrid) specCurl(f []float64) []complex128 {
	sp := g.op.sp
	n := g.cfg.S * g.cfg.S
	fx, fy := make([]complex128, sp.m), make([]complex128, sp.m)
	sp.toSpec(fx, fy, f[:n], f[n:])
	c := make([]complex128, sp.m)
	for p := range c {
		c[p] = complex(0, sp.kx[p])*fy[p] - complex(0, sp.ky[p])*fx[p]
	}
	c[sp.zero()] = 0
	return c
}

// gridScalar returns the grid values of packed c.
func (g *NavierStokesGrid) gridScalar(c []complex128) []float64 {
	v := make([]float64, g.cfg.S*g.cfg.S)
	g.op.sp.toGrid(v, nil, c, nil, nil, nil)
	return v
}

// gridPerp returns ∇^⊥φ = (∂φ/∂y, −∂φ/∂x) on the grid for the packed
// stream function φ, whose curl is −Δφ = |k|²φ.
func (g *NavierStokesGrid) gridPerp(phi []complex128) []float64 {
	n := g.cfg.S * g.cfg.S
	f := make([]float64, 2*n)
	mu := g.op.mu
	// ∂φ/∂y and −∂φ/∂x are the multipliers dy and −dx.
	mx := make([]complex128, len(mu.dx))
	for p, m := range mu.dx {
		mx[p] = -m
	}
	g.op.sp.toGrid(f[:n], f[n:], phi, mu.dy, phi, mx)
	return f
}

// streamOfCurl returns the stream function φ = |k|⁻²c with −Δφ = c.
func (g *NavierStokesGrid) streamOfCurl(c []complex128) []complex128 {
	sp := g.op.sp
	phi := make([]complex128, sp.m)
	for p, k2 := range sp.k2 {
		if k2 != 0 {
			phi[p] = c[p] / complex(k2, 0)
		}
	}
	return phi
}

// Curl returns the resolved part of curl f = ∂f_y/∂x − ∂f_x/∂y (S²
// values) of a forcing f (2·S² values): its modes above K and its mean
// dropped, as the solver sees it.
func (g *NavierStokesGrid) Curl(f []float64) ([]float64, error) {
	if err := g.checkLen("forcing f", f, 2); err != nil {
		return nil, err
	}
	return g.gridScalar(g.specCurl(f)), nil
}

// Project returns the part of the scalar field v (S² values) that the
// discretisation represents: its Fourier modes |kx|, |ky| ≤ K without the
// mean. Vorticities from Solve are their own projections; a perturbation
// δω should be projected before ForcingPerturbation, whose result
// describes the projection only.
func (g *NavierStokesGrid) Project(v []float64) ([]float64, error) {
	if err := g.checkLen("field", v, 1); err != nil {
		return nil, err
	}
	return g.gridScalar(g.specScalar(v)), nil
}

// Velocity returns the velocity u = (∂ψ/∂y, −∂ψ/∂x), Δψ = −ω, of the
// vorticity ω (S² values, projected first), as 2·S² values: u_x then
// u_y. It has zero mean.
func (g *NavierStokesGrid) Velocity(omega []float64) ([]float64, error) {
	if err := g.checkLen("vorticity ω", omega, 1); err != nil {
		return nil, err
	}
	w := g.specScalar(omega)
	n := g.cfg.S * g.cfg.S
	u := make([]float64, 2*n)
	g.op.sp.toGrid(u[:n], u[n:], w, g.op.mu.u, w, g.op.mu.v)
	return u, nil
}

// Residual returns the relative steady residual of ω for the forcing f,
//
//	‖P[u·∇ω] − νΔω − P curl f‖ / ‖P curl f‖,
//
// in the discrete L2 norm (see NavierStokesGrid), with ω projected first
// (see Project). A zero forcing gives the absolute residual ‖R(ω)‖.
func (g *NavierStokesGrid) Residual(f, omega []float64) (float64, error) {
	if err := g.checkLen("forcing f", f, 2); err != nil {
		return 0, err
	}
	if err := g.checkLen("vorticity ω", omega, 1); err != nil {
		return 0, err
	}
	sp := g.op.sp
	c, w := g.specCurl(f), g.specScalar(omega)
	r := make([]complex128, sp.m)
	g.op.residual(r, w, c)
	rn, cn := sp.norm(r), sp.norm(c)
	if cn == 0 {
		return rn, nil
	}
	return rn / cn, nil
}

// Solve returns a steady vorticity ω (S² values) for the forcing f (2·S²
// values) by the solver described at NavierStokesGrid, from the
// vorticity start (projected), or from rest if start is nil, with the
// statistics of the solve. When no steady state is reached within
// MaxSteps steps it returns the last iterate with its statistics and an
// error.
func (g *NavierStokesGrid) Solve(f, start []float64) ([]float64, NavierStokesSolveStats, error) {
	if err := g.checkLen("forcing f", f, 2); err != nil {
		return nil, NavierStokesSolveStats{}, err
	}
	w := make([]complex128, g.op.sp.m)
	if start != nil {
		if err := g.checkLen("start", start, 1); err != nil {
			return nil, NavierStokesSolveStats{}, err
		}
		w = g.specScalar(start)
	}
	st, err := g.op.nsSteady(w, g.specCurl(f), g.ctl)
	if err != nil {
		err = fmt.Errorf("datasets: Navier–Stokes solve: %w; raise MaxSteps, or lower Amplitude or raise Nu for a flow with a steady state", err)
	}
	return g.gridScalar(w), st, err
}

// SteadyForcing returns the divergence-free forcing f (2·S² values) for
// which the vorticity ω (S² values, projected first) is steady: curl f =
// P[u·∇ω] − νΔω, f = ∇^⊥φ = (∂φ/∂y, −∂φ/∂x) with −Δφ = curl f. It makes
// manufactured solutions.
func (g *NavierStokesGrid) SteadyForcing(omega []float64) ([]float64, error) {
	if err := g.checkLen("vorticity ω", omega, 1); err != nil {
		return nil, err
	}
	sp := g.op.sp
	w := g.specScalar(omega)
	c := make([]complex128, sp.m)
	g.op.residual(c, w, make([]complex128, sp.m))
	return g.gridPerp(g.streamOfCurl(c)), nil
}

// ForcingPerturbation returns the forcing perturbation δf (2·S² values)
// that moves the steady vorticity ω₀ (S² values) by δω (S² values, both
// projected first) to first order: the linearised steady equation
//
//	δ(curl f) = u₀·∇δω + δu·∇ω₀ − νΔδω   (projected by P),
//
// δu the velocity of δω, gives the curl of δf, and δf is its
// divergence-free preimage, δf = ∇^⊥δφ = (∂δφ/∂y, −∂δφ/∂x) with
// −Δδφ = δ(curl f), the same form as the forcings of the data set. So the
// steady state for f + ε·δf is ω₀ + ε·δω + O(ε²) when ω₀ is steady for
// f; ‖δω‖/‖δf‖ is the sensitivity of the solution operator in the
// direction δω. The map is linear in δω.
func (g *NavierStokesGrid) ForcingPerturbation(omega0, dOmega []float64) ([]float64, error) {
	if err := g.checkLen("vorticity ω₀", omega0, 1); err != nil {
		return nil, err
	}
	if err := g.checkLen("perturbation δω", dOmega, 1); err != nil {
		return nil, err
	}
	sp := g.op.sp
	g.op.setBase(g.specScalar(omega0))
	c := make([]complex128, sp.m)
	g.op.jvp(c, g.specScalar(dOmega))
	return g.gridPerp(g.streamOfCurl(c)), nil
}

// SampleNavierStokesForcing draws one forcing f of cfg (2·S² values, f_x
// then f_y, see NavierStokesConfig) from rng. The draw does not depend on
// S: the same rng state gives the same continuous forcing on every grid
// that resolves it.
func SampleNavierStokesForcing(cfg NavierStokesConfig, rng *rand.Rand) ([]float64, error) {
	cfg, err := cfg.resolved()
	if err != nil {
		return nil, err
	}
	if rng == nil {
		return nil, errors.New("datasets: SampleNavierStokesForcing needs a random source; pass rand.New(rand.NewPCG(seed, index))")
	}
	g := newNavierStokesGrid(cfg)
	return g.gridPerp(nsStreamForcing(g.op.sp, cfg, rng)), nil
}

// errNSNotConverged marks a solve that ended without a steady state:
// the step budget ran out, the residual stagnated or blew up. The
// generator counts such draws as rejected.
var errNSNotConverged = errors.New("no steady state reached")

// nsControls are the resolved solver settings.
type nsControls struct {
	tol         float64
	maxSteps    int
	maxProducts int
	restart     int
	dt0, dtMax  float64
}

// NavierStokesSolveStats describes one steady solve.
type NavierStokesSolveStats struct {
	// Steps is the number of pseudo-time (Ψtc) steps taken, undone ones
	// included; Products the number of Jacobian-vector products of its
	// GMRES solves, the bulk of the cost (three 2-D FFTs each, two of
	// them carrying two real fields).
	Steps, Products int
	// Residual is the final relative steady residual ‖R(ω)‖/‖P curl f‖.
	Residual float64
}

// nsSteady runs the Ψtc iteration described at NavierStokesGrid on
// packed fields: w is the start, overwritten with the result, g the
// packed curl of the forcing.
func (op *nsOperator) nsSteady(w, g []complex128, ctl nsControls) (st NavierStokesSolveStats, err error) {
	sp := op.sp
	gnorm := sp.norm(g)
	if gnorm == 0 {
		clear(w)
		return st, nil
	}
	r := make([]complex128, sp.m)
	rhs := make([]complex128, sp.m)
	delta := make([]complex128, sp.m)
	trial := make([]complex128, sp.m)
	rTrial := make([]complex128, sp.m)
	d := make([]float64, sp.m)
	gm := newNSGMRES(sp, ctl.restart)
	op.residual(r, w, g)
	rel := sp.norm(r) / gnorm
	st.Residual = rel
	dt := ctl.dt0
	apply := func(out, in []complex128) {
		op.jvp(out, in)
		s := complex(1/dt, 0)
		for p := range out {
			out[p] += s * in[p]
		}
	}
	for rel > ctl.tol && st.Steps < ctl.maxSteps {
		st.Steps++
		op.setBase(w)
		for p := range d {
			if sp.w[p] != 0 {
				d[p] = 1 / (1/dt + op.nu*sp.k2[p])
			} else {
				d[p] = 0
			}
		}
		for p := range rhs {
			rhs[p] = -r[p]
		}
		// Inexact Newton: solve loosely while far from steady, tightly
		// near it, so that the last steps keep their fast convergence.
		eta := min(0.1, max(1e-6, 0.1*rel))
		n, _ := gm.solve(delta, rhs, apply, d, eta, ctl.maxProducts)
		st.Products += n
		copy(trial, w)
		axpy(trial, 1, delta)
		op.residual(rTrial, trial, g)
		relTrial := sp.norm(rTrial) / gnorm
		if !(relTrial <= 10*rel) { // NaN included
			dt /= 4
			continue
		}
		copy(w, trial)
		copy(r, rTrial)
		dt = min(dt*rel/relTrial, ctl.dtMax)
		rel = relTrial
		st.Residual = rel
	}
	if rel <= ctl.tol {
		return st, nil
	}
	return st, fmt.Errorf("%w: %d steps reached, relative residual %.2e > tol %.0e", errNSNotConverged, st.Steps, rel, ctl.tol)
}
