package datasets

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"runtime/metrics"
	"slices"
	"strings"
	"testing"
)

// The fuzz targets feed every format this package reads back from disk
// with arbitrary bytes, starting from real files written by the package
// itself and their damaged variants. The property is always the same: the
// reader returns data that are fully valid for the request, or an error
// naming the file; it never panics and never allocates far more than the
// input holds.
//
// A checksum stops almost every mutation at the door, so the cache
// targets take a flag fixSum that makes the input's checksum valid
// first: then the parser behind the checksum is fuzzed too, as if a
// faulty writer had made the file. And they take the request (settings,
// seed, n) from the input's own header when it holds a valid one, so that
// mutated sizes and settings reach the parser rather than a header
// mismatch.

// allocLimit bounds what one read may allocate: perInput bytes per input
// byte plus a fixed slack for the error messages and the runtime's own
// small allocations during the call.
func allocLimit(inputLen, perInput int) uint64 {
	return uint64(perInput*inputLen) + 1<<20
}

// allocated returns the heap bytes f allocates, to within the runtime's
// accounting of small objects (a span or so): without stopping the world,
// unlike runtime.ReadMemStats, so that the fuzzers stay fast.
func allocated(f func()) uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	before := s[0].Value.Uint64()
	f()
	metrics.Read(s)
	return s[0].Value.Uint64() - before
}

// damaged returns b and damaged copies of it: truncated at the end, in the
// middle and to nothing, extended by a byte, and with one bit flipped at
// the start, in the header at hdr, in the middle and in the checksum.
func damaged(b []byte, hdr int) [][]byte {
	out := [][]byte{b, b[:len(b)-1], b[:len(b)/2], nil, append(slices.Clone(b), 0)}
	for _, i := range []int{0, hdr, len(b) / 2, len(b) - 1} {
		if i >= 0 && i < len(b) {
			c := slices.Clone(b)
			c[i] ^= 1 << (i % 8)
			out = append(out, c)
		}
	}
	return out
}

// withCRC returns b with its last 4 bytes replaced by the blob checksum
// of the rest.
func withCRC(b []byte) []byte {
	if len(b) < 4 {
		return b
	}
	c := slices.Clone(b)
	binary.LittleEndian.PutUint32(c[len(c)-4:], crc32.Checksum(c[:len(c)-4], blobCRC))
	return c
}

// withSHA returns b with its last 32 bytes replaced by the SHA-256 of the
// rest, as LP cache files end.
func withSHA(b []byte) []byte {
	if len(b) < sha256.Size {
		return b
	}
	c := slices.Clone(b)
	sum := sha256.Sum256(c[:len(c)-sha256.Size])
	copy(c[len(c)-sha256.Size:], sum[:])
	return c
}

// checkNamed fails t unless err is a datasets error naming name.
func checkNamed(t *testing.T, err error, name string) {
	t.Helper()
	if !strings.HasPrefix(err.Error(), "datasets: ") || !strings.Contains(err.Error(), name) {
		t.Fatalf("error %q does not start with \"datasets: \" and name %s", err, name)
	}
}

// onlyFile returns the bytes of the one file in dir matching pattern.
func onlyFile(f *testing.F, dir, pattern string) []byte {
	f.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, pattern))
	if len(files) != 1 {
		f.Fatalf("%s holds %v; want one %s file", dir, files, pattern)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		f.Fatal(err)
	}
	return b
}

