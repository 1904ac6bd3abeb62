package deq

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestIFTSolvesTheAdjointSystem: every adjoint solver reaches the
// solution of u = g + Jᵀu for a non-symmetric J, so a solve with J in
// place of Jᵀ is caught.
func TestIFTSolvesTheAdjointSystem(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	p := newAffine(rng, 3, 9, 0.7)
	if a := p.asymmetry(); a < 0.5 {
		t.Fatalf("test matrices are nearly symmetric (%.2g)", a)
	}
	g := make([]float64, 27)
	for i := range g {
		g[i] = rng.NormFloat64()
	}
	want := p.adjointSolution(t, g)
	stop := Stop{Tol: 1e-13, Mode: Absolute, MaxIter: 500}
	for name, mode := range map[string]IFT{
		"default":  {Stop: stop},
		"picard":   {Solver: Picard{}, Stop: stop},
		"anderson": {Solver: Anderson{}, Stop: stop},
		"broyden":  {Solver: Broyden{}, Stop: stop},
		"gmres":    {Solver: GMRES{}, Stop: stop},
	} {
		t.Run(name, func(t *testing.T) {
			r := SolveAdjoint[float64](mode, Adjoint[float64]{VJP: p.transposeApply, G: g, Batch: 3, Dim: 9})
			if err := r.Err(); err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(r.Z, want); d > 1e-11 {
				t.Errorf("adjoint off by %.3g", d)
			}
			if !strings.HasPrefix(r.Stats.Solver, "ift-") || !mode.Exact() {
				t.Errorf("stats name %q, exact %v", r.Stats.Solver, mode.Exact())
			}
		})
	}
}

func TestJFBAndPhantom(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	p := newAffine(rng, 2, 5, 0.5)
	g := make([]float64, 10)
	for i := range g {
		g[i] = rng.NormFloat64()
	}
	a := Adjoint[float64]{VJP: p.transposeApply, G: g, Batch: 2, Dim: 5}

	jfb := SolveAdjoint[float64](JFB{}, a)
	if jfb.Err() != nil || maxAbsDiff(jfb.Z, g) != 0 || (JFB{}).Exact() {
		t.Errorf("JFB must return g itself: %v", jfb.Err())
	}
	jfb.Z[0]++ // the result must not alias the input
	if g[0] == jfb.Z[0] {
		t.Error("JFB result aliases G")
	}

	// Phantom with k steps and damping λ equals λ Σ_{i<k} Aᵀ^i g with
	// A = (1−λ)I + λJ; check k = 3 by hand.
	lam := 0.8
	step := func(v []float64) []float64 {
		jv := make([]float64, len(v))
		if err := p.transposeApply(jv, v); err != nil {
			t.Fatal(err)
		}
		for i := range jv {
			jv[i] = (1-lam)*v[i] + lam*jv[i]
		}
		return jv
	}
	v1 := step(g)
	v2 := step(v1)
	want := make([]float64, len(g))
	for i := range want {
		want[i] = lam * (g[i] + v1[i] + v2[i])
	}
	ph := SolveAdjoint[float64](Phantom{Steps: 3, Damping: lam}, a)
	if err := ph.Err(); err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(ph.Z, want); d > 1e-14 {
		t.Errorf("phantom off by %.3g", d)
	}
	if ph.Stats.Iterations != 2 {
		t.Errorf("phantom used %d VJPs, want 2", ph.Stats.Iterations)
	}
	// Many steps converge to the exact adjoint.
	exact := p.adjointSolution(t, g)
	long := SolveAdjoint[float64](Phantom{Steps: 200, Damping: 1}, a)
	if d := maxAbsDiff(long.Z, exact); d > 1e-12 {
		t.Errorf("phantom with 200 undamped steps off the IFT adjoint by %.3g", d)
	}
	if r := SolveAdjoint[float64](Phantom{Steps: -1}, a); r.Status != Failed {
		t.Errorf("negative steps: status %v, want failed", r.Status)
	}
}

func TestUnrolledHasNoAdjointSolve(t *testing.T) {
	g := []float64{1, 2}
	r := SolveAdjoint[float64](Unrolled{Steps: 4}, Adjoint[float64]{VJP: func(o, v []float64) error { return nil }, G: g, Batch: 1, Dim: 2})
	if r.Status != Failed || !strings.Contains(r.Err().Error(), "4 copies") || !(Unrolled{}).Exact() {
		t.Fatalf("status %v err %v", r.Status, r.Err())
	}
}

func TestAdjointFloat32(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	p := newAffine(rng, 2, 6, 0.6)
	g := make([]float64, 12)
	g32 := make([]float32, 12)
	for i := range g {
		g[i] = rng.NormFloat64()
		g32[i] = float32(g[i])
	}
	want := p.adjointSolution(t, g)
	vjp := func(out, v []float32) error {
		o := make([]float64, len(out))
		if err := p.transposeApply(o, widen(v)); err != nil {
			return err
		}
		for i := range o {
			out[i] = float32(o[i])
		}
		return nil
	}
	for _, mode := range []Backward{IFT{Stop: Stop{Tol: 1e-6}}, IFT{Solver: GMRES{}, Stop: Stop{Tol: 1e-6}}} {
		r := SolveAdjoint(mode, Adjoint[float32]{VJP: vjp, G: g32, Batch: 2, Dim: 6})
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		if d := maxAbsDiff(widen(r.Z), want); d > 1e-4 || math.IsNaN(d) {
			t.Errorf("%s: float32 adjoint off by %.3g", mode.Name(), d)
		}
	}
}

