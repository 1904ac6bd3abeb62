package datasets

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestLPDeterminism(t *testing.T) {
	a, sa, err := GenerateLPs(LPConfig{}, 1, 20)
	if err != nil {
		t.Fatal(err)
	}
	b, sb, _ := GenerateLPs(LPConfig{M: 10, N: 50, NNZ: 100, PEq: 0.3, CScale: 0.01, BoundStd: 10}, 1, 20)
	if !reflect.DeepEqual(a, b) || sa != sb {
		t.Fatal("same seed, zero and explicit paper config: different instances")
	}
	// One goroutine must give what GOMAXPROCS of them give.
	procs := runtime.GOMAXPROCS(1)
	c, _, _ := GenerateLPs(LPConfig{}, 1, 20)
	runtime.GOMAXPROCS(procs)
	if !reflect.DeepEqual(a, c) {
		t.Fatal("instances depend on the number of goroutines")
	}
	long, _, _ := GenerateLPs(LPConfig{}, 1, 35)
	if !reflect.DeepEqual(a, long[:20]) {
		t.Fatal("instance k changes with n")
	}
	other, _, _ := GenerateLPs(LPConfig{}, 2, 20)
	for k := range other {
		if reflect.DeepEqual(other[k].Vals, a[k].Vals) {
			t.Fatalf("seeds 1 and 2 give the same instance %d", k)
		}
	}
	// Draw k is its own stream: the same (seed, k) gives the same draw.
	cfg, _ := LPConfig{}.withDefaults()
	p := drawLP(cfg, 1, a[3].Index)
	if !reflect.DeepEqual(p.Vals, a[3].Vals) || !reflect.DeepEqual(p.L, a[3].L) {
		t.Fatal("drawLP(seed, Index) does not reproduce the instance")
	}
}

func TestGenerateLPsVerified(t *testing.T) {
	const n = 150
	lps, st, err := GenerateLPs(LPConfig{}, 7, n)
	if err != nil {
		t.Fatal(err)
	}
	if len(lps) != n || st.Kept != n || st.Drawn != st.Kept+st.Rejected() || lps[n-1].Index != st.Drawn-1 {
		t.Fatalf("%d instances, stats %v, last index %d", len(lps), st, lps[n-1].Index)
	}
	// With the paper's config about 4 in 10 draws are infeasible (HiGHS,
	// run on the same draws during development, agreed on every one).
	if st.Infeasible == 0 || st.Unverified+st.SolverFailed+st.Unbounded > n/50 {
		t.Errorf("unexpected rejections: %v", st)
	}
	for i := range lps {
		p := &lps[i]
		if err := VerifyLP(p, 0); err != nil {
			t.Fatal(err)
		}
		eq, nnz := 0, map[[2]int]bool{}
		for k := range p.Vals {
			nnz[[2]int{p.Rows[k], p.Cols[k]}] = true
		}
		for _, e := range p.Eq {
			if e {
				eq++
			}
		}
		if p.M != 10 || p.N != 50 || len(nnz) != 100 || i > 0 && p.Index <= lps[i-1].Index {
			t.Fatalf("instance %d: %d×%d with %d distinct nonzeros, index %d", i, p.M, p.N, len(nnz), p.Index)
		}
		// VerifyLP's fallback certificate, the dual LP, must close the gap
		// on its own too.
		if i < 20 {
			mu, err := dualLPMultipliers(p)
			if err != nil {
				t.Fatal(err)
			}
			if gap := p.Objective - dualBound(p, mu); math.Abs(gap) > 1e-9 {
				t.Fatalf("instance %d: dual LP gap %g", i, gap)
			}
		}
	}
}

// solvedLP builds a small LP from a dense A and solves it.
func solvedLP(a [][]float64, b []float64, eq []bool, c, l, u []float64) (*LP, error) {
	p := &LP{M: len(a), N: len(c), B: b, Eq: eq, C: c, L: l, U: u}
	for i, row := range a {
		for j, v := range row {
			if v != 0 {
				p.Rows, p.Cols, p.Vals = append(p.Rows, i), append(p.Cols, j), append(p.Vals, v)
			}
		}
	}
	return p, solveDraw(p)
}

