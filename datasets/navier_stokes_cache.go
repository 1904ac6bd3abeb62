package datasets

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
)

// NavierStokesTestFirst is the first draw of the test sets of
// NavierStokesSplits: test samples are the kept draws among
// NavierStokesTestFirst, NavierStokesTestFirst+1, …, so that they never
// meet the training draws 0, 1, … and do not change with the size of the
// training set.
const NavierStokesTestFirst uint64 = 1 << 63

// LoadNavierStokes returns GenerateNavierStokes(cfg, seed, n), from the
// cache folder CacheDir(cacheOverride) when a valid file is there, else
// generated and cached. A file that is truncated, corrupt or made with
// other settings is regenerated and replaced, never trusted.
func LoadNavierStokes(cacheOverride string, cfg NavierStokesConfig, seed uint64, n int) (*NavierStokesSet, error) {
	return loadNavierStokes(cacheOverride, cfg, seed, 0, n)
}

// NavierStokesSplits returns a training set of the first nTrain kept
// draws from 0 and a test set of the first nTest kept draws from
// NavierStokesTestFirst, both cached as LoadNavierStokes does. The two
// never share a draw, and the test set is the same whatever nTrain.
func NavierStokesSplits(cacheOverride string, cfg NavierStokesConfig, seed uint64, nTrain, nTest int) (train, test *NavierStokesSet, err error) {
	if train, err = loadNavierStokes(cacheOverride, cfg, seed, 0, nTrain); err != nil {
		return nil, nil, err
	}
	if test, err = loadNavierStokes(cacheOverride, cfg, seed, NavierStokesTestFirst, nTest); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// nsFormat is the cache format version; raise it whenever the file
// layout, the forcing draw or the solver changes, so that old files are
// no longer found.
const nsFormat = 1

// nsMagic opens every cache file.
var nsMagic = [8]byte{'I', 'M', 'N', 'A', 'V', 'S', 'T', '\n'}

// nsStatsLen is the number of values of NavierStokesStats in a file:
// Drawn, Kept, NotConverged, Unverified, Steps, Products, MaxResidual.
const nsStatsLen = 7

func loadNavierStokes(cacheOverride string, cfg NavierStokesConfig, seed, first uint64, n int) (*NavierStokesSet, error) {
	cfg, err := cfg.resolved()
	if err != nil {
		return nil, err
	}
	if err := nsCheckCount(cfg, n); err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	dir, err := CacheDir(cacheOverride)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, nsFileName(cfg, seed, first, n))
	d, err := readNavierStokesFile(path, cfg, seed, first, n)
	switch {
	case err == nil:
		return d, nil
	case errors.Is(err, errCacheIsDir):
		return nil, err // no write could replace it: say so before generating
	}
	// Missing or invalid: generate, then replace whatever was there.
	if d, err = generateNavierStokes(cfg, seed, first, n); err != nil {
		return nil, err
	}
	if err := writeAtomic(path, encodeNavierStokes(d)); err != nil {
		return nil, cacheWriteError("Navier–Stokes set", err)
	}
	return d, nil
}

// nsCheckCount checks that n samples of cfg (resolved) fit in memory; the
// caller prefixes the error.
func nsCheckCount(cfg NavierStokesConfig, n int) error {
	p := cfg.S * cfg.S
	if n < 0 || n > nsMaxValues/(3*p) {
		return fmt.Errorf("%d Navier–Stokes samples of %d×%d; want 0 to %d at this size", n, cfg.S, cfg.S, nsMaxValues/(3*p))
	}
	return nil
}

// nsFileName names the cache file of a set after every setting (defaults
// filled in, so NavierStokesConfig{} and its explicit defaults share a
// file), the seed, the first draw and n.
func nsFileName(cfg NavierStokesConfig, seed, first uint64, n int) string {
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	return fmt.Sprintf("navier-stokes-v%d-s%d-nu%s-a%s-kf%d-m%d-p%s-tol%s-steps%d-seed%d-from%d-n%d.bin",
		nsFormat, cfg.S, g(cfg.Nu), g(cfg.Amplitude), cfg.ForceK, cfg.Modes, g(cfg.Perturbation),
		g(cfg.Tol), cfg.MaxSteps, seed, first, n)
}

