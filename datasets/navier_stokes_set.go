package datasets

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// NavierStokesSet is a set of steady Navier–Stokes samples (see
// NavierStokesConfig): each input is a forcing f, two channels f_x and
// f_y, and its target the steady vorticity ω, one channel, on the S×S
// grid. As a train.Dataset it gives them as images of shape {2, S, S} and
// {1, S, S}, in float32, standardised by Normalization (the identity
// when it is zero, as generated).
//
// The fields are float64 and unnormalised so that the physics stays
// checkable: every sample satisfies Residual(F, Omega) ≤ 1e-8 (see
// NavierStokesGrid.Residual), which float32 rounding alone would break.
// They are shared by the copies Normalized makes: treat them as read-only.
type NavierStokesSet struct {
	// S is the grid size, points per side; N the number of samples.
	S, N int
	// F holds the N forcings, N×2×S×S: sample k's f_x (S² values,
	// row-major) then its f_y.
	F []float64
	// Omega holds the N steady vorticities, N×S×S.
	Omega []float64
	// Draw[k] is the draw sample k came from: its forcing was drawn from
	// rand.NewPCG(Seed, Draw[k]). Draws that were rejected are skipped,
	// so Draw increases from First with gaps.
	Draw []uint64
	// Residual[k] is sample k's relative steady residual, at most 1e-8.
	Residual []float64
	// Stats counts the draws behind the set and why some were rejected.
	Stats NavierStokesStats
	// Config is the configuration the samples were made with, its zero
	// fields replaced by the defaults.
	Config NavierStokesConfig
	// Seed and First say which draws these are: the kept ones among
	// First, First+1, …
	Seed, First uint64
	// Normalization standardises what Sample returns (see Normalized);
	// the zero value leaves the fields as they are.
	Normalization NavierStokesNorm
}

// NavierStokesStats counts the draws behind a set: every draw up to the
// last kept one is kept or rejected for one reason.
type NavierStokesStats struct {
	Drawn, Kept int
	// NotConverged counts draws whose solve did not reach Tol in MaxSteps
	// steps: no attracting steady state, or too slow.
	NotConverged int
	// Unverified counts draws whose solve converged but whose stored
	// fields failed the independent residual check (≤ 1e-8); expect 0.
	Unverified int
	// Steps and Products total the Ψtc steps and Jacobian-vector products
	// of all draws.
	Steps, Products int
	// MaxResidual is the largest relative residual of a kept sample.
	MaxResidual float64
	// Seconds is the wall time of generation on all cores, 0 when the
	// set was read from the cache.
	Seconds float64
}

// Rejected returns the number of rejected draws.
func (s NavierStokesStats) Rejected() int { return s.NotConverged + s.Unverified }

// String says how many draws were kept, why the others were rejected,
// and what the kept ones cost.
func (s NavierStokesStats) String() string {
	str := fmt.Sprintf("drew %d, kept %d, rejected %d (%d not converged, %d unverified); max residual %.1e; %d Ψtc steps, %d Jacobian products",
		s.Drawn, s.Kept, s.Rejected(), s.NotConverged, s.Unverified, s.MaxResidual, s.Steps, s.Products)
	if s.Seconds > 0 && s.Drawn > 0 {
		str += fmt.Sprintf("; %.1f s, %.1f ms per draw", s.Seconds, 1000*s.Seconds/float64(s.Drawn))
	}
	return str
}

// Len returns N.
func (d *NavierStokesSet) Len() int { return d.N }

// InputShape returns {2, S, S}: the forcing's two components.
func (d *NavierStokesSet) InputShape() []int { return []int{2, d.S, d.S} }

// TargetShape returns {1, S, S}: the vorticity.
func (d *NavierStokesSet) TargetShape() []int { return []int{1, d.S, d.S} }

// Sample copies the forcing of sample i into x (2·S² values) and its
// vorticity into y (S² values), standardised by d.Normalization, as float32. Like
// slice indexing, it panics when i is outside [0, N) or x or y is too
// short: that is a caller bug, not bad data.
func (d *NavierStokesSet) Sample(i int, x, y []float32) {
	p := d.S * d.S
	fm, fs := d.Normalization.FMean, usableStd(d.Normalization.FStd)
	wm, ws := d.Normalization.WMean, usableStd(d.Normalization.WStd)
	for k, v := range d.F[2*i*p : 2*(i+1)*p] {
		x[k] = float32((v - fm) / fs)
	}
	for k, v := range d.Omega[i*p : (i+1)*p] {
		y[k] = float32((v - wm) / ws)
	}
}