func TestLPStandardForm(t *testing.T) {
	for _, tc := range []struct {
		name      string
		a         [][]float64
		b         []float64
		eq        []bool
		c, l, u   []float64
		want      []float64 // nil when rejected
		wantErr   error
		objective float64
	}{{
		// The cost pushes y1 to its upper bound, then y0 fills the row.
		name: "binding upper bound",
		a:    [][]float64{{1, 1}}, b: []float64{1.5}, eq: []bool{false},
		c: []float64{-1, -2}, l: []float64{0, 0}, u: []float64{1, 1},
		want: []float64{0.5, 1}, objective: -2.5,
	}, {
		// Negative bounds exercise the shift y = L + x′.
		name: "equality row",
		a:    [][]float64{{1, -1}}, b: []float64{1}, eq: []bool{true},
		c: []float64{1, 1}, l: []float64{-5, -5}, u: []float64{5, 5},
		want: []float64{-4, -5}, objective: -9,
	}, {
		// y2 is in no row (presolve fixes it at U for c < 0) and row 1 is
		// empty but holds (left out).
		name: "presolved variable and row",
		a:    [][]float64{{1, 1, 0}, {0, 0, 0}}, b: []float64{1, 0.5}, eq: []bool{false, false},
		c: []float64{-1, 0.5, -0.1}, l: []float64{0, -1, 2}, u: []float64{3, 3, 4},
		want: []float64{2, -1, 4}, objective: -2.9,
	}, {
		name: "row outside its range in the box",
		a:    [][]float64{{1, 1}}, b: []float64{10}, eq: []bool{true},
		c: []float64{1, 1}, l: []float64{0, 0}, u: []float64{1, 1},
		wantErr: errLPInfeasible,
	}, {
		name: "empty equality row",
		a:    [][]float64{{1, 1}, {0, 0}}, b: []float64{1, 0.5}, eq: []bool{false, true},
		c: []float64{1, 1}, l: []float64{0, 0}, u: []float64{1, 1},
		wantErr: errLPInfeasible,
	}, {
		// Each row alone can hold in the box; together they cannot, so
		// the solver's phase I has to find out.
		name: "jointly infeasible rows",
		a:    [][]float64{{1, -1}, {-1, 1}}, b: []float64{-1, -1}, eq: []bool{false, false},
		c: []float64{1, 1}, l: []float64{0, 0}, u: []float64{2, 2},
		wantErr: errLPInfeasible,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := solvedLP(tc.a, tc.b, tc.eq, tc.c, tc.l, tc.u)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for j, v := range tc.want {
				if math.Abs(p.Y[j]-v) > 1e-12 {
					t.Fatalf("y = %v, want %v", p.Y, tc.want)
				}
			}
			if math.Abs(p.Objective-tc.objective) > 1e-12 {
				t.Fatalf("objective %v, want %v", p.Objective, tc.objective)
			}
		})
	}
}

// The bounds make every instance bounded, so the unbounded path is tested
// on a standard-form problem: minimise −x0 with x0 = x1, x ≥ 0.
func TestLPSolverReasons(t *testing.T) {
	s := lpStandard{a: mat.NewDense(1, 2, []float64{1, -1}), b: []float64{0}, c: []float64{-1, 0}}
	if _, err := solveStandard(s); !errors.Is(err, errLPUnbounded) {
		t.Fatalf("got %v, want unbounded", err)
	}
	var st LPStats
	for _, err := range []error{nil, nil, errLPInfeasible, fmt.Errorf("%w: row 2", errLPInfeasible),
		errLPUnbounded, fmt.Errorf("%w: gap", errLPUnverified), errors.New("lp: A is singular")} {
		st.count(err)
	}
	want := LPStats{Drawn: 7, Kept: 2, Infeasible: 2, Unbounded: 1, Unverified: 1, SolverFailed: 1}
	if st != want || st.Rejected() != 5 {
		t.Fatalf("stats %v, want %v", st, want)
	}
}

