package deq

import (
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

func TestSolversFindAffineFixedPoint(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	p := newAffine(rng, 4, 12, 0.6)
	want := p.solution(t)
	for name, s := range solvers() {
		t.Run(name, func(t *testing.T) {
			r := Solve(s, Problem[float64]{F: p.f64, Batch: 4, Dim: 12}, Stop{Tol: 1e-12, Mode: Absolute, MaxIter: 500})
			if err := r.Err(); err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(r.Z, want); d > 1e-10 {
				t.Errorf("max |z − z*| = %.3g, want ≤ 1e-10", d)
			}
			if r.Stats.Solver == "" || len(r.Stats.Trace) != r.Stats.Iterations {
				t.Errorf("stats incomplete: %+v", r.Stats)
			}
		})
	}
}

func TestSolversFloat32Affine(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	p := newAffine(rng, 2, 6, 0.5)
	want := p.solution(t)
	for name, s := range solvers() {
		t.Run(name, func(t *testing.T) {
			r := Solve(s, Problem[float32]{F: p.f32, Batch: 2, Dim: 6}, Stop{Tol: 1e-6, MaxIter: 300})
			if err := r.Err(); err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(widen(r.Z), want); d > 1e-5 {
				t.Errorf("float32 solution off by %.3g", d)
			}
		})
	}
}

func TestSolversFloat32(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	m := newTanhMap(rng, 3, 16, 0.8)
	ref := Solve(Picard{}, Problem[float64]{F: m.f64, Batch: 3, Dim: 16}, Stop{Tol: 1e-13, MaxIter: 1000})
	if err := ref.Err(); err != nil {
		t.Fatal(err)
	}
	for name, s := range solvers() {
		t.Run(name, func(t *testing.T) {
			r := Solve(s, Problem[float32]{F: m.f32, Batch: 3, Dim: 16}, Stop{Tol: 1e-5, MaxIter: 500})
			if err := r.Err(); err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(widen(r.Z), ref.Z); d > 1e-4 {
				t.Errorf("float32 solution off by %.3g", d)
			}
		})
	}
}

func TestNonContractiveMapReportsStatus(t *testing.T) {
	// z = 2z + 1 has the fixed point −1 but iteration runs away from it.
	f := func(out, z []float64) error {
		for i := range z {
			out[i] = 2*z[i] + 1
		}
		return nil
	}
	r := Solve(Picard{}, Problem[float64]{F: f, Batch: 2, Dim: 3}, Stop{MaxIter: 100})
	if r.Status != Diverged && r.Status != MaxIterations {
		t.Fatalf("status %v, want diverged or max-iterations", r.Status)
	}
	err := r.Err()
	if err == nil || !strings.HasPrefix(err.Error(), "deq: ") || !strings.Contains(err.Error(), "contractive") {
		t.Fatalf("error %q should start with 'deq: ' and advise on contractivity", err)
	}
	// The best iterate is the start, where the residual was smallest.
	for _, v := range r.Z {
		if v != 0 {
			t.Fatalf("returned iterate %v, want the starting point (best residual)", r.Z)
		}
	}
}

func TestNonFiniteIsReportedNotPanicked(t *testing.T) {
	f := func(out, z []float64) error {
		for i := range z {
			out[i] = 0.5*z[i] + 1
		}
		return nil
	}
	z0 := []float64{0, 0, math.NaN(), 0}
	for name, s := range solvers() {
		t.Run(name, func(t *testing.T) {
			r := Solve(s, Problem[float64]{F: f, Batch: 2, Dim: 2, Z0: z0}, Stop{Tol: 1e-10, MaxIter: 200})
			if r.Status != NonFinite {
				t.Fatalf("status %v, want non-finite", r.Status)
			}
			if r.Stats.SampleStatus[0] != Converged || r.Stats.SampleStatus[1] != NonFinite {
				t.Errorf("per-sample status %v, want [converged non-finite]", r.Stats.SampleStatus)
			}
			if !math.IsNaN(r.Z[2]) || math.Abs(r.Z[0]-2) > 1e-9 {
				t.Errorf("Z = %v: the healthy sample should converge to 2, the broken one stay NaN", r.Z)
			}
			if err := r.Err(); err == nil || !strings.Contains(err.Error(), "NaN") {
				t.Errorf("error %v should mention NaN", err)
			}
		})
	}
}

func TestMapErrorFails(t *testing.T) {
	boom := errors.New("boom")
	f := func(out, z []float64) error { return boom }
	for name, s := range solvers() {
		t.Run(name, func(t *testing.T) {
			r := Solve(s, Problem[float64]{F: f, Batch: 1, Dim: 1}, Stop{})
			if r.Status != Failed || !errors.Is(r.Err(), boom) {
				t.Fatalf("status %v err %v, want failed wrapping boom", r.Status, r.Err())
			}
		})
	}
}

func TestInvalidInput(t *testing.T) {
	f := func(out, z []float64) error { return nil }
	cases := map[string]struct {
		s    Solver
		p    Problem[float64]
		stop Stop
		want string
	}{
		"no map":       {Picard{}, Problem[float64]{Batch: 1, Dim: 1}, Stop{}, "no map"},
		"zero batch":   {Picard{}, Problem[float64]{F: f, Dim: 1}, Stop{}, "must be positive"},
		"bad z0":       {Picard{}, Problem[float64]{F: f, Batch: 1, Dim: 2, Z0: []float64{1}}, Stop{}, "Z0 has 1 values"},
		"nan tol":      {Picard{}, Problem[float64]{F: f, Batch: 1, Dim: 1}, Stop{Tol: math.NaN()}, "Tol"},
		"bad damping":  {Picard{Damping: 1.5}, Problem[float64]{F: f, Batch: 1, Dim: 1}, Stop{}, "Damping"},
		"bad memory":   {Anderson{Memory: -1}, Problem[float64]{F: f, Batch: 1, Dim: 1}, Stop{}, "Memory"},
		"bad mixing":   {Anderson{Mixing: 2}, Problem[float64]{F: f, Batch: 1, Dim: 1}, Stop{}, "Mixing"},
		"bad broyden":  {Broyden{Memory: -3}, Problem[float64]{F: f, Batch: 1, Dim: 1}, Stop{}, "Memory"},
		"neg max iter": {Picard{}, Problem[float64]{F: f, Batch: 1, Dim: 1}, Stop{MaxIter: -1}, "MaxIter"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := Solve(c.s, c.p, c.stop)
			if r.Status != Failed || r.Err() == nil || !strings.Contains(r.Err().Error(), c.want) {
				t.Fatalf("got status %v err %v, want failure mentioning %q", r.Status, r.Err(), c.want)
			}
		})
	}
}