// Forcing returns sample i's forcing, 2·S² values, unnormalised; the
// slice shares the set's memory. Like slice indexing, it panics when i
// is outside [0, N).
func (d *NavierStokesSet) Forcing(i int) []float64 {
	p := 2 * d.S * d.S
	return d.F[i*p : (i+1)*p : (i+1)*p]
}

// Vorticity returns sample i's steady vorticity ω₀, S² values,
// unnormalised; the slice shares the set's memory. It panics when i is
// outside [0, N).
func (d *NavierStokesSet) Vorticity(i int) []float64 {
	p := d.S * d.S
	return d.Omega[i*p : (i+1)*p : (i+1)*p]
}

// Grid returns a NavierStokesGrid of the set's configuration, for
// velocities, residuals and perturbations of its samples. Make one per
// goroutine.
func (d *NavierStokesSet) Grid() *NavierStokesGrid { return newNavierStokesGrid(d.Config) }

// Velocity returns sample i's steady velocity u₀, 2·S² values (u_x then
// u_y), computed from its vorticity.
func (d *NavierStokesSet) Velocity(i int) ([]float64, error) {
	if i < 0 || i >= d.N {
		return nil, fmt.Errorf("datasets: Navier–Stokes sample %d of %d", i, d.N)
	}
	return d.Grid().Velocity(d.Vorticity(i))
}

// ForcingPerturbation returns the forcing perturbation δf that moves
// sample i's steady vorticity by δω to first order (see
// NavierStokesGrid.ForcingPerturbation); both in physical, unnormalised
// units. In the standardised spaces of Sample the same direction is the
// input change δf/FStd with the target change δω/WStd.
func (d *NavierStokesSet) ForcingPerturbation(i int, dOmega []float64) ([]float64, error) {
	if i < 0 || i >= d.N {
		return nil, fmt.Errorf("datasets: Navier–Stokes sample %d of %d", i, d.N)
	}
	return d.Grid().ForcingPerturbation(d.Vorticity(i), dOmega)
}

// GenerateNavierStokes returns the first n kept samples of draws 0, 1, …
// for seed, on all cores, with the counts of draws rejected (see
// NavierStokesStats). Draw k is a function of (cfg, seed, k) only, its
// forcing drawn from rand.New(rand.NewPCG(seed, k)), so a larger n
// extends a smaller one and the result does not depend on the number of
// cores. LoadNavierStokes caches the result on disk.
func GenerateNavierStokes(cfg NavierStokesConfig, seed uint64, n int) (*NavierStokesSet, error) {
	return generateNavierStokes(cfg, seed, 0, n)
}

// nsMaxValues bounds N·S² so that a set fits in memory.
const nsMaxValues = 1 << 30

