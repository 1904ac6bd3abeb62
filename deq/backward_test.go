package deq

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestIFTSolvesTheAdjointSystem(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	p := newAffine(rng, 3, 9, 0.7)
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
