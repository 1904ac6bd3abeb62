package datasets

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

var _ trainDataset = (*DarcySet)(nil)

// manufactured is a smooth problem with a known solution: u vanishes on
// the boundary and f = −∇·(a∇u) = −(a_x u_x + a_y u_y) + 5π² a u.
type manufactured struct{}

func (manufactured) a(x, y float64) float64 { return 2 + math.Sin(math.Pi*x)*math.Cos(math.Pi*y) }

func (manufactured) u(x, y float64) float64 { return math.Sin(math.Pi*x) * math.Sin(2*math.Pi*y) }

func (m manufactured) f(x, y float64) float64 {
	pi := math.Pi
	ax := pi * math.Cos(pi*x) * math.Cos(pi*y)
	ay := -pi * math.Sin(pi*x) * math.Sin(pi*y)
	ux := pi * math.Cos(pi*x) * math.Sin(2*pi*y)
	uy := 2 * pi * math.Sin(pi*x) * math.Cos(2*pi*y)
	return -(ax*ux + ay*uy) + 5*pi*pi*m.a(x, y)*m.u(x, y)
}

// onGrid evaluates g on the s×s nodes (i·h, j·h).
func onGrid(s int, g func(x, y float64) float64) []float64 {
	h := 1 / float64(s-1)
	v := make([]float64, s*s)
	for i := range s {
		for j := range s {
			v[i*s+j] = g(float64(i)*h, float64(j)*h)
		}
	}
	return v
}

// darcyResidual returns ‖h²f − Au‖/‖h²f‖ over the interior, with the
// operator written out from its documentation rather than taken from the
// solver.
func darcyResidual(a, f, u []float64, s int) float64 {
	h2 := 1 / float64((s-1)*(s-1))
	hm := func(p, q float64) float64 { return 2 * p * q / (p + q) }
	var rr, bb float64
	for i := 1; i < s-1; i++ {
		for j := 1; j < s-1; j++ {
			k := i*s + j
			au := 0.0
			for _, nb := range []int{k - s, k + s, k - 1, k + 1} {
				au += hm(a[k], a[nb]) * (u[k] - u[nb])
			}
			b := h2 * f[k]
			rr += (b - au) * (b - au)
			bb += b * b
		}
	}
	return math.Sqrt(rr / bb)
}

func TestSolveDarcyConvergence(t *testing.T) {
	var m manufactured
	sizes := []int{16, 32, 64}
	errs := make([]float64, len(sizes))
	for n, s := range sizes {
		a, f, want := onGrid(s, m.a), onGrid(s, m.f), onGrid(s, m.u)
		u, iters, err := SolveDarcy(a, f, s, 1e-10)
		if err != nil {
			t.Fatalf("s = %d: %v", s, err)
		}
		if r := darcyResidual(a, f, u, s); r > 1e-10 {
			t.Errorf("s = %d: relative residual %.2e > 1e-10", s, r)
		}
		for k := range u {
			errs[n] = max(errs[n], math.Abs(u[k]-want[k]))
		}
		t.Logf("s = %d: max error %.3e after %d iterations", s, errs[n], iters)
	}
	for n := 1; n < len(sizes); n++ {
		// Orders from h = 1/(s−1), not 1/s: the nodes include the boundary.
		hRatio := float64(sizes[n]-1) / float64(sizes[n-1]-1)
		order := math.Log(errs[n-1]/errs[n]) / math.Log(hRatio)
		t.Logf("order from s = %d to %d: %.3f", sizes[n-1], sizes[n], order)
		if order < 1.8 || order > 2.2 {
			t.Errorf("order from s = %d to %d is %.3f; the scheme should be second-order", sizes[n-1], sizes[n], order)
		}
	}
}