func FuzzReadBlob(f *testing.F) {
	header := []byte("IMTEST\n\x01")
	for _, c := range []struct {
		header     []byte
		len0, len1 int
	}{
		{header, 3, 2},
		{header, 0, 0},
		{nil, 1, 0},
	} {
		// Any bits are data to a blob, NaN and infinities included.
		a0 := []float32{-0.5, 0.5, 1.5}[:c.len0]
		a1 := []float32{float32(math.NaN()), float32(math.Inf(-1))}[:c.len1]
		for _, b := range damaged(encodeBlob(c.header, a0, a1), len(c.header)-1) {
			f.Add(b, c.header, c.len0, c.len1, false)
			f.Add(b, c.header, c.len0, c.len1, true)
		}
	}
	// Lengths a caller must never pass, over a file whose size they match
	// (-2 and 4 arrays of a 4-byte header: 4 + 4 + 4·2 bytes).
	f.Add(encodeBlob([]byte("HEAD"), make([]float32, 2)), []byte("HEAD"), -2, 4, true)
	f.Add(encodeBlob(nil, make([]float32, 1)), []byte(nil), math.MinInt64/4+1, math.MaxInt64/4, true)
	dir := f.TempDir()
	path := filepath.Join(dir, "fuzz.blob")
	f.Fuzz(func(t *testing.T, file, header []byte, len0, len1 int, fixSum bool) {
		if fixSum {
			file = withCRC(file)
		}
		var arrs [][]float32
		var err error
		if got := allocated(func() { arrs, err = decodeBlob(file, "fuzz.blob", header, len0, len1) }); got > allocLimit(len(file), 4) {
			t.Fatalf("decoding %d bytes allocated %d", len(file), got)
		}
		// The file reader must agree with the byte decoder.
		if err := os.WriteFile(path, file, 0o644); err != nil {
			t.Fatal(err)
		}
		fromFile, ferr := readBlob(path, header, len0, len1)
		if (err == nil) != (ferr == nil) {
			t.Fatalf("decodeBlob error %v, readBlob error %v", err, ferr)
		}
		if err != nil {
			checkNamed(t, err, "fuzz.blob")
			checkNamed(t, ferr, path)
			return
		}
		if len(arrs) != 2 || len(arrs[0]) != len0 || len(arrs[1]) != len1 {
			t.Fatalf("read arrays of %d and %d values; want %d and %d", len(arrs[0]), len(arrs[1]), len0, len1)
		}
		if !bytes.Equal(encodeBlob(header, arrs...), file) || !bytes.Equal(encodeBlob(header, fromFile...), file) {
			t.Fatal("the arrays read do not encode back to the file: data lost or invented")
		}
	})
}

// darcyRequest returns the request a Darcy file's header states, if its
// settings are valid and resolved.
func darcyRequest(b []byte) (cfg DarcyConfig, seed, first uint64, n int, ok bool) {
	if len(b) < darcyHeaderLen {
		return cfg, 0, 0, 0, false
	}
	v := func(i int) uint64 { return binary.LittleEndian.Uint64(b[12+8*i:]) }
	g := func(i int) float64 { return math.Float64frombits(v(i)) }
	cfg = DarcyConfig{S: int(v(0)), Modes: int(v(1)), High: g(2), Low: g(3), Tau: g(4), Alpha: g(5), Tol: g(6)}
	if r, err := cfg.resolved(); err != nil || r != cfg {
		return cfg, 0, 0, 0, false
	}
	return cfg, v(7), v(8), int(v(9)), true
}

func FuzzDarcyCache(f *testing.F) {
	dir := f.TempDir()
	cfg, _ := DarcyConfig{S: 8}.resolved()
	for _, n := range []int{2, 0} {
		sub := filepath.Join(dir, "n"+string(rune('0'+n)))
		if _, err := LoadDarcy(sub, cfg, 1, n); err != nil {
			f.Fatal(err)
		}
		for _, b := range damaged(onlyFile(f, sub, "darcy-*.bin"), darcyHeaderLen-1) {
			f.Add(b, false)
			f.Add(b, true)
		}
	}
	f.Fuzz(func(t *testing.T, file []byte, fixSum bool) {
		if fixSum {
			file = withCRC(file)
		}
		rcfg, seed, first, n, ok := darcyRequest(file)
		if !ok {
			rcfg, seed, first, n = cfg, 1, 0, 2
		}
		var d *DarcySet
		var err error
		if got := allocated(func() { d, err = decodeDarcy(file, "fuzz.bin", rcfg, seed, first, n) }); got > allocLimit(len(file), 4) {
			t.Fatalf("decoding %d bytes allocated %d", len(file), got)
		}
		if err != nil {
			checkNamed(t, err, "fuzz.bin")
			return
		}
		s, p := rcfg.S, rcfg.S*rcfg.S
		if d.S != s || d.N != n || len(d.A) != n*p || len(d.U) != n*p || d.Config != rcfg || d.Seed != seed || d.First != first {
			t.Fatalf("set of S %d, N %d, %d and %d values; asked for S %d, N %d", d.S, d.N, len(d.A), len(d.U), s, n)
		}
		for i := range d.A {
			r, c := i%p/s, i%s
			u := float64(d.U[i])
			if d.A[i] != float32(rcfg.High) && d.A[i] != float32(rcfg.Low) || math.IsNaN(u) || math.IsInf(u, 0) ||
				(r == 0 || c == 0 || r == s-1 || c == s-1) && u != 0 {
				t.Fatalf("value %d: a = %g, u = %g accepted", i, d.A[i], u)
			}
		}
		if !bytes.Equal(encodeDarcy(d), file) {
			t.Fatal("the set read does not encode back to the file: data lost or invented")
		}
	})
}