// nsHeader identifies a file's contents: magic, version, then every
// setting, the seed, first and n as 8 bytes each.
func nsHeader(cfg NavierStokesConfig, seed, first uint64, n int) []byte {
	b := make([]byte, 0, 8+4+12*8)
	b = append(b, nsMagic[:]...)
	b = binary.LittleEndian.AppendUint32(b, nsFormat)
	for _, v := range []uint64{
		uint64(cfg.S), math.Float64bits(cfg.Nu), math.Float64bits(cfg.Amplitude),
		uint64(cfg.ForceK), uint64(cfg.Modes), math.Float64bits(cfg.Perturbation),
		math.Float64bits(cfg.Tol), uint64(cfg.MaxSteps),
		seed, first, uint64(n), uint64(cfg.S * cfg.S),
	} {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return b
}

// A blob holds float32 arrays, and the samples must keep float64
// precision (their residuals are 1e-8 or less, which float32 rounding of
// ω would spoil by 1e-7·‖ω‖). So each float64 array travels as two
// float32 arrays holding the upper and lower 32 bits of its values' bit
// patterns, reinterpreted, not converted: every value comes back bit for
// bit. Counts and draw offsets travel as float64, exact below 2⁵³.

// nsSplit returns the upper and lower halves of the bit patterns of x.
func nsSplit(x []float64) (hi, lo []float32) {
	hi, lo = make([]float32, len(x)), make([]float32, len(x))
	for i, v := range x {
		b := math.Float64bits(v)
		hi[i] = math.Float32frombits(uint32(b >> 32))
		lo[i] = math.Float32frombits(uint32(b))
	}
	return hi, lo
}

// nsJoin is the inverse of nsSplit.
func nsJoin(hi, lo []float32) []float64 {
	x := make([]float64, len(hi))
	for i := range x {
		x[i] = math.Float64frombits(uint64(math.Float32bits(hi[i]))<<32 | uint64(math.Float32bits(lo[i])))
	}
	return x
}

// encodeNavierStokes lays out a cache file: the header, then the split
// halves of F, Omega, the draw offsets Draw[k] − First, Residual and the
// stats, then the CRC-32C of it all (a blob, see blob.go).
func encodeNavierStokes(d *NavierStokesSet) []byte {
	offsets := make([]float64, len(d.Draw))
	for k, v := range d.Draw {
		offsets[k] = float64(v - d.First)
	}
	s := d.Stats
	stats := []float64{float64(s.Drawn), float64(s.Kept), float64(s.NotConverged), float64(s.Unverified),
		float64(s.Steps), float64(s.Products), s.MaxResidual}
	var arrays [][]float32
	for _, x := range [][]float64{d.F, d.Omega, offsets, d.Residual, stats} {
		hi, lo := nsSplit(x)
		arrays = append(arrays, hi, lo)
	}
	return encodeBlob(nsHeader(d.Config, d.Seed, d.First, d.N), arrays...)
}

// nsLens are the lengths of the arrays of a file of n samples of p
// points each.
func nsLens(n, p int) []int {
	return []int{2 * n * p, 2 * n * p, n * p, n * p, n, n, n, n, nsStatsLen, nsStatsLen}
}

// readNavierStokesFile reads the cache file at path and checks that it
// holds exactly the set asked for: its size, header and checksum, then
// its values.
func readNavierStokesFile(path string, cfg NavierStokesConfig, seed, first uint64, n int) (*NavierStokesSet, error) {
	if err := nsCheckCount(cfg, n); err != nil {
		return nil, fmt.Errorf("datasets: %s: %w", path, err)
	}
	arrs, err := readBlob(path, nsHeader(cfg, seed, first, n), nsLens(n, cfg.S*cfg.S)...)
	if err != nil {
		return nil, err
	}
	return nsFromArrays(arrs, path, cfg, seed, first, n)
}

// decodeNavierStokes is readNavierStokesFile for the bytes b of a file
// named name.
func decodeNavierStokes(b []byte, name string, cfg NavierStokesConfig, seed, first uint64, n int) (*NavierStokesSet, error) {
	if err := nsCheckCount(cfg, n); err != nil {
		return nil, fmt.Errorf("datasets: %s: %w", name, err)
	}
	arrs, err := decodeBlob(b, name, nsHeader(cfg, seed, first, n), nsLens(n, cfg.S*cfg.S)...)
	if err != nil {
		return nil, err
	}
	return nsFromArrays(arrs, name, cfg, seed, first, n)
}

// nsFromArrays joins the split arrays of a file named name into a set
// after checking what every generated set satisfies: finite fields,
// draws in order, residuals within nsKeepTol, and stats that count
// exactly the draws up to the last kept one. The checksum catches damage;
// this catches a file a faulty writer filled with a valid checksum.
func nsFromArrays(arrs [][]float32, name string, cfg NavierStokesConfig, seed, first uint64, n int) (*NavierStokesSet, error) {
	x := make([][]float64, len(arrs)/2)
	for i := range x {
		x[i] = nsJoin(arrs[2*i], arrs[2*i+1])
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("datasets: %s: "+format+"; the file is corrupt, delete it", append([]any{name}, args...)...)
	}
	for _, f := range []struct {
		what   string
		values []float64
	}{{"forcing", x[0]}, {"vorticity", x[1]}} {
		for i, v := range f.values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, bad("%s value %d is %g", f.what, i, v)
			}
		}
	}
	d := &NavierStokesSet{S: cfg.S, N: n, F: x[0], Omega: x[1], Residual: x[3], Config: cfg, Seed: seed, First: first,
		Draw: make([]uint64, n)}
	prev := -1.0
	for k, v := range x[2] {
		if !nsIsCount(v) || v <= prev || first > math.MaxUint64-uint64(v) {
			return nil, bad("draw offset %g of sample %d out of order", v, k)
		}
		d.Draw[k], prev = first+uint64(v), v
	}
	maxRes := 0.0
	for k, r := range d.Residual {
		if !(r >= 0 && r <= nsKeepTol) || math.Signbit(r) {
			return nil, bad("residual %g of sample %d; want 0 to %g", r, k, nsKeepTol)
		}
		maxRes = max(maxRes, r)
	}
	st := x[4]
	counts := make([]int, nsStatsLen-1)
	for i, v := range st[:nsStatsLen-1] {
		if !nsIsCount(v) {
			return nil, bad("stat %d is %g; want a count", i, v)
		}
		counts[i] = int(v)
	}
	d.Stats = NavierStokesStats{Drawn: counts[0], Kept: counts[1], NotConverged: counts[2], Unverified: counts[3],
		Steps: counts[4], Products: counts[5], MaxResidual: st[6]}
	s := d.Stats
	if s.Kept != n || s.Drawn != s.Kept+s.Rejected() || s.Drawn != int(prev)+1 || s.MaxResidual != maxRes {
		return nil, bad("stats %+v do not match its %d samples (last draw offset %g, largest residual %g)", s, n, prev, maxRes)
	}
	return d, nil
}

// nsIsCount reports whether v is a count as the writer stores one: a
// whole number from +0 to 2⁵³, where float64 is exact.
func nsIsCount(v float64) bool {
	return v >= 0 && !math.Signbit(v) && v < 1<<53 && v == math.Trunc(v)
}
