package datasets

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// noPanic runs f and turns a panic into a test failure, so that one bad
// case does not stop the others.
func noPanic(t *testing.T, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("panic: %v", r)
		}
	}()
	f()
}

func TestRemoveStaleTemps(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	old := now.Add(-2 * staleTempAge) // twice the age, so clock granularity cannot matter
	for _, c := range []struct {
		name string
		dir  bool // a folder, not a file
		link bool // a symbolic link to a file
		mod  time.Time
		kept bool
	}{
		{".tmp-123456", false, false, old, false},                      // left by a killed write
		{".tmp-7", false, false, now.Add(-staleTempAge / 2), true},     // a writer at work
		{".tmp-999", false, false, now, true},                          // just made
		{".tmp-123abc", false, false, old, true},                       // not our pattern
		{".tmp-", false, false, old, true},                             // not our pattern
		{"x.tmp-123", false, false, old, true},                         // not our pattern
		{"darcy-v1-s8-seed1-from0-n2-00.bin", false, false, old, true}, // a cache file
		{".tmp-555", true, false, old, true},                           // a folder
		{".tmp-666", false, true, old, true},                           // a link
	} {
		p := filepath.Join(dir, c.name)
		switch {
		case c.dir:
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case c.link:
			target := filepath.Join(t.TempDir(), "target")
			if err := os.WriteFile(target, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, p); err != nil {
				t.Skip(err)
			}
		default:
			if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if !c.link {
			if err := os.Chtimes(p, c.mod, c.mod); err != nil {
				t.Fatal(err)
			}
		}
		defer func() {
			_, err := os.Lstat(p)
			if kept := err == nil; kept != c.kept {
				t.Errorf("%s: kept %v after a write; want %v", c.name, kept, c.kept)
			}
		}()
	}
	// A write to the folder cleans it, and leaves no temporary of its own.
	if err := writeAtomic(filepath.Join(dir, "new.bin"), []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "new.bin")); err != nil || !slices.Equal(b, []byte{1, 2, 3}) {
		t.Fatalf("new.bin holds %v, %v", b, err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if isTempName(e.Name()) && !slices.Contains([]string{".tmp-7", ".tmp-999", ".tmp-555", ".tmp-666"}, e.Name()) {
			t.Errorf("the write left its temporary %s", e.Name())
		}
	}
}

// TestCachePathIsDirectory checks that a directory where a cache file
// belongs is reported as such, with the fix, before any data are made,
// rather than as a folder that cannot be written.
func TestCachePathIsDirectory(t *testing.T) {
	darcyCfg, _ := DarcyConfig{S: 8}.resolved()
	nsCfg, _ := NavierStokesConfig{S: 8, ForceK: 2, Modes: 2}.resolved()
	lpCfg, _ := LPConfig{M: 4, N: 8}.withDefaults()
	deblurCfg, _ := DeblurConfig{Train: 2, Val: 1, Test: 1}.resolved()
	generated := 0
	countLPs := func(cfg LPConfig, seed uint64, n int) ([]LP, LPStats, error) {
		generated++
		return GenerateLPs(cfg, seed, n)
	}
	for _, c := range []struct {
		name string
		file string // the cache file name
		load func(dir string) error
	}{
		{"Darcy", darcyFileName(darcyCfg, 1, 0, 2), func(dir string) error {
			_, err := LoadDarcy(dir, darcyCfg, 1, 2)
			return err
		}},
		{"Navier–Stokes", nsFileName(nsCfg, 1, 0, 2), func(dir string) error {
			_, err := LoadNavierStokes(dir, nsCfg, 1, 2)
			return err
		}},
		{"LP", lpCacheName(lpCfg, 1, 2), func(dir string) error {
			_, _, err := loadLPs(dir, lpCfg, 1, 2, countLPs)
			return err
		}},
		{"deblur validation split", deblurFileName("mnist", "val", deblurCfg, 1, 1, deblurHeader("mnist", "val", deblurCfg, 1, 1)), func(dir string) error {
			// No source images: the error must come before they are needed.
			_, _, _, err := LoadDeblur("mnist", filepath.Join(dir, "no-mnist-here"), dir, deblurCfg, 1)
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, c.file)
			if err := os.MkdirAll(filepath.Join(path, "something"), 0o755); err != nil {
				t.Fatal(err)
			}
			err := c.load(dir)
			if err == nil || !strings.Contains(err.Error(), path+" is a directory") || !strings.Contains(err.Error(), "remove") ||
				strings.Contains(err.Error(), "IMPLICIT_CACHE_DIR") {
				t.Fatalf("error %v; want one saying %s is a directory to remove", err, path)
			}
			if generated > 0 {
				t.Errorf("%d sets generated that could never be cached", generated)
			}
		})
	}
	// The same for writeAtomic itself, should the directory appear later.
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "f.bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeAtomic(filepath.Join(dir, "f.bin"), nil); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("writeAtomic over a directory: %v", err)
	}
	// And a cache folder that is a file says so, naming where it came from.
	file := filepath.Join(dir, "plain-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := CacheDir(file); err == nil || !strings.Contains(err.Error(), file+" (from the cache override) is a file") {
		t.Errorf("CacheDir of a file: %v", err)
	}
}

