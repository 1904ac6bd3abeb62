package datasets

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
)

// lpFormat is the version of the LP cache files; bump it whenever the
// encoding or the draw changes, so old files are never read as current.
const lpFormat = 1

// lpMagic opens every LP cache file.
var lpMagic = [8]byte{'i', 'm', 'p', 'l', '-', 'l', 'p', '\n'}

// LoadLPs returns the same instances and stats as GenerateLPs, cached in
// CacheDir(cacheOverride). The file name holds the format version, the
// configuration (after defaults), the seed and n. A file is used only if
// its header matches, its SHA-256 checksum holds and every instance
// passes VerifyLP again; otherwise it is regenerated and rewritten
// atomically, so a corrupt, truncated or foreign file is never trusted.
func LoadLPs(cacheOverride string, cfg LPConfig, seed uint64, n int) ([]LP, LPStats, error) {
	dir, err := CacheDir(cacheOverride)
	if err != nil {
		return nil, LPStats{}, err
	}
	return loadLPs(dir, cfg, seed, n, GenerateLPs)
}

// loadLPs is LoadLPs with the folder and the generator given, so tests can
// count generator calls.
func loadLPs(dir string, cfg LPConfig, seed uint64, n int, generate func(LPConfig, uint64, int) ([]LP, LPStats, error)) ([]LP, LPStats, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, LPStats{}, err
	}
	if n < 0 {
		return nil, LPStats{}, fmt.Errorf("datasets: %d LP instances requested; want n ≥ 0", n)
	}
	path := filepath.Join(dir, lpCacheName(cfg, seed, n))
	lps, stats, err := readLPFile(path, cfg, seed, n)
	switch {
	case err == nil:
		return lps, stats, nil
	case errors.Is(err, errCacheIsDir):
		return nil, LPStats{}, err // no write could replace it: say so before generating
	}
	if lps, stats, err = generate(cfg, seed, n); err != nil {
		return nil, stats, err
	}
	if err := writeAtomic(path, encodeLPs(lps, stats, cfg, seed)); err != nil {
		return nil, stats, cacheWriteError("LP instances", err)
	}
	return lps, stats, nil
}

// readLPFile reads the cache file at path, checking its size before
// reading it, and decodes it as decodeLPs does.
func readLPFile(path string, cfg LPConfig, seed uint64, n int) ([]LP, LPStats, error) {
	want, err := lpFileSize(cfg, n)
	if err != nil {
		return nil, LPStats{}, fmt.Errorf("datasets: %s: %w", path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, LPStats{}, fmt.Errorf("datasets: %w", err)
	}
	if st.IsDir() {
		return nil, LPStats{}, cacheIsDirError(path)
	}
	if st.Size() != int64(want) {
		return nil, LPStats{}, fmt.Errorf("datasets: %s: LP cache of %d bytes, want %d", path, st.Size(), want)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, LPStats{}, fmt.Errorf("datasets: %w", err)
	}
	return decodeLPs(data, path, cfg, seed, n)
}

// lpFileSize returns the size of the cache file of n instances of cfg
// (with defaults applied), or an error, for the caller to prefix, when n
// is negative or the file could not be addressed.
func lpFileSize(cfg LPConfig, n int) (int, error) {
	rec := lpRecordSize(cfg)
	if n < 0 || n > (math.MaxInt-lpHeaderSize-sha256.Size)/rec {
		return 0, fmt.Errorf("%d LP instances of %d×%d requested; want 0 to %d", n, cfg.M, cfg.N, (math.MaxInt-lpHeaderSize-sha256.Size)/rec)
	}
	return lpHeaderSize + n*rec + sha256.Size, nil
}

// lpCacheName names the cache file of a configuration (with defaults
// applied, so LPConfig{} and the explicit paper settings share it).
func lpCacheName(cfg LPConfig, seed uint64, n int) string {
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	return fmt.Sprintf("lp-v%d-%dx%d-nnz%d-peq%s-c%s-b%s-seed%d-n%d.bin",
		lpFormat, cfg.M, cfg.N, cfg.NNZ, g(cfg.PEq), g(cfg.CScale), g(cfg.BoundStd), seed, n)
}

// The file, little-endian: magic, format (uint32), M, N, NNZ (int64),
// PEq, CScale, BoundStd (float64), seed (uint64), n (int64), the six
// LPStats counts (int64); then per instance Index (int64), NNZ × (row,
// col uint32, value float64), B (M float64), Eq (M bytes, 0 or 1), C, L,
// U, Y (N float64 each), Objective; then the SHA-256 of all of it.
const lpHeaderSize = 8 + 4 + 3*8 + 3*8 + 8 + 8 + 6*8

func lpRecordSize(cfg LPConfig) int {
	return 8 + cfg.NNZ*16 + cfg.M*9 + 4*cfg.N*8 + 8
}

func encodeLPs(lps []LP, stats LPStats, cfg LPConfig, seed uint64) []byte {
	buf := make([]byte, 0, lpHeaderSize+len(lps)*lpRecordSize(cfg)+sha256.Size)
	le := binary.LittleEndian
	i64 := func(v int) { buf = le.AppendUint64(buf, uint64(v)) }
	f64 := func(v float64) { buf = le.AppendUint64(buf, math.Float64bits(v)) }
	buf = append(buf, lpMagic[:]...)
	buf = le.AppendUint32(buf, lpFormat)
	i64(cfg.M)
	i64(cfg.N)
	i64(cfg.NNZ)
	f64(cfg.PEq)
	f64(cfg.CScale)
	f64(cfg.BoundStd)
	buf = le.AppendUint64(buf, seed)
	i64(len(lps))
	for _, v := range []int{stats.Drawn, stats.Kept, stats.Infeasible, stats.Unbounded, stats.Unverified, stats.SolverFailed} {
		i64(v)
	}
	for _, p := range lps {
		i64(p.Index)
		for k, v := range p.Vals {
			buf = le.AppendUint32(buf, uint32(p.Rows[k]))
			buf = le.AppendUint32(buf, uint32(p.Cols[k]))
			f64(v)
		}
		for _, v := range p.B {
			f64(v)
		}
		for _, eq := range p.Eq {
			if eq {
				buf = append(buf, 1)
			} else {
				buf = append(buf, 0)
			}
		}
		for _, s := range [][]float64{p.C, p.L, p.U, p.Y} {
			for _, v := range s {
				f64(v)
			}
		}
		f64(p.Objective)
	}
	sum := sha256.Sum256(buf)
	return append(buf, sum[:]...)
}

// lpReader reads little-endian values from a buffer whose length was
// checked up front, so it cannot run past the end.
type lpReader struct {
	buf []byte
	off int
}

func (r *lpReader) u32() uint32 {
	v := binary.LittleEndian.Uint32(r.buf[r.off:])
	r.off += 4
	return v
}

func (r *lpReader) u64() uint64 {
	v := binary.LittleEndian.Uint64(r.buf[r.off:])
	r.off += 8
	return v
}

func (r *lpReader) int() int       { return int(int64(r.u64())) }
func (r *lpReader) float() float64 { return math.Float64frombits(r.u64()) }
func (r *lpReader) floats(n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = r.float()
	}
	return s
}