// nsRequest returns the request a Navier–Stokes file's header states, if
// its settings are valid and resolved.
func nsRequest(b []byte) (cfg NavierStokesConfig, seed, first uint64, n int, ok bool) {
	if len(b) < 8+4+12*8 {
		return cfg, 0, 0, 0, false
	}
	v := func(i int) uint64 { return binary.LittleEndian.Uint64(b[12+8*i:]) }
	g := func(i int) float64 { return math.Float64frombits(v(i)) }
	cfg = NavierStokesConfig{S: int(v(0)), Nu: g(1), Amplitude: g(2), ForceK: int(v(3)), Modes: int(v(4)),
		Perturbation: g(5), Tol: g(6), MaxSteps: int(v(7))}
	if r, err := cfg.resolved(); err != nil || r != cfg {
		return cfg, 0, 0, 0, false
	}
	return cfg, v(8), v(9), int(v(10)), true
}

func FuzzNavierStokesCache(f *testing.F) {
	dir := f.TempDir()
	cfg, _ := NavierStokesConfig{S: 8, ForceK: 2, Modes: 2}.resolved()
	for _, c := range []struct {
		n     int
		first uint64
	}{{2, 0}, {0, NavierStokesTestFirst}} {
		sub := filepath.Join(dir, "n"+string(rune('0'+c.n)))
		if _, err := loadNavierStokes(sub, cfg, 1, c.first, c.n); err != nil {
			f.Fatal(err)
		}
		for _, b := range damaged(onlyFile(f, sub, "navier-stokes-*.bin"), 8+4+10*8) {
			f.Add(b, false)
			f.Add(b, true)
		}
	}
	f.Fuzz(func(t *testing.T, file []byte, fixSum bool) {
		if fixSum {
			file = withCRC(file)
		}
		rcfg, seed, first, n, ok := nsRequest(file)
		if !ok {
			rcfg, seed, first, n = cfg, 1, 0, 2
		}
		var d *NavierStokesSet
		var err error
		if got := allocated(func() { d, err = decodeNavierStokes(file, "fuzz.bin", rcfg, seed, first, n) }); got > allocLimit(len(file), 8) {
			t.Fatalf("decoding %d bytes allocated %d", len(file), got)
		}
		if err != nil {
			checkNamed(t, err, "fuzz.bin")
			return
		}
		p := rcfg.S * rcfg.S
		if d.S != rcfg.S || d.N != n || len(d.F) != 2*n*p || len(d.Omega) != n*p || len(d.Draw) != n || len(d.Residual) != n ||
			d.Config != rcfg || d.Seed != seed || d.First != first {
			t.Fatalf("set of S %d, N %d with %d, %d, %d, %d values; asked for S %d, N %d", d.S, d.N, len(d.F), len(d.Omega), len(d.Draw), len(d.Residual), rcfg.S, n)
		}
		for _, x := range [][]float64{d.F, d.Omega, d.Residual} {
			for i, v := range x {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("value %d is %g", i, v)
				}
			}
		}
		st := d.Stats
		if st.Kept != n || st.Drawn != st.Kept+st.Rejected() || n > 0 && d.Draw[n-1]-first != uint64(st.Drawn-1) {
			t.Fatalf("stats %+v accepted for draws %v", st, d.Draw)
		}
		for k, r := range d.Residual {
			if !(r >= 0 && r <= nsKeepTol) || k > 0 && d.Draw[k] <= d.Draw[k-1] {
				t.Fatalf("sample %d: residual %g, draw %d accepted", k, r, d.Draw[k])
			}
		}
		if !bytes.Equal(encodeNavierStokes(d), file) {
			t.Fatal("the set read does not encode back to the file: data lost or invented")
		}
	})
}

// lpRequest returns the request an LP file's header states, if its
// settings are valid, resolved and small enough that verifying an
// instance stays cheap (the dual LP is dense, N×(2N+M)).
func lpRequest(b []byte) (cfg LPConfig, seed uint64, n int, ok bool) {
	if len(b) < lpHeaderSize {
		return cfg, 0, 0, false
	}
	v := func(i int) uint64 { return binary.LittleEndian.Uint64(b[12+8*i:]) }
	g := func(i int) float64 { return math.Float64frombits(v(i)) }
	cfg = LPConfig{M: int(v(0)), N: int(v(1)), NNZ: int(v(2)), PEq: g(3), CScale: g(4), BoundStd: g(5)}
	if r, err := cfg.withDefaults(); err != nil || r != cfg || cfg.M > 16 || cfg.N > 16 {
		return cfg, 0, 0, false
	}
	return cfg, v(6), int(v(7)), true
}