func TestPerSampleStoppingAndBestIterate(t *testing.T) {
	// Sample 0 contracts by 0.1 per step, sample 1 by 0.9.
	rates := []float64{0.1, 0.9}
	f := func(out, z []float64) error {
		for s, r := range rates {
			out[s] = r*z[s] + 1
		}
		return nil
	}
	r := Solve(Picard{}, Problem[float64]{F: f, Batch: 2, Dim: 1}, Stop{Tol: 1e-8, Mode: Absolute, MaxIter: 1000})
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	it := r.Stats.SampleIterations
	if !(it[0] < 12 && it[1] > 100) {
		t.Fatalf("sample iterations %v: the fast sample should stop early and the slow one late", it)
	}
	for s, rate := range rates {
		if want := 1 / (1 - rate); math.Abs(r.Z[s]-want) > 1e-7 {
			t.Errorf("sample %d: z = %v, want %v", s, r.Z[s], want)
		}
		if r.Stats.Residual[s] > 1e-8 {
			t.Errorf("sample %d: residual %v above tol", s, r.Stats.Residual[s])
		}
	}
}

func TestNeverRunsToMaxIter(t *testing.T) {
	f := func(out, z []float64) error {
		for i := range z {
			out[i] = 0.5 * z[i]
		}
		return nil
	}
	for name, s := range solvers() {
		t.Run(name, func(t *testing.T) {
			r := Solve(s, Problem[float64]{F: f, Batch: 2, Dim: 3, Z0: []float64{1, 2, 3, 4, 5, 6}}, Stop{Tol: Never, MaxIter: 37})
			if r.Stats.Iterations != 37 || r.Status != MaxIterations {
				t.Fatalf("ran %d iterations with status %v, want 37 and max-iterations", r.Stats.Iterations, r.Status)
			}
		})
	}
}