func TestSolveDarcyJump(t *testing.T) {
	// A rough two-valued coefficient: CG must still reach the tolerance,
	// checked against an independent residual.
	const s = 33
	a, err := SampleDarcyCoefficient(DarcyConfig{S: s}, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	f := onGrid(s, func(x, y float64) float64 { return 1 + x - y })
	u, iters, err := SolveDarcy(a, f, s, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r := darcyResidual(a, f, u, s); r > 1e-10 || iters == 0 {
		t.Errorf("relative residual %.2e after %d iterations; want ≤ 1e-10", r, iters)
	}
}

func TestSolveDarcyZeroRHS(t *testing.T) {
	const s = 5
	u, iters, err := SolveDarcy(onGrid(s, func(x, y float64) float64 { return 1 }), make([]float64, s*s), s, 0)
	if err != nil || iters != 0 || slices.ContainsFunc(u, func(v float64) bool { return v != 0 }) {
		t.Errorf("f = 0 gave u = %v, %d iterations, %v; want zero at once", u, iters, err)
	}
}

func TestSolveDarcyErrors(t *testing.T) {
	const s = 8
	ones := func() []float64 { return onGrid(s, func(x, y float64) float64 { return 1 }) }
	with := func(k int, v float64) []float64 { x := ones(); x[k] = v; return x }
	for _, c := range []struct {
		name   string
		solver DarcyCG
		a, f   []float64
		s      int
		want   string
	}{
		{"budget", DarcyCG{MaxIter: 1}, ones(), ones(), s, "1 iterations reached"},
		{"zero coefficient", DarcyCG{}, with(9, 0), ones(), s, "a[9] (node 1, 1) = 0"},
		{"negative boundary coefficient", DarcyCG{}, with(0, -3), ones(), s, "a[0] (node 0, 0) = -3"},
		{"NaN coefficient", DarcyCG{}, with(20, math.NaN()), ones(), s, "positive and finite"},
		{"infinite f", DarcyCG{}, ones(), with(20, math.Inf(1)), s, "f must be finite"},
		{"short f", DarcyCG{}, ones(), ones()[1:], s, "must hold s² = 64"},
		{"tiny grid", DarcyCG{}, []float64{1, 1, 1, 1}, []float64{1, 1, 1, 1}, 2, "want 3 to"},
		{"tolerance 1", DarcyCG{Tol: 1}, ones(), ones(), s, "tolerance 1"},
		{"negative tolerance", DarcyCG{Tol: -1e-8}, ones(), ones(), s, "tolerance -1e-08"},
		{"negative MaxIter", DarcyCG{MaxIter: -1}, ones(), ones(), s, "MaxIter = -1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			u, _, err := c.solver.Solve(c.a, c.f, c.s)
			if err == nil || u != nil {
				t.Fatalf("got u = %v, err = nil; want an error", u)
			}
			if !strings.HasPrefix(err.Error(), "datasets: ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q; want it to start with \"datasets: \" and say %q", err, c.want)
			}
		})
	}
}

func TestSampleDarcyCoefficient(t *testing.T) {
	cfg := DarcyConfig{}
	const n = 50
	both, frac := 0, 0.0
	for k := range uint64(n) {
		a, err := SampleDarcyCoefficient(cfg, rand.New(rand.NewPCG(3, k)))
		if err != nil {
			t.Fatal(err)
		}
		if len(a) != 32*32 {
			t.Fatalf("%d values; want 32² by default", len(a))
		}
		high := 0
		for _, v := range a {
			switch v {
			case 12:
				high++
			case 3:
			default:
				t.Fatalf("sample %d holds %g; want only 12 and 3", k, v)
			}
		}
		if high > 0 && high < len(a) {
			both++
		}
		frac += float64(high) / float64(len(a)) / n
	}
	// The field has mean zero, so each value covers half the square on
	// average; a sample of one value is rare (its lowest modes dominate).
	if both < n*9/10 || frac < 0.35 || frac > 0.65 {
		t.Errorf("%d of %d samples hold both values, 12 covers %.2f; want ≥ 90%% and about half", both, n, frac)
	}
}

// interfaceFraction is the share of neighbouring node pairs where a
// jumps, averaged over samples: a measure of how fine the features are.
func interfaceFraction(t *testing.T, cfg DarcyConfig, samples int) float64 {
	t.Helper()
	s := cfg.S
	var jumps, pairs int
	for k := range uint64(samples) {
		a, err := SampleDarcyCoefficient(cfg, rand.New(rand.NewPCG(5, k)))
		if err != nil {
			t.Fatal(err)
		}
		for i := range s {
			for j := range s {
				if i+1 < s {
					pairs++
					if a[i*s+j] != a[(i+1)*s+j] {
						jumps++
					}
				}
				if j+1 < s {
					pairs++
					if a[i*s+j] != a[i*s+j+1] {
						jumps++
					}
				}
			}
		}
	}
	return float64(jumps) / float64(pairs)
}

func TestDarcyTauScale(t *testing.T) {
	// Larger τ flattens the spectrum up to |k| ≈ τ/π: finer features,
	// more interfaces. A sanity check of the spectrum, not a statistical test.
	var prev float64
	for _, tau := range []float64{3, 10, 30} {
		got := interfaceFraction(t, DarcyConfig{S: 32, Tau: tau}, 20)
		t.Logf("τ = %g: %.3f of neighbour pairs differ", tau, got)
		if got <= prev*1.2 {
			t.Errorf("τ = %g: interface fraction %.3f not clearly above %.3f of the smaller τ", tau, got, prev)
		}
		prev = got
	}
}