func FuzzLPCache(f *testing.F) {
	dir := f.TempDir()
	cfg, _ := LPConfig{M: 4, N: 8}.withDefaults()
	for _, n := range []int{3, 0} {
		sub := filepath.Join(dir, "n"+string(rune('0'+n)))
		if _, _, err := LoadLPs(sub, cfg, 1, n); err != nil {
			f.Fatal(err)
		}
		for _, b := range damaged(onlyFile(f, sub, "lp-*.bin"), lpHeaderSize-1) {
			f.Add(b, false)
			f.Add(b, true)
		}
	}
	f.Fuzz(func(t *testing.T, file []byte, fixSum bool) {
		if fixSum {
			file = withSHA(file)
		}
		rcfg, seed, n, ok := lpRequest(file)
		if !ok {
			rcfg, seed, n = cfg, 1, 3
		}
		var lps []LP
		var st LPStats
		var err error
		// Verifying an instance solves small dense systems: the limit per
		// input byte covers them at these sizes.
		if got := allocated(func() { lps, st, err = decodeLPs(file, "fuzz.bin", rcfg, seed, n) }); got > allocLimit(len(file), 256) {
			t.Fatalf("decoding %d bytes allocated %d", len(file), got)
		}
		if err != nil {
			checkNamed(t, err, "fuzz.bin")
			return
		}
		if len(lps) != n || st.Kept != n || st.Drawn != st.Kept+st.Rejected() || st.Drawn < n {
			t.Fatalf("%d instances with stats %v; asked for %d", len(lps), st, n)
		}
		for k := range lps {
			if err := VerifyLP(&lps[k], lpTol); err != nil {
				t.Fatalf("instance %d accepted but fails verification: %v", k, err)
			}
			if lps[k].M != rcfg.M || lps[k].N != rcfg.N || len(lps[k].Vals) != rcfg.NNZ || k > 0 && lps[k].Index <= lps[k-1].Index {
				t.Fatalf("instance %d: %d×%d with %d nonzeros, index %d", k, lps[k].M, lps[k].N, len(lps[k].Vals), lps[k].Index)
			}
		}
		if !bytes.Equal(encodeLPs(lps, st, rcfg, seed), file) {
			t.Fatal("the instances read do not encode back to the file: data lost or invented")
		}
	})
}

// deblurRequest returns the request a deblurring file's header states, if
// its settings are valid and resolved.
func deblurRequest(b []byte) (source, split string, cfg DeblurConfig, seed uint64, n int, ok bool) {
	off := 12
	str := func() (string, bool) {
		if len(b) < off+4 {
			return "", false
		}
		k := int(binary.LittleEndian.Uint32(b[off:]))
		if k > 16 || len(b) < off+4+k {
			return "", false
		}
		s := string(b[off+4 : off+4+k])
		off += 4 + k
		return s, true
	}
	var s [3]string
	for i := range s {
		if s[i], ok = str(); !ok {
			return
		}
	}
	if len(b) < off+6*8 {
		return "", "", cfg, 0, 0, false
	}
	v := func(i int) uint64 { return binary.LittleEndian.Uint64(b[off+8*i:]) }
	cfg = DeblurConfig{Kernel: s[2], Noise: math.Float64frombits(v(0)), Train: int(v(1)), Val: int(v(2)), Test: int(v(3))}
	if r, err := cfg.resolved(); err != nil || r != cfg {
		return "", "", cfg, 0, 0, false
	}
	return s[0], s[1], cfg, v(4), int(v(5)), true
}