func TestVerifyLPRejects(t *testing.T) {
	lps, _, err := GenerateLPs(LPConfig{}, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	opt := lps[0]
	// A feasible point that is not optimal: halfway to the maximiser.
	neg := opt
	neg.C = make([]float64, opt.N)
	for j, v := range opt.C {
		neg.C[j] = -v
	}
	yMax, err := solveLP(&neg)
	if err != nil {
		t.Fatal(err)
	}
	mid := make([]float64, opt.N)
	for j := range mid {
		mid[j] = (opt.Y[j] + yMax[j]) / 2
	}
	withY := func(y []float64) LP {
		p := opt
		p.Y, p.Objective = y, dot(p.C, y)
		return p
	}
	shifted := func(j int, d float64) []float64 {
		y := append([]float64(nil), opt.Y...)
		y[j] += d
		return y
	}
	// Moving a variable of an equality row into its box breaks the row.
	inEq := -1
	for k, i := range opt.Rows {
		if opt.Eq[i] {
			inEq = opt.Cols[k]
		}
	}
	if inEq < 0 {
		t.Fatal("instance without equality rows; pick another seed")
	}
	step := 1e-3
	if opt.Y[inEq]+step > opt.U[inEq] {
		step = -step
	}
	atBound := -1
	for j, v := range opt.Y {
		if v == opt.L[j] {
			atBound = j
		}
	}
	if atBound < 0 {
		t.Fatal("no variable at its lower bound; pick another seed")
	}
	noY := opt
	noY.Y = nil
	badObj := opt
	badObj.Objective += 1e-3
	nanObj := opt
	nanObj.Objective = math.NaN()
	badIdx := opt
	badIdx.Cols = append([]int(nil), opt.Cols...)
	badIdx.Cols[0] = opt.N
	for _, tc := range []struct {
		name string
		p    LP
		tol  float64
		want string
	}{
		{"optimum", opt, 0, ""},
		{"feasible, not optimal", withY(mid), 0, "not optimal"},
		{"below a bound", withY(shifted(atBound, -1e-3)), 0, "outside its bounds"},
		{"equality violated", withY(shifted(inEq, step)), 0, "equality row"},
		{"objective field wrong", badObj, 0, "Objective"},
		{"objective field NaN", nanObj, 0, "Objective"},
		{"column out of range", badIdx, 0, "outside A"},
		{"no solution", noY, 0, "solve the instance"},
		{"negative tolerance", opt, -1, "tolerance"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyLP(&tc.p, tc.tol)
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func TestLPConfigChecks(t *testing.T) {
	for _, cfg := range []LPConfig{{M: -1}, {NNZ: 501}, {PEq: 1.5}, {CScale: -1}, {BoundStd: math.Inf(1)}, {M: 2000, N: 2000}} {
		if _, _, err := GenerateLPs(cfg, 1, 1); err == nil || !strings.HasPrefix(err.Error(), "datasets: ") {
			t.Errorf("%+v: got %v, want an error", cfg, err)
		}
	}
	lps, _, err := GenerateLPs(LPConfig{PEq: -1, M: 4, N: 8}, 1, 5)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range lps {
		if len(p.Vals) != 6 || strings.Contains(fmt.Sprint(p.Eq), "true") {
			t.Fatalf("PEq < 0, NNZ 0 on 4×8: %d nonzeros, Eq %v", len(p.Vals), p.Eq)
		}
	}
}

func TestLoadLPsCache(t *testing.T) {
	dir := t.TempDir()
	calls := 0
	gen := func(cfg LPConfig, seed uint64, n int) ([]LP, LPStats, error) {
		calls++
		return GenerateLPs(cfg, seed, n)
	}
	want, wantStats, err := loadLPs(dir, LPConfig{}, 5, 12, gen)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := LPConfig{}.withDefaults()
	path := filepath.Join(dir, lpCacheName(cfg, 5, 12))
	load := func(wantCalls int) {
		t.Helper()
		got, st, err := loadLPs(dir, LPConfig{}, 5, 12, gen)
		if err != nil {
			t.Fatal(err)
		}
		if calls != wantCalls || !reflect.DeepEqual(got, want) || st != wantStats {
			t.Fatalf("%d generator calls (want %d), same data %v, stats %v", calls, wantCalls, reflect.DeepEqual(got, want), st)
		}
	}
	load(1) // read from the file
	for _, tc := range []struct {
		name   string
		damage func(b []byte) []byte
	}{
		{"flipped byte", func(b []byte) []byte { b[len(b)/2] ^= 1; return b }},
		{"truncated", func(b []byte) []byte { return b[:len(b)-100] }},
		{"empty", func([]byte) []byte { return nil }},
		{"wrong label, valid checksum", func([]byte) []byte {
			bad := append([]LP(nil), want...)
			bad[4].Y = append([]float64(nil), bad[4].Y...)
			bad[4].Y[0] = (bad[4].L[0] + bad[4].U[0]) / 2
			bad[4].Objective = dot(bad[4].C, bad[4].Y)
			return encodeLPs(bad, wantStats, cfg, 5)
		}},
		{"other seed's file", func([]byte) []byte { return encodeLPs(want, wantStats, cfg, 6) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tc.damage(b), 0o644); err != nil {
				t.Fatal(err)
			}
			load(calls + 1) // regenerated and rewritten
			load(calls)     // then read again
		})
	}
	if _, _, err := loadLPs(dir, LPConfig{}, 6, 12, gen); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "lp-*.bin"))
	if len(files) != 2 {
		t.Fatalf("cache holds %v, want one file per seed", files)
	}
	// The exported entry point with an override folder reads the same file.
	got, _, err := LoadLPs(dir, LPConfig{}, 5, 12)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("LoadLPs: %v", err)
	}
}