// TestAdjointOnAnExpansiveJacobian: when J has spectral radius above 1
// (non-normal, non-symmetric), the fixed-point adjoint solvers cannot
// converge and say so (a status and an error, never a quiet result), and
// GMRES still solves the system.
func TestAdjointOnAnExpansiveJacobian(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	p := newExpansiveAffine(t, rng, 2, 7, 1.3)
	g := make([]float64, 14)
	for i := range g {
		g[i] = rng.NormFloat64()
	}
	want := p.adjointSolution(t, g)
	a := Adjoint[float64]{VJP: p.transposeApply, G: g, Batch: 2, Dim: 7}
	stop := Stop{Tol: 1e-12, Mode: Absolute, MaxIter: 300}
	for _, lin := range []LinearSolver{Picard{}, Anderson{Memory: 2}} {
		r := SolveAdjoint[float64](IFT{Solver: lin, Stop: stop}, a)
		if r.Status == Converged && maxAbsDiff(r.Z, want) > 1e-6 {
			t.Errorf("%s reports convergence to a wrong adjoint (off by %.3g)", lin.Name(), maxAbsDiff(r.Z, want))
		}
		if r.Status != Converged && r.Err() == nil {
			t.Errorf("%s: status %v without an error", lin.Name(), r.Status)
		}
	}
	if pic := SolveAdjoint[float64](IFT{Solver: Picard{}, Stop: stop}, a); pic.Status == Converged {
		t.Error("Picard converged on an expansive adjoint; the test problem is too easy")
	}
	r := SolveAdjoint[float64](IFT{Solver: GMRES{}, Stop: stop}, a)
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(r.Z, want); d > 1e-9 {
		t.Errorf("GMRES adjoint off by %.3g", d)
	}
}

// TestPhantomDefaults: a zero Phantom is 5 steps with damping 0.5, as
// documented, and computes what those settings compute.
func TestPhantomDefaults(t *testing.T) {
	if got := (Phantom{}).Resolved(); got != (Phantom{Steps: 5, Damping: 0.5}) {
		t.Fatalf("Phantom{} resolves to %+v, want 5 steps, damping 0.5", got)
	}
	rng := rand.New(rand.NewPCG(19, 20))
	p := newAffine(rng, 2, 5, 0.6)
	g := make([]float64, 10)
	for i := range g {
		g[i] = rng.NormFloat64()
	}
	a := Adjoint[float64]{VJP: p.transposeApply, G: g, Batch: 2, Dim: 5}
	def := SolveAdjoint[float64](Phantom{}, a)
	explicit := SolveAdjoint[float64](Phantom{Steps: 5, Damping: 0.5}, a)
	if def.Err() != nil || maxAbsDiff(def.Z, explicit.Z) != 0 || def.Stats.Iterations != 4 {
		t.Errorf("Phantom{} differs from Phantom{5, 0.5} (%v, %d VJPs)", def.Err(), def.Stats.Iterations)
	}
	if other := SolveAdjoint[float64](Phantom{Steps: 5, Damping: 0.8}, a); maxAbsDiff(other.Z, def.Z) < 1e-6 {
		t.Error("damping has no effect on the phantom gradient")
	}
}

// TestAndersonMixing: Anderson's first step, with one residual in its
// history, is z₁ = z₀ + β(F(z₀) − z₀) — Mixing is that β (zero meaning 1) —
// and β changes the whole solve.
func TestAndersonMixing(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	p := newAffine(rng, 2, 6, 0.5)
	fz0 := make([]float64, 12)
	if err := p.f64(fz0, make([]float64, 12)); err != nil {
		t.Fatal(err)
	}
	for _, beta := range []float64{0, 0.3, 0.7} {
		want := beta
		if beta == 0 {
			want = 1
		}
		// Two evaluations: F(z₀), then F(z₁); z₁ has the smaller residual
		// (a contraction), so it is the returned best iterate.
		r := Solve(Anderson{Mixing: beta}, Problem[float64]{F: p.f64, Batch: 2, Dim: 6}, Stop{Tol: Never, MaxIter: 2})
		for i, z := range r.Z {
			if math.Abs(z-want*fz0[i]) > 1e-15 {
				t.Fatalf("Mixing %v: z₁[%d] = %v, want %v·F(z₀) = %v", beta, i, z, want, want*fz0[i])
			}
		}
	}
	full := Solve(Anderson{}, Problem[float64]{F: p.f64, Batch: 2, Dim: 6}, Stop{Tol: 1e-10, MaxIter: 200})
	mixed := Solve(Anderson{Mixing: 0.5}, Problem[float64]{F: p.f64, Batch: 2, Dim: 6}, Stop{Tol: 1e-10, MaxIter: 200})
	if full.Err() != nil || mixed.Err() != nil || full.Stats.Iterations == mixed.Stats.Iterations {
		t.Errorf("Mixing 0.5 took the same %d iterations as Mixing 1 (%v, %v)", mixed.Stats.Iterations, full.Err(), mixed.Err())
	}
}