// TestReadBlobImpossibleLengths checks lengths no file can satisfy: a
// negative one, or ones whose byte count overflows, once made a file of
// the size their sum wrapped to look valid, and then a panic.
func TestReadBlobImpossibleLengths(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name       string
		file       []byte
		header     []byte
		len0, len1 int
	}{
		// 4 header bytes + 4·(−2 + 4) values + 4 checksum bytes.
		{"negative", withCRC(append([]byte("HEAD"), make([]byte, 12)...)), []byte("HEAD"), -2, 4},
		{"negative, found by FuzzReadBlob", withCRC([]byte("0000")), nil, -87, 87},
		// 4·(len0 + len1) = 4·(1 − 2⁶¹ + 2⁶¹ − 1) wraps to 0.
		{"overflowing", withCRC(make([]byte, 4)), nil, math.MinInt64/4 + 1, math.MaxInt64 / 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, dir, "blob", c.file)
			noPanic(t, func() {
				if _, err := readBlob(path, c.header, c.len0, c.len1); err == nil || !strings.Contains(err.Error(), path) {
					t.Errorf("readBlob: %v; want an error naming %s", err, path)
				}
				if _, err := decodeBlob(c.file, "blob", c.header, c.len0, c.len1); err == nil || !strings.Contains(err.Error(), "blob") {
					t.Errorf("decodeBlob: %v; want an error naming the blob", err)
				}
			})
		})
	}
}