// TestAndersonBeatsPicard: on a contractive
// problem with spectral radius 0.95, Anderson needs at least 2x fewer
// iterations than Picard.
func TestAndersonBeatsPicard(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	p := newSymmetricAffine(rng, 8, 64, 0.95) // a contraction factor of exactly 0.95
	stop := Stop{Tol: 1e-8, MaxIter: 5000}
	pic := Solve(Picard{}, Problem[float64]{F: p.f64, Batch: 8, Dim: 64}, stop)
	and := Solve(Anderson{}, Problem[float64]{F: p.f64, Batch: 8, Dim: 64}, stop)
	bro := Solve(Broyden{}, Problem[float64]{F: p.f64, Batch: 8, Dim: 64}, stop)
	for _, r := range []Result[float64]{pic, and, bro} {
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("iterations to relative residual 1e-8 at spectral radius 0.95: picard %d, anderson %d, broyden %d",
		pic.Stats.Iterations, and.Stats.Iterations, bro.Stats.Iterations)
	if 2*and.Stats.Iterations > pic.Stats.Iterations {
		t.Errorf("anderson %d iterations, picard %d: want at least 2x fewer", and.Stats.Iterations, pic.Stats.Iterations)
	}
}

func TestAndersonRecoversFromSingularSystem(t *testing.T) {
	// In one dimension every residual is collinear, so the Gram matrix of
	// two or more residuals is singular; with a negligible ridge the
	// Cholesky factorisation fails and Anderson must fall back.
	f := func(out, z []float64) error {
		for i := range z {
			out[i] = 0.5 * math.Cos(z[i])
		}
		return nil
	}
	r := Solve(Anderson{Memory: 5, Ridge: 1e-300}, Problem[float64]{F: f, Batch: 3, Dim: 1}, Stop{Tol: 1e-12, MaxIter: 200})
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	for _, z := range r.Z {
		if math.Abs(z-0.5*math.Cos(z)) > 1e-11 {
			t.Fatalf("z = %v is not a fixed point", z)
		}
	}
}

func TestIterate(t *testing.T) {
	f := func(out, z []float64) error {
		for i := range z {
			out[i] = z[i]/2 + 1
		}
		return nil
	}
	for k, want := range []float64{0, 1, 1.5, 1.75} {
		r := Iterate(Problem[float64]{F: f, Batch: 1, Dim: 1}, k)
		if r.Z[0] != want || r.Stats.Iterations != k {
			t.Errorf("k=%d: z=%v after %d iterations, want %v", k, r.Z[0], r.Stats.Iterations, want)
		}
	}
	if r := Iterate(Problem[float64]{F: f, Batch: 1, Dim: 1}, -1); r.Status != Failed {
		t.Errorf("negative k gave %v, want failed", r.Status)
	}
}

// TestGMRESSolvesNonContractiveLinearSystems: on non-normal,
// non-symmetric systems with spectral radius 1.5, where fixed-point
// iteration diverges, GMRES — full, and restarted every 8 steps — reaches
// the exact solution; restarted every 3 steps it reaches it on a
// contractive non-symmetric system (on the expansive one GMRES(3) to (6)
// stagnate, as restarted GMRES can on non-normal systems). An Arnoldi
// process cut down to a Lanczos recurrence (exact only for symmetric
// matrices) fails here.
func TestGMRESSolvesNonContractiveLinearSystems(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	p := newExpansiveAffine(t, rng, 3, 10, 1.5)
	if a := p.asymmetry(); a < 0.5 {
		t.Fatalf("test matrices are nearly symmetric (%.2g)", a)
	}
	q := newAffine(rng, 3, 10, 0.9)
	for _, c := range []struct {
		name    string
		p       *affine
		solver  GMRES
		maxIter int
		tol     float64
	}{
		{"full", p, GMRES{}, 200, 1e-9},
		{"restart-8", p, GMRES{Restart: 8}, 2000, 1e-9},
		{"contractive restart-3", q, GMRES{Restart: 3}, 2000, 1e-9},
	} {
		want := c.p.solution(t)
		r := SolveLinear(c.solver, c.p.linear(c.p.b), Stop{Tol: 1e-12, Mode: Absolute, MaxIter: c.maxIter})
		if err := r.Err(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if d := maxAbsDiff(r.Z, want); !(d < c.tol) {
			t.Errorf("%s: GMRES solution off by %.3g", c.name, d)
		}
	}
	if pic := SolveLinear(Picard{}, p.linear(p.b), Stop{Tol: 1e-12, MaxIter: 200}); pic.Status == Converged || pic.Err() == nil {
		t.Errorf("Picard converged on a non-contractive system; the test problem is too easy")
	}
}

// TestGMRESFloat32 solves a non-symmetric system in float32.
func TestGMRESFloat32(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for name, p := range map[string]*affine{"contractive": newAffine(rng, 2, 8, 0.9), "expansive": newExpansiveAffine(t, rng, 2, 8, 1.2)} {
		want := p.solution(t)
		lin64 := p.linear(p.b)
		b32 := make([]float32, len(p.b))
		for i, v := range p.b {
			b32[i] = float32(v)
		}
		lin := Linear[float32]{Apply: func(out, v []float32) error {
			o := make([]float64, len(out))
			if err := lin64.Apply(o, widen(v)); err != nil {
				return err
			}
			for i := range out {
				out[i] = float32(o[i])
			}
			return nil
		}, G: b32, Batch: 2, Dim: 8}
		r := SolveLinear(GMRES{}, lin, Stop{Tol: 1e-6, MaxIter: 100})
		if err := r.Err(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d := maxAbsDiff(widen(r.Z), want); d > 1e-4 {
			t.Errorf("%s: float32 GMRES off by %.3g", name, d)
		}
	}
}

// TestHugeMaxIterAllocatesLittle: a Stop whose MaxIter is effectively
// unbounded (a solve a deadline ends) costs no more memory than the
// iterations it does. The tracker once reserved MaxIter trace values up
// front — 8 GiB for 1<<30 — and the anytime test of the layers package
// ran out of its deadline on the page faults now and then.
func TestHugeMaxIterAllocatesLittle(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	p := newAffine(rng, 4, 12, 0.6)
	for name, s := range solvers() {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			r := Solve(s, Problem[float64]{F: p.f64, Batch: 4, Dim: 12}, Stop{Tol: 1e-10, Mode: Absolute, MaxIter: 1 << 30})
			runtime.ReadMemStats(&after)
			if err := r.Err(); err != nil {
				t.Fatal(err)
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
				t.Errorf("a solve of %d iterations allocated %d bytes", r.Stats.Iterations, got)
			}
		})
	}
}