func TestDarcyConfigErrors(t *testing.T) {
	for _, c := range []struct {
		cfg  DarcyConfig
		want string
	}{
		{DarcyConfig{S: 2}, "S = 2"},
		{DarcyConfig{S: -1}, "S = -1"},
		{DarcyConfig{Low: -3}, "Low = -3"},
		{DarcyConfig{High: math.Inf(1)}, "High = +Inf"},
		{DarcyConfig{Tau: math.NaN()}, "Tau = NaN"},
		{DarcyConfig{Alpha: -2}, "Alpha = -2"},
		{DarcyConfig{Modes: -1}, "Modes = -1"},
		{DarcyConfig{Tol: 2}, "Tol = 2"},
	} {
		t.Run(c.want, func(t *testing.T) {
			_, err := SampleDarcyCoefficient(c.cfg, rand.New(rand.NewPCG(1, 1)))
			if err == nil || !strings.HasPrefix(err.Error(), "datasets: ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("SampleDarcyCoefficient: %v; want an error saying %q", err, c.want)
			}
			if _, err := GenerateDarcy(c.cfg, 1, 1); err == nil {
				t.Errorf("GenerateDarcy accepted %+v", c.cfg)
			}
		})
	}
	if _, err := SampleDarcyCoefficient(DarcyConfig{}, nil); err == nil {
		t.Error("nil rng accepted")
	}
	if _, err := GenerateDarcy(DarcyConfig{}, 1, -1); err == nil {
		t.Error("n = -1 accepted")
	}
}

func TestDarcySolutionsPositive(t *testing.T) {
	d, err := GenerateDarcy(DarcyConfig{}, 11, 4)
	if err != nil {
		t.Fatal(err)
	}
	s := d.S
	for k := range d.N {
		u := d.U[k*s*s : (k+1)*s*s]
		for i := range s {
			for j := range s {
				v := u[i*s+j]
				boundary := i == 0 || j == 0 || i == s-1 || j == s-1
				if boundary && v != 0 || !boundary && !(v > 0) {
					t.Fatalf("sample %d: u(%d, %d) = %g; want 0 on the boundary and > 0 inside (maximum principle)", k, i, j, v)
				}
			}
		}
	}
}

func TestGenerateDarcyDeterministic(t *testing.T) {
	cfg := DarcyConfig{S: 16}
	d5, err := GenerateDarcy(cfg, 7, 5)
	if err != nil {
		t.Fatal(err)
	}
	// One worker instead of all: the same samples.
	procs := runtime.GOMAXPROCS(1)
	d3, err := GenerateDarcy(cfg, 7, 3)
	runtime.GOMAXPROCS(procs)
	if err != nil {
		t.Fatal(err)
	}
	p := 16 * 16
	if !slices.Equal(d3.A, d5.A[:3*p]) || !slices.Equal(d3.U, d5.U[:3*p]) {
		t.Error("the first 3 of 5 samples differ from a set of 3: sample k must depend on (seed, k) only")
	}
	again, err := GenerateDarcy(cfg, 7, 5)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again.A, d5.A) || !slices.Equal(again.U, d5.U) {
		t.Error("the same seed gave different sets")
	}
	other, err := GenerateDarcy(cfg, 8, 5)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(other.A, d5.A) {
		t.Error("seeds 7 and 8 gave the same coefficients")
	}
}

func TestLoadDarcyCache(t *testing.T) {
	dir := t.TempDir()
	cfg := DarcyConfig{S: 16}
	want, err := GenerateDarcy(cfg, 9, 3)
	if err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, d *DarcySet) {
		t.Helper()
		if d.S != 16 || d.N != 3 || !slices.Equal(d.A, want.A) || !slices.Equal(d.U, want.U) {
			t.Error("loaded set differs from the generated one")
		}
	}
	d, err := LoadDarcy(dir, cfg, 9, 3)
	if err != nil {
		t.Fatal(err)
	}
	check(t, d)
	files, _ := filepath.Glob(filepath.Join(dir, "darcy-*"))
	if len(files) != 1 {
		t.Fatalf("cache holds %v; want one file", files)
	}
	path := files[0]
	for _, part := range []string{"v1", "s16", "seed9", "n3"} {
		if !strings.Contains(filepath.Base(path), part) {
			t.Errorf("file name %s lacks %q", filepath.Base(path), part)
		}
	}
	rcfg, _ := cfg.resolved()
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := readDarcyFile(path, rcfg, 9, 0, 3); err != nil {
		t.Fatalf("the file just written does not read back: %v", err)
	} else {
		check(t, d)
	}

	// A file for other settings, with a valid checksum, under this name.
	foreign, err := GenerateDarcy(DarcyConfig{S: 16, High: 10}, 9, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"flipped bit", func() []byte { b := slices.Clone(good); b[len(b)/2] ^= 1; return b }()},
		{"truncated", good[:len(good)-1]},
		{"empty", nil},
		{"other settings", encodeDarcy(foreign)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := os.WriteFile(path, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := readDarcyFile(path, rcfg, 9, 0, 3); err == nil {
				t.Fatal("a bad file was accepted")
			}
			d, err := LoadDarcy(dir, cfg, 9, 3)
			if err != nil {
				t.Fatal(err)
			}
			check(t, d)
			if b, _ := os.ReadFile(path); !slices.Equal(b, good) {
				t.Error("the bad file was not replaced by a good one")
			}
		})
	}
}