// TestLoadersRejectImpossibleCounts asks the loaders for counts whose
// array lengths overflow or go negative, with a file in the cache whose
// size matches what the lengths wrapped to: the read must fail, not
// panic or return a set of impossible size.
func TestLoadersRejectImpossibleCounts(t *testing.T) {
	darcyCfg, _ := DarcyConfig{}.resolved()
	nsCfg, _ := NavierStokesConfig{}.resolved()
	const huge = 1 << 62 // times S² = 1024 or 784 values, 0 modulo 2⁶⁴
	deblurCfg, _ := DeblurConfig{Train: huge, Val: 1, Test: 1}.resolved()
	for _, c := range []struct {
		name  string
		files map[string][]byte // cache files to plant
		load  func(dir string) error
	}{
		{"Darcy, n = 2⁶²", map[string][]byte{
			// Both arrays wrap to 0 values: the header and the checksum.
			darcyFileName(darcyCfg, 1, 0, huge): encodeBlob(darcyHeader(darcyCfg, 1, 0, huge)),
		}, func(dir string) error {
			_, err := LoadDarcy(dir, darcyCfg, 1, huge)
			return err
		}},
		{"Darcy, n = −1", nil, func(dir string) error {
			_, err := LoadDarcy(dir, darcyCfg, 1, -1)
			return err
		}},
		{"Navier–Stokes, n = 2⁶²", map[string][]byte{
			// The field arrays wrap to 0 values, the per-sample ones to 0
			// bytes: the header, 2·7 stats and the checksum remain.
			nsFileName(nsCfg, 1, 0, huge): encodeBlob(nsHeader(nsCfg, 1, 0, huge), make([]float32, 2*nsStatsLen)),
		}, func(dir string) error {
			_, err := LoadNavierStokes(dir, nsCfg, 1, huge)
			return err
		}},
		{"deblur, 2⁶² training pairs", map[string][]byte{
			deblurFileName("mnist", "train", deblurCfg, 1, huge, deblurHeader("mnist", "train", deblurCfg, 1, huge)): encodeBlob(deblurHeader("mnist", "train", deblurCfg, 1, huge)),
			deblurFileName("mnist", "val", deblurCfg, 1, 1, deblurHeader("mnist", "val", deblurCfg, 1, 1)):           encodeBlob(deblurHeader("mnist", "val", deblurCfg, 1, 1), make([]float32, 784), make([]float32, 784)),
			deblurFileName("mnist", "test", deblurCfg, 1, 1, deblurHeader("mnist", "test", deblurCfg, 1, 1)):         encodeBlob(deblurHeader("mnist", "test", deblurCfg, 1, 1), make([]float32, 784), make([]float32, 784)),
		}, func(dir string) error {
			_, _, _, err := LoadDeblur("mnist", filepath.Join(dir, "no-mnist-here"), dir, deblurCfg, 1)
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, b := range c.files {
				writeFile(t, dir, name, b)
			}
			noPanic(t, func() {
				if err := c.load(dir); err == nil || !strings.HasPrefix(err.Error(), "datasets: ") {
					t.Errorf("error %v; want a datasets error", err)
				}
			})
		})
	}
}