func generateNavierStokes(cfg NavierStokesConfig, seed, first uint64, n int) (*NavierStokesSet, error) {
	cfg, err := cfg.resolved()
	if err != nil {
		return nil, err
	}
	p := cfg.S * cfg.S
	if n < 0 || n > nsMaxValues/(3*p) {
		return nil, fmt.Errorf("datasets: %d Navier–Stokes samples of %d×%d; want 0 to %d at this size", n, cfg.S, cfg.S, nsMaxValues/(3*p))
	}
	start := time.Now()
	d := &NavierStokesSet{S: cfg.S, N: n, F: make([]float64, 0, 2*n*p), Omega: make([]float64, 0, n*p),
		Draw: make([]uint64, 0, n), Residual: make([]float64, 0, n), Config: cfg, Seed: seed, First: first}
	workers := runtime.GOMAXPROCS(0)
	grids := make([]*NavierStokesGrid, workers)
	for w := range grids {
		grids[w] = newNavierStokesGrid(cfg)
	}
	var next uint64 // draws first+next, … are still to make
	for d.N > len(d.Draw) {
		// Solve a batch in parallel, sized from the acceptance rate so
		// far, then take its draws in order.
		need := n - len(d.Draw)
		batch := need + need/16 + workers
		if d.Stats.Kept > 0 {
			batch = int(float64(need)*float64(d.Stats.Drawn)/float64(d.Stats.Kept)*1.05) + workers
		}
		batch = min(batch, 1<<14)
		out := make([]nsDraw, batch)
		var todo atomic.Int64
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for {
					i := int(todo.Add(1) - 1)
					if i >= batch {
						return
					}
					out[i] = grids[w].draw(seed, first+next+uint64(i))
				}
			})
		}
		wg.Wait()
		for i := range out {
			if len(d.Draw) == n {
				break
			}
			r := &out[i]
			d.Stats.count(r)
			if r.err == nil {
				d.F = append(d.F, r.f...)
				d.Omega = append(d.Omega, r.omega...)
				d.Draw = append(d.Draw, first+next+uint64(i))
				d.Residual = append(d.Residual, r.residual)
				d.Stats.MaxResidual = max(d.Stats.MaxResidual, r.residual)
			}
		}
		next += uint64(batch)
		// A configuration that rejects (almost) everything would loop
		// for ever.
		if d.Stats.Drawn >= 100 && d.Stats.Kept*10 < d.Stats.Drawn {
			return nil, fmt.Errorf("datasets: fewer than 1 in 10 Navier–Stokes draws has a steady state (%v); lower Amplitude or raise Nu", d.Stats)
		}
	}
	d.Stats.Seconds = time.Since(start).Seconds()
	return d, nil
}

// nsDraw is the outcome of one draw.
type nsDraw struct {
	f, omega []float64
	residual float64
	st       NavierStokesSolveStats
	err      error
}

// errNSUnverified marks a converged solve whose stored fields failed the
// independent residual check.
var errNSUnverified = errors.New("residual check failed")

// draw makes draw k of seed: the forcing, the steady solve from rest and
// the residual check of the grid values that will be stored, recomputed
// from them rather than taken from the solver.
func (g *NavierStokesGrid) draw(seed, k uint64) nsDraw {
	f := g.gridPerp(nsStreamForcing(g.op.sp, g.cfg, rand.New(rand.NewPCG(seed, k))))
	omega, st, err := g.Solve(f, nil)
	r := nsDraw{f: f, omega: omega, st: st, err: err}
	if err != nil {
		return r
	}
	if r.residual, err = g.Residual(f, omega); err != nil || !(r.residual <= nsKeepTol) {
		r.err = fmt.Errorf("%w: residual %.2e", errNSUnverified, r.residual)
	}
	return r
}

// count records the outcome of one draw.
func (s *NavierStokesStats) count(r *nsDraw) {
	s.Drawn++
	s.Steps += r.st.Steps
	s.Products += r.st.Products
	switch {
	case r.err == nil:
		s.Kept++
	case errors.Is(r.err, errNSUnverified):
		s.Unverified++
	default:
		s.NotConverged++
	}
}

// NavierStokesNorm holds the statistics that standardise Navier–Stokes
// data: the mean and (population) standard deviation over all values of
// the forcings (both components together) and of the vorticities.
// Compute them on the training set and apply them to every split.
type NavierStokesNorm struct {
	FMean, FStd, WMean, WStd float64
}

// Norm returns the statistics of d's forcings and vorticities. An empty
// set gives means 0 and deviations 1.
func (d *NavierStokesSet) Norm() NavierStokesNorm {
	fm, fs := meanStd(d.F)
	wm, ws := meanStd(d.Omega)
	return NavierStokesNorm{FMean: fm, FStd: fs, WMean: wm, WStd: ws}
}

// Normalized returns a copy of d whose Sample standardises with nm:
// x ↦ (x − FMean)/FStd, ω ↦ (ω − WMean)/WStd. The copy shares the
// physical fields, which stay unnormalised. A deviation that is not
// positive counts as 1.
func (d *NavierStokesSet) Normalized(nm NavierStokesNorm) *NavierStokesSet {
	out := *d
	out.Normalization = nm
	return &out
}

// DenormalizeTarget maps standardised targets or predictions y back to
// vorticity in place, y ← y·WStd + WMean: the inverse of Sample's map on
// ω, for errors in physical units.
func (nm NavierStokesNorm) DenormalizeTarget(y []float32) {
	ws := usableStd(nm.WStd)
	for i, v := range y {
		y[i] = float32(float64(v)*ws + nm.WMean)
	}
}
