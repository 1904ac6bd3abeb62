package datasets

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"path/filepath"
)

// DarcyTestFirst is the index of the first test sample of DarcySplits:
// test samples are drawn from indices DarcyTestFirst, DarcyTestFirst+1, …,
// so that they never meet the training samples 0, 1, … and do not change
// with the size of the training set.
const DarcyTestFirst uint64 = 1 << 63

// LoadDarcy returns samples 0, …, n−1 of GenerateDarcy(cfg, seed, n),
// from the cache folder CacheDir(cacheOverride) when a valid file is
// there, else generated and cached. A file that is truncated, corrupt or
// made with other settings is regenerated, never trusted.
func LoadDarcy(cacheOverride string, cfg DarcyConfig, seed uint64, n int) (*DarcySet, error) {
	return loadDarcy(cacheOverride, cfg, seed, 0, n)
}

// DarcySplits returns a training set of samples 0, …, nTrain−1 and a test
// set of samples DarcyTestFirst, …, DarcyTestFirst+nTest−1, both cached
// as LoadDarcy does. The two never share a sample, and the test set is
// the same whatever nTrain.
func DarcySplits(cacheOverride string, cfg DarcyConfig, seed uint64, nTrain, nTest int) (train, test *DarcySet, err error) {
	if train, err = loadDarcy(cacheOverride, cfg, seed, 0, nTrain); err != nil {
		return nil, nil, err
	}
	if test, err = loadDarcy(cacheOverride, cfg, seed, DarcyTestFirst, nTest); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// darcyFormat is the cache format version; raise it whenever the file
// layout or the way samples are drawn or solved changes, so that old
// files are no longer found.
const darcyFormat = 1

// darcyMagic opens every cache file.
var darcyMagic = [8]byte{'I', 'M', 'D', 'A', 'R', 'C', 'Y', '\n'}

// darcyHeaderLen is the length of the header: magic, version, then S,
// Modes, High, Low, Tau, Alpha, Tol, seed, first and n as 8 bytes each.
const darcyHeaderLen = 8 + 4 + 10*8

func loadDarcy(cacheOverride string, cfg DarcyConfig, seed, first uint64, n int) (*DarcySet, error) {
	cfg, err := cfg.resolved()
	if err != nil {
		return nil, err
	}
	dir, err := CacheDir(cacheOverride)
	if err != nil {
		return nil, err
	}
	if err := darcyCheckCount(cfg, n); err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	path := filepath.Join(dir, darcyFileName(cfg, seed, first, n))
	d, err := readDarcyFile(path, cfg, seed, first, n)
	switch {
	case err == nil:
		return d, nil
	case errors.Is(err, errCacheIsDir):
		return nil, err // no write could replace it: say so before generating
	}
	// Missing or invalid: generate, then replace whatever was there.
	if d, err = generateDarcy(cfg, seed, first, n); err != nil {
		return nil, err
	}
	if err := writeAtomic(path, encodeDarcy(d)); err != nil {
		return nil, cacheWriteError("Darcy set", err)
	}
	return d, nil
}

// darcyCheckCount checks that n samples of cfg (resolved) fit in memory;
// the caller prefixes the error.
func darcyCheckCount(cfg DarcyConfig, n int) error {
	p := cfg.S * cfg.S
	if n < 0 || n > darcyMaxValues/p {
		return fmt.Errorf("%d Darcy samples of %d×%d; want 0 to %d at this size", n, cfg.S, cfg.S, darcyMaxValues/p)
	}
	return nil
}

// darcyFileName names the cache file of a set: the format version, S,
// seed, first index and N for people, and a hash of the whole header so
// that sets with other coefficient values or solver settings get their
// own file.
func darcyFileName(cfg DarcyConfig, seed, first uint64, n int) string {
	h := fnv.New64a()
	h.Write(darcyHeader(cfg, seed, first, n))
	return fmt.Sprintf("darcy-v%d-s%d-seed%d-from%d-n%d-%016x.bin", darcyFormat, cfg.S, seed, first, n, h.Sum64())
}

func darcyHeader(cfg DarcyConfig, seed, first uint64, n int) []byte {
	b := make([]byte, 0, darcyHeaderLen)
	b = append(b, darcyMagic[:]...)
	b = binary.LittleEndian.AppendUint32(b, darcyFormat)
	for _, v := range []uint64{
		uint64(cfg.S), uint64(cfg.Modes),
		math.Float64bits(cfg.High), math.Float64bits(cfg.Low),
		math.Float64bits(cfg.Tau), math.Float64bits(cfg.Alpha), math.Float64bits(cfg.Tol),
		seed, first, uint64(n),
	} {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return b
}

// encodeDarcy lays out a cache file: header, A and U as little-endian
// float32, then the CRC-32C of all that (a blob, see blob.go).
func encodeDarcy(d *DarcySet) []byte {
	return encodeBlob(darcyHeader(d.Config, d.Seed, d.First, d.N), d.A, d.U)
}

// readDarcyFile reads the cache file at path and checks that it holds
// exactly the set asked for: its size, header and checksum, then its
// values.
func readDarcyFile(path string, cfg DarcyConfig, seed, first uint64, n int) (*DarcySet, error) {
	if err := darcyCheckCount(cfg, n); err != nil {
		return nil, fmt.Errorf("datasets: %s: %w", path, err)
	}
	p := cfg.S * cfg.S
	arrs, err := readBlob(path, darcyHeader(cfg, seed, first, n), n*p, n*p)
	if err != nil {
		return nil, err
	}
	return darcyFromArrays(arrs, path, cfg, seed, first, n)
}

// decodeDarcy is readDarcyFile for the bytes b of a file named name.
func decodeDarcy(b []byte, name string, cfg DarcyConfig, seed, first uint64, n int) (*DarcySet, error) {
	if err := darcyCheckCount(cfg, n); err != nil {
		return nil, fmt.Errorf("datasets: %s: %w", name, err)
	}
	p := cfg.S * cfg.S
	arrs, err := decodeBlob(b, name, darcyHeader(cfg, seed, first, n), n*p, n*p)
	if err != nil {
		return nil, err
	}
	return darcyFromArrays(arrs, name, cfg, seed, first, n)
}

// darcyFromArrays makes a set of the arrays A and U of a file named name
// after checking what every generated set satisfies: a is High or Low at
// every node, u finite and zero on the boundary. The checksum catches
// damage; this catches a file a faulty writer filled with a valid
// checksum.
func darcyFromArrays(arrs [][]float32, name string, cfg DarcyConfig, seed, first uint64, n int) (*DarcySet, error) {
	a, u, s := arrs[0], arrs[1], cfg.S
	high, low := float32(cfg.High), float32(cfg.Low)
	for i, v := range a {
		if v != high && v != low {
			return nil, fmt.Errorf("datasets: %s: coefficient %d of sample %d is %g, neither High %g nor Low %g; the file is corrupt, delete it", name, i%(s*s), i/(s*s), v, high, low)
		}
	}
	for i, v := range u {
		node := i % (s * s)
		r, c := node/s, node%s
		boundary := r == 0 || c == 0 || r == s-1 || c == s-1
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || boundary && v != 0 {
			return nil, fmt.Errorf("datasets: %s: solution value %g at node (%d, %d) of sample %d; want finite, zero on the boundary; the file is corrupt, delete it", name, v, r, c, i/(s*s))
		}
	}
	return &DarcySet{S: s, N: n, A: a, U: u, Config: cfg, Seed: seed, First: first}, nil
}