func TestDarcySplits(t *testing.T) {
	dir := t.TempDir()
	cfg := DarcyConfig{S: 12}
	train, test, err := DarcySplits(dir, cfg, 4, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 3 || test.Len() != 2 || test.First != DarcyTestFirst {
		t.Fatalf("splits of %d and %d from %d; want 3 and 2 from DarcyTestFirst", train.Len(), test.Len(), test.First)
	}
	if !slices.Equal(train.InputShape(), []int{1, 12, 12}) || !slices.Equal(test.TargetShape(), []int{1, 12, 12}) {
		t.Errorf("shapes %v, %v; want {1, S, S}", train.InputShape(), test.TargetShape())
	}
	p := 12 * 12
	for i := range train.N {
		for j := range test.N {
			if slices.Equal(train.A[i*p:(i+1)*p], test.A[j*p:(j+1)*p]) {
				t.Errorf("train sample %d equals test sample %d", i, j)
			}
		}
	}
	_, test2, err := DarcySplits(dir, cfg, 4, 5, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(test.A, test2.A) || !slices.Equal(test.U, test2.U) {
		t.Error("the test set changed with the size of the training set")
	}
}

func TestDarcyNorm(t *testing.T) {
	d, err := GenerateDarcy(DarcyConfig{S: 12}, 2, 4)
	if err != nil {
		t.Fatal(err)
	}
	nm := d.Norm()
	if !(nm.AMean > 3 && nm.AMean < 12 && nm.AStd > 0 && nm.UMean > 0 && nm.UStd > 0) {
		t.Fatalf("implausible statistics %+v", nm)
	}
	z := d.Normalized(nm)
	zn := z.Norm()
	for _, v := range []struct {
		name      string
		got, want float32
	}{{"A mean", zn.AMean, 0}, {"A std", zn.AStd, 1}, {"U mean", zn.UMean, 0}, {"U std", zn.UStd, 1}} {
		if math.Abs(float64(v.got-v.want)) > 1e-5 {
			t.Errorf("normalised %s = %g; want %g", v.name, v.got, v.want)
		}
	}
	if d.A[0] != 3 && d.A[0] != 12 {
		t.Error("Normalized changed the original")
	}
	x, y := make([]float32, 144), make([]float32, 144)
	z.Sample(3, x, y)
	nm.DenormalizeTarget(y)
	for i, v := range y {
		if math.Abs(float64(v-d.U[3*144+i])) > 1e-6 {
			t.Fatalf("DenormalizeTarget(Normalized) at %d: %g; want %g", i, v, d.U[3*144+i])
		}
	}
	if nm := (&DarcySet{}).Norm(); nm != (DarcyNorm{0, 1, 0, 1}) {
		t.Errorf("empty set statistics %+v; want means 0, deviations 1", nm)
	}
}

// BenchmarkGenerateDarcy32 measures generation at the default size on
// all cores; samples/s = 1e9/(ns/op)·100.
func BenchmarkGenerateDarcy32(b *testing.B) { benchmarkGenerateDarcy(b, 32) }

func BenchmarkGenerateDarcy64(b *testing.B) { benchmarkGenerateDarcy(b, 64) }

func benchmarkGenerateDarcy(b *testing.B, s int) {
	const n = 100
	for b.Loop() {
		if _, err := GenerateDarcy(DarcyConfig{S: s}, 1, n); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "samples/s")
}

func TestDarcyModesTruncate(t *testing.T) {
	// Shell-by-shell draws: fewer modes give the truncation of the same
	// field, so the two agree up to its small spectral tail.
	const s = 32
	coarse, fine := make([]float64, s*s), make([]float64, s*s)
	newDarcyGRF(DarcyConfig{S: s, Tau: 3, Alpha: 2, Modes: 8}).field(coarse, rand.New(rand.NewPCG(6, 0)))
	newDarcyGRF(DarcyConfig{S: s, Tau: 3, Alpha: 2, Modes: s}).field(fine, rand.New(rand.NewPCG(6, 0)))
	var diff, norm float64
	for k := range fine {
		diff += (fine[k] - coarse[k]) * (fine[k] - coarse[k])
		norm += fine[k] * fine[k]
	}
	r := math.Sqrt(diff / norm)
	t.Logf("relative difference %.4f", r)
	if r > 0.2 || r == 0 {
		t.Errorf("8 modes differ from %d by %.3f of the field; want a small, non-zero tail", s, r)
	}
}