func TestLPSet(t *testing.T) {
	train, test, st, err := LPSplits(t.TempDir(), 9, 6, 3)
	if err != nil {
		t.Fatal(err)
	}
	all, st2, _ := GenerateLPs(LPConfig{}, 9, 9)
	if train.Len() != 6 || test.Len() != 3 || st != st2 || !reflect.DeepEqual(*test.Instance(0), all[6]) {
		t.Fatalf("splits of %d and %d, stats %v vs %v", train.Len(), test.Len(), st, st2)
	}
	l := train.Layout()
	if l != (LPLayout{M: 10, N: 50, A: 0, B: 500, Eq: 510, C: 520, L: 570, U: 620, Size: 670}) ||
		!reflect.DeepEqual(train.InputShape(), []int{670}) || !reflect.DeepEqual(train.TargetShape(), []int{50}) {
		t.Fatalf("layout %+v, shapes %v %v", l, train.InputShape(), train.TargetShape())
	}
	x, y := make([]float32, l.Size), make([]float32, l.N)
	x64, y64 := make([]float64, l.Size), make([]float64, l.N)
	for i := range train.Len() {
		for k := range x {
			x[k], x64[k] = 7, 7 // stale values must be overwritten
		}
		train.Sample(i, x, y)
		train.SampleFloat64(i, x64, y64)
		p := train.Instance(i)
		var want []float64
		want = append(want, p.Dense()...)
		want = append(want, p.B...)
		for _, e := range p.Eq {
			want = append(want, map[bool]float64{false: 0, true: 1}[e])
		}
		want = append(append(append(want, p.C...), p.L...), p.U...)
		if !reflect.DeepEqual(x64, want) || !reflect.DeepEqual(y64, p.Y) {
			t.Fatalf("instance %d: SampleFloat64 does not match the instance", i)
		}
		for k := range x {
			if x[k] != float32(want[k]) {
				t.Fatalf("instance %d: x[%d] = %v, want %v", i, k, x[k], want[k])
			}
		}
		for j := range y {
			if y[j] != float32(p.Y[j]) {
				t.Fatalf("instance %d: y[%d] = %v, want %v", i, j, y[j], p.Y[j])
			}
		}
	}

	small, _, _ := GenerateLPs(LPConfig{M: 4, N: 8}, 1, 1)
	unsolved := all[0]
	unsolved.Y = nil
	for name, lps := range map[string][]LP{
		"empty":      nil,
		"mixed size": {all[0], small[0]},
		"unsolved":   {unsolved},
	} {
		if _, err := NewLPSet(lps); err == nil {
			t.Errorf("%s: NewLPSet accepted it", name)
		}
	}
}