// decodeLPs parses and checks the bytes of a cache file, named name in
// errors, written for (cfg, seed, n).
func decodeLPs(data []byte, name string, cfg LPConfig, seed uint64, n int) ([]LP, LPStats, error) {
	// The size is fixed by the header we expect, so a file of any other
	// size is rejected before anything is allocated from its contents.
	want, err := lpFileSize(cfg, n)
	if err != nil {
		return nil, LPStats{}, fmt.Errorf("datasets: %s: %w", name, err)
	}
	if len(data) != want {
		return nil, LPStats{}, fmt.Errorf("datasets: %s: LP cache of %d bytes, want %d", name, len(data), want)
	}
	body, sum := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return nil, LPStats{}, fmt.Errorf("datasets: %s: LP cache checksum mismatch; the file is corrupt", name)
	}
	r := &lpReader{buf: body}
	if !bytes.Equal(body[:8], lpMagic[:]) {
		return nil, LPStats{}, fmt.Errorf("datasets: %s: not an LP cache file", name)
	}
	r.off = 8
	if v := r.u32(); v != lpFormat {
		return nil, LPStats{}, fmt.Errorf("datasets: %s: LP cache format %d, want %d", name, v, lpFormat)
	}
	got := LPConfig{M: r.int(), N: r.int(), NNZ: r.int(), PEq: r.float(), CScale: r.float(), BoundStd: r.float()}
	if got != cfg || r.u64() != seed || r.int() != n {
		return nil, LPStats{}, fmt.Errorf("datasets: %s: LP cache header does not match the request", name)
	}
	var st LPStats
	for _, f := range []*int{&st.Drawn, &st.Kept, &st.Infeasible, &st.Unbounded, &st.Unverified, &st.SolverFailed} {
		*f = r.int()
	}
	// Each count must fit in what the others leave of Drawn, so that huge
	// counts cannot wrap around to a sum that adds up.
	left, ok := st.Drawn, st.Drawn >= 0
	for _, v := range []int{st.Kept, st.Infeasible, st.Unbounded, st.Unverified, st.SolverFailed} {
		ok = ok && v >= 0 && v <= left
		left -= v
	}
	if !ok || left != 0 || st.Kept != n {
		return nil, LPStats{}, fmt.Errorf("datasets: %s: LP cache stats %v do not add up; the file is corrupt", name, st)
	}
	lps := make([]LP, n)
	last := -1
	for k := range lps {
		p := &lps[k]
		p.Index, p.M, p.N = r.int(), cfg.M, cfg.N
		if p.Index <= last || p.Index >= st.Drawn {
			return nil, LPStats{}, fmt.Errorf("datasets: %s: LP cache instance %d has draw index %d; the file is corrupt", name, k, p.Index)
		}
		last = p.Index
		p.Rows, p.Cols, p.Vals = make([]int, cfg.NNZ), make([]int, cfg.NNZ), make([]float64, cfg.NNZ)
		for q := range p.Vals {
			p.Rows[q], p.Cols[q] = int(r.u32()), int(r.u32())
			p.Vals[q] = r.float()
		}
		p.B = r.floats(cfg.M)
		p.Eq = make([]bool, cfg.M)
		for i := range p.Eq {
			switch r.buf[r.off] {
			case 0:
			case 1:
				p.Eq[i] = true
			default:
				return nil, LPStats{}, fmt.Errorf("datasets: %s: LP cache instance %d has a bad equality flag; the file is corrupt", name, k)
			}
			r.off++
		}
		p.C, p.L, p.U, p.Y = r.floats(cfg.N), r.floats(cfg.N), r.floats(cfg.N), r.floats(cfg.N)
		p.Objective = r.float()
		if err := VerifyLP(p, lpTol); err != nil {
			return nil, LPStats{}, fmt.Errorf("datasets: %s: LP cache instance %d: %w", name, k, err)
		}
	}
	// Generation stops at the last kept draw.
	if last+1 != st.Drawn {
		return nil, LPStats{}, fmt.Errorf("datasets: %s: LP cache stats count %d draws but the last kept one is draw %d; the file is corrupt", name, st.Drawn, last)
	}
	return lps, st, nil
}