// writeDeblurSource writes a tiny MNIST-like dataset of 28×28 images to
// dir, train and test images with random pixels.
func writeDeblurSource(t testing.TB, dir string, train, test int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		images, labels string
		n              int
	}{{trainImages, trainLabels, train}, {testImages, testLabels, test}} {
		px := synthetic(s.n, uint64(s.n)).X
		b := make([]byte, len(px))
		for i, v := range px {
			b[i] = byte(v * 255)
		}
		for _, w := range []struct {
			name string
			data []byte
		}{{s.images, ubyteFile([]int{s.n, 28, 28}, b)}, {s.labels, ubyteFile([]int{s.n}, make([]byte, s.n))}} {
			if err := os.WriteFile(filepath.Join(dir, w.name), gz(w.data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func FuzzDeblurCache(f *testing.F) {
	dir := f.TempDir()
	src := filepath.Join(dir, "source")
	writeDeblurSource(f, src, 4, 2)
	cfg, _ := DeblurConfig{Train: 2, Val: 1, Test: 1}.resolved()
	cache := filepath.Join(dir, "cache")
	if _, _, _, err := LoadDeblur("mnist", src, cache, cfg, 1); err != nil {
		f.Fatal(err)
	}
	hdr := len(deblurHeader("mnist", "train", cfg, 1, 2))
	for _, split := range deblurSplits {
		for _, b := range damaged(onlyFile(f, cache, "deblur-*-"+split+"-*.bin"), hdr-1) {
			f.Add(b, false)
			f.Add(b, true)
		}
	}
	f.Fuzz(func(t *testing.T, file []byte, fixSum bool) {
		if fixSum {
			file = withCRC(file)
		}
		source, split, rcfg, seed, n, ok := deblurRequest(file)
		if !ok {
			source, split, rcfg, seed, n = "mnist", "train", cfg, 1, 2
		}
		var d *DeblurSet
		var err error
		if got := allocated(func() { d, err = decodeDeblur(file, "fuzz.bin", source, split, rcfg, seed, n) }); got > allocLimit(len(file), 4) {
			t.Fatalf("decoding %d bytes allocated %d", len(file), got)
		}
		if err != nil {
			checkNamed(t, err, "fuzz.bin")
			return
		}
		p := deblurSide * deblurSide
		if d.N != n || d.H != deblurSide || d.W != deblurSide || len(d.X) != n*p || len(d.Y) != n*p ||
			d.Source != source || d.Split != split || d.Config != rcfg || d.Seed != seed {
			t.Fatalf("set of %d %d×%d pairs with %d and %d values; asked for %d", d.N, d.H, d.W, len(d.X), len(d.Y), n)
		}
		for i := range d.X {
			if x := float64(d.X[i]); math.IsNaN(x) || math.IsInf(x, 0) || !(d.Y[i] >= 0 && d.Y[i] <= 1) {
				t.Fatalf("pixel %d: measurement %g, clean %g accepted", i, d.X[i], d.Y[i])
			}
		}
		if !bytes.Equal(encodeBlob(deblurHeader(source, split, rcfg, seed, n), d.X, d.Y), file) {
			t.Fatal("the pairs read do not encode back to the file: data lost or invented")
		}
	})
}

func FuzzLoadIDXPair(f *testing.F) {
	images := ubyteFile([]int{3, 2, 2}, pixels(3, 2, 2))
	labels := ubyteFile([]int{3}, []byte{0, 9, 4})
	for _, im := range damaged(images, 3) {
		f.Add(im, labels, uint8(10))
		f.Add(gz(im), gz(labels), uint8(10))
	}
	for _, lb := range damaged(labels, 3) {
		f.Add(images, lb, uint8(10))
	}
	f.Add(images, labels, uint8(9))                                           // label 9 out of range
	f.Add(images, labels, uint8(0))                                           // no classes
	f.Add(labels, images, uint8(10))                                          // swapped
	f.Add(ubyteFile([]int{0, 1, 1}, nil), ubyteFile([]int{0}, nil), uint8(1)) // empty split
	dir := f.TempDir()
	imPath, lbPath := filepath.Join(dir, "images.idx"), filepath.Join(dir, "labels.idx")
	f.Fuzz(func(t *testing.T, im, lb []byte, classes uint8) {
		if err := os.WriteFile(imPath, im, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(lbPath, lb, 0o644); err != nil {
			t.Fatal(err)
		}
		var d *Labeled
		var err error
		// Gzip may expand its input a thousandfold, and the pixels grow
		// fourfold as float32.
		if got := allocated(func() { d, err = LoadIDXPair(imPath, lbPath, int(classes)) }); got > allocLimit(len(im)+len(lb), 8*1032) {
			t.Fatalf("loading %d bytes allocated %d", len(im)+len(lb), got)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "datasets: ") || classes > 0 && !strings.Contains(err.Error(), imPath) && !strings.Contains(err.Error(), lbPath) {
				t.Fatalf("error %q names neither file", err)
			}
			return
		}
		if d.N != len(d.Labels) || len(d.X) != d.N*d.Rows*d.Cols || d.Rows < 1 || d.Cols < 1 || d.Classes != int(classes) {
			t.Fatalf("set of %d %d×%d images with %d labels and %d pixels", d.N, d.Rows, d.Cols, len(d.Labels), len(d.X))
		}
		for i, l := range d.Labels {
			if int(l) >= d.Classes {
				t.Fatalf("label %d of sample %d accepted for %d classes", l, i, d.Classes)
			}
		}
		for i, v := range d.X {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("pixel %d is %g", i, v)
			}
		}
	})
}