// TestCacheReadersRejectGarbage feeds each cache reader a file with a
// valid checksum and header but values no generator makes, as a faulty
// writer would leave it: each must be an error naming the file.
func TestCacheReadersRejectGarbage(t *testing.T) {
	const name = "cache.bin"
	nan := math.NaN()

	darcyCfg, _ := DarcyConfig{S: 8}.resolved()
	darcy, err := generateDarcy(darcyCfg, 1, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	badDarcy := func(edit func(d *DarcySet)) func() error {
		return func() error {
			d := *darcy
			d.A, d.U = slices.Clone(darcy.A), slices.Clone(darcy.U)
			edit(&d)
			_, err := decodeDarcy(encodeDarcy(&d), name, darcyCfg, 1, 0, 2)
			return err
		}
	}

	nsCfg, _ := NavierStokesConfig{S: 8, ForceK: 2, Modes: 2}.resolved()
	ns, err := generateNavierStokes(nsCfg, 1, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	badNS := func(edit func(d *NavierStokesSet)) func() error {
		return func() error {
			d := *ns
			d.F, d.Omega, d.Residual, d.Draw = slices.Clone(ns.F), slices.Clone(ns.Omega), slices.Clone(ns.Residual), slices.Clone(ns.Draw)
			edit(&d)
			_, err := decodeNavierStokes(encodeNavierStokes(&d), name, nsCfg, 1, 0, 2)
			return err
		}
	}
	// nsStat sets stat i of the file to v, which no NavierStokesStats
	// field can hold.
	nsStat := func(i int, v float64) func() error {
		return func() error {
			b := encodeNavierStokes(ns)
			p := nsCfg.S * nsCfg.S
			lens := nsLens(2, p)
			arrs, err := decodeBlob(b, name, nsHeader(nsCfg, 1, 0, 2), lens...)
			if err != nil {
				return err
			}
			hi, lo := nsSplit([]float64{v})
			arrs[8][i], arrs[9][i] = hi[0], lo[0]
			_, err = decodeNavierStokes(encodeBlob(nsHeader(nsCfg, 1, 0, 2), arrs...), name, nsCfg, 1, 0, 2)
			return err
		}
	}

	deblurCfg, _ := DeblurConfig{Train: 2, Val: 1, Test: 1}.resolved()
	sets, err := makeDeblur("mnist", synthetic(4, 1), synthetic(2, 2), deblurCfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	badDeblur := func(edit func(x, y []float32)) func() error {
		return func() error {
			d := sets[0]
			x, y := slices.Clone(d.X), slices.Clone(d.Y)
			edit(x, y)
			h := deblurHeader("mnist", "train", deblurCfg, 1, d.N)
			_, err := decodeDeblur(encodeBlob(h, x, y), name, "mnist", "train", deblurCfg, 1, d.N)
			return err
		}
	}

	lpCfg, _ := LPConfig{M: 4, N: 8}.withDefaults()
	lps, lpStats, err := GenerateLPs(lpCfg, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	badLP := func(edit func(lps []LP, st *LPStats)) func() error {
		return func() error {
			c := slices.Clone(lps)
			st := lpStats
			edit(c, &st)
			_, _, err := decodeLPs(encodeLPs(c, st, lpCfg, 1), name, lpCfg, 1, 3)
			return err
		}
	}

	for _, c := range []struct {
		name string
		read func() error
	}{
		{"Darcy: interior u NaN", badDarcy(func(d *DarcySet) { d.U[1*8+1] = float32(nan) })},
		{"Darcy: a neither High nor Low", badDarcy(func(d *DarcySet) { d.A[5] = 7 })},
		{"Darcy: u nonzero on the boundary, found by FuzzDarcyCache", badDarcy(func(d *DarcySet) { d.U[64+15] = -1.0633824e+37 })},
		{"Navier–Stokes: ω NaN", badNS(func(d *NavierStokesSet) { d.Omega[3] = nan })},
		{"Navier–Stokes: f infinite", badNS(func(d *NavierStokesSet) { d.F[0] = math.Inf(1) })},
		{"Navier–Stokes: residual above 1e-8", badNS(func(d *NavierStokesSet) { d.Residual[1] = 2e-8 })},
		{"Navier–Stokes: a draw too many", badNS(func(d *NavierStokesSet) { d.Stats.Drawn++; d.Stats.NotConverged++ })},
		{"Navier–Stokes: kept ≠ n", badNS(func(d *NavierStokesSet) { d.Stats.Kept++; d.Stats.Drawn++ })},
		{"Navier–Stokes: wrong max residual", badNS(func(d *NavierStokesSet) { d.Stats.MaxResidual = 0.5 })},
		{"Navier–Stokes: stat a denormal, found by FuzzNavierStokesCache", nsStat(3, 1.265e-321)},
		{"Navier–Stokes: stat NaN", nsStat(0, nan)},
		{"Navier–Stokes: stat −1", nsStat(5, -1)},
		{"deblur: measurement NaN", badDeblur(func(x, y []float32) { x[3] = float32(nan) })},
		{"deblur: clean pixel −111, found by FuzzDeblurCache", badDeblur(func(x, y []float32) { y[784+548] = -111.409805 })},
		{"deblur: clean pixel 2", badDeblur(func(x, y []float32) { y[0] = 2 })},
		{"LP: NaN objective", badLP(func(lps []LP, st *LPStats) { lps[1].Objective = nan })},
		{"LP: rejection counts that wrap around", badLP(func(lps []LP, st *LPStats) {
			st.Unbounded, st.Unverified, st.SolverFailed = math.MaxInt64, math.MaxInt64, 2 // sum 2⁶⁴
		})},
		{"LP: draws past the last kept one", badLP(func(lps []LP, st *LPStats) { st.Drawn++; st.Infeasible++ })},
	} {
		t.Run(c.name, func(t *testing.T) {
			noPanic(t, func() {
				if err := c.read(); err == nil || !strings.HasPrefix(err.Error(), "datasets: "+name+": ") {
					t.Errorf("error %v; want one naming %s", err, name)
				}
			})
		})
	}
	// The untouched sets read back.
	for what, err := range map[string]error{
		"Darcy":         badDarcy(func(*DarcySet) {})(),
		"Navier–Stokes": badNS(func(*NavierStokesSet) {})(),
		"deblur":        badDeblur(func(x, y []float32) {})(),
		"LP":            badLP(func([]LP, *LPStats) {})(),
	} {
		if err != nil {
			t.Errorf("%s: the valid set does not read back: %v", what, err)
		}
	}
}
