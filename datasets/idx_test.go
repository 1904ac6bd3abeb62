package datasets

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParseIDX(t *testing.T) {
	valid := ubyteFile([]int{2, 3}, []byte{1, 2, 3, 4, 5, 6})
	for _, c := range []struct {
		name string
		in   []byte
		dims []int    // on success
		want []string // substrings of the error; none for success
	}{
		{"ubyte", valid, []int{2, 3}, nil},
		{"float64", idxFile(IDXFloat64, []int{1}, make([]byte, 8)), []int{1}, nil},
		{"int16 3-D", idxFile(IDXInt16, []int{1, 2, 2}, make([]byte, 8)), []int{1, 2, 2}, nil},
		{"zero-size dim", ubyteFile([]int{0, 28, 28}, nil), []int{0, 28, 28}, nil},
		{"empty", nil, nil, []string{"empty file"}},
		{"short magic", []byte{0, 0}, nil, []string{"truncated header", "2 of 4 magic bytes"}},
		{"wrong magic", append([]byte{1, 0}, valid[2:]...), nil, []string{"wrong magic number 01 00 08 02"}},
		{"unknown type", append([]byte{0, 0, 0x42}, valid[3:]...), nil, []string{"unknown IDX element type 0x42"}},
		{"zero dims", []byte{0, 0, IDXUint8, 0}, nil, []string{"zero dimensions"}},
		{"truncated dims", valid[:6], nil, []string{"truncated header", "2 dimensions announced, 2 of their 8 bytes"}},
		{"truncated data", valid[:len(valid)-2], nil, []string{"truncated data", "need 6 bytes, found 4"}},
		{"truncated wide data", idxFile(IDXInt32, []int{3}, make([]byte, 11)), nil, []string{"need 12 bytes, found 11"}},
		{"trailing bytes", append(slices.Clone(valid), 9, 9), nil, []string{"2 trailing bytes"}},
		{"absurd size", ubyteFile([]int{1 << 20, 1 << 20}, nil), nil, []string{"more than 2147483648 bytes", "corrupt"}},
		{"absurd size of wide type", idxFile(IDXFloat64, []int{1<<28 + 1}, nil), nil, []string{"more than 2147483648 bytes"}},
		{"absurd size beside a zero dim", ubyteFile([]int{0, 1 << 31, 1 << 31}, nil), nil, []string{"more than 2147483648 bytes"}},
	} {
		// Each case three ways: a reader of known size, a stream of
		// unknown size, and gzipped.
		for _, v := range []struct {
			name string
			r    io.Reader
		}{
			{"sized", bytes.NewReader(c.in)},
			{"stream", iotest.HalfReader(bytes.NewReader(c.in))},
			{"gzip", bytes.NewReader(gz(c.in))},
		} {
			t.Run(c.name+"/"+v.name, func(t *testing.T) {
				x, err := ParseIDX(v.r, "f.idx")
				if c.want == nil {
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(x.Dims, c.dims) || len(x.Data) != x.Len()*elemSize(x.Type) {
						t.Fatalf("parsed dims %v with %d bytes, want dims %v", x.Dims, len(x.Data), c.dims)
					}
					return
				}
				if err == nil {
					t.Fatalf("parsed %v, want an error", x.Dims)
				}
				for _, w := range append([]string{"datasets: f.idx: "}, c.want...) {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
			})
		}
	}
}

// TestParseIDXGzipDamage checks that damage to the gzip layer is an error,
// in particular a checksum mismatch, which surfaces only after the data.
func TestParseIDXGzipDamage(t *testing.T) {
	valid := gz(ubyteFile([]int{2, 3}, []byte{1, 2, 3, 4, 5, 6}))
	badSum := slices.Clone(valid)
	badSum[len(badSum)-8] ^= 0xff // the CRC-32 precedes the 4-byte size
	for _, c := range []struct {
		name string
		in   []byte
		want string
	}{
		{"bad header", []byte{0x1f, 0x8b, 1, 2, 3}, "corrupt gzip header"},
		{"cut stream", valid[:len(valid)-10], "truncated"},
		{"bad checksum", badSum, "checksum"},
		{"garbage after", append(slices.Clone(valid), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12), "corrupt"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseIDX(bytes.NewReader(c.in), "f.gz")
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "datasets: f.gz: ") {
				t.Fatalf("error %v, want one naming f.gz and mentioning %q", err, c.want)
			}
		})
	}
	// Concatenated gzip members are one stream, as gunzip reads them.
	raw := ubyteFile([]int{2, 3}, []byte{1, 2, 3, 4, 5, 6})
	two := append(gz(raw[:7]), gz(raw[7:])...)
	if _, err := ParseIDX(bytes.NewReader(two), "two.gz"); err != nil {
		t.Errorf("two gzip members: %v", err)
	}
}

func TestReadIDX(t *testing.T) {
	dir := t.TempDir()
	raw := ubyteFile([]int{2, 3}, []byte{1, 2, 3, 4, 5, 6})
	for _, c := range []struct {
		name, file string
		content    []byte
		want       string // error substring; empty for success
	}{
		// Gzip is told by content, not by name.
		{"plain named .gz", "plain.gz", raw, ""},
		{"gzip named .idx", "zipped.idx", gz(raw), ""},
		{"truncated file", "cut.idx", raw[:len(raw)-1], "need 6 bytes, found 5"},
		{"missing file", "", nil, "no such file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, "absent")
			if c.file != "" {
				path = writeFile(t, dir, c.file, c.content)
			}
			x, err := ReadIDX(path)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(x.Data, raw[12:]) {
					t.Fatalf("data %v", x.Data)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %v, want one naming %s and mentioning %q", err, path, c.want)
			}
		})
	}
}

// TestParseIDXPipe checks that a pipe, whose size os.Stat reports as 0,
// is read as a stream rather than judged truncated.
func TestParseIDXPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Skip(err)
	}
	defer r.Close()
	go func() {
		w.Write(ubyteFile([]int{3}, []byte{7, 8, 9}))
		w.Close()
	}()
	x, err := ParseIDX(r, "pipe")
	if err != nil || !bytes.Equal(x.Data, []byte{7, 8, 9}) {
		t.Fatalf("parsed %v, %v", x, err)
	}
}

func TestIDXDecode(t *testing.T) {
	be := binary.BigEndian
	f32 := be.AppendUint32(nil, math.Float32bits(-1.5))
	f64 := be.AppendUint64(nil, math.Float64bits(2.25))
	for _, c := range []struct {
		name string
		x    IDX
		want []float32
	}{
		{"uint8", IDX{IDXUint8, []int{2}, []byte{0, 255}}, []float32{0, 255}},
		{"int8", IDX{IDXInt8, []int{2}, []byte{0x80, 0x7f}}, []float32{-128, 127}},
		{"int16", IDX{IDXInt16, []int{1}, []byte{0xff, 0xfe}}, []float32{-2}},
		{"int32", IDX{IDXInt32, []int{1}, []byte{0, 1, 0, 0}}, []float32{65536}},
		{"float32", IDX{IDXFloat32, []int{1}, f32}, []float32{-1.5}},
		{"float64", IDX{IDXFloat64, []int{1}, f64}, []float32{2.25}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.x.Float32s()
			if err != nil || !slices.Equal(got, c.want) {
				t.Fatalf("Float32s = %v, %v; want %v", got, err, c.want)
			}
			_, err = c.x.Uint8s()
			if (err == nil) != (c.x.Type == IDXUint8) {
				t.Fatalf("Uint8s error %v for type 0x%02x", err, c.x.Type)
			}
		})
	}
	// Hand-built values that ParseIDX would never return are errors.
	for _, x := range []IDX{
		{IDXUint8, []int{3}, []byte{1}},
		{IDXInt32, []int{1}, []byte{1, 2}},
		{0x42, []int{1}, []byte{1}},
		{IDXUint8, nil, []byte{1}},
	} {
		if _, err := x.Float32s(); err == nil {
			t.Errorf("Float32s of inconsistent %+v: no error", x)
		}
		if _, err := x.Uint8s(); err == nil {
			t.Errorf("Uint8s of inconsistent %+v: no error", x)
		}
	}
}

// TestParseIDXGzipLyingHeader checks that a small gzip file whose header
// announces far more data than it can expand to costs an allocation in
// proportion to the file, not to the header (FuzzLoadIDXPair found one of
// 20 bytes that took 12 MB).
func TestParseIDXGzipLyingHeader(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		in   []byte
	}{
		{"found by FuzzLoadIDXPair", []byte("\x1f\x8b\bA000000b`\xe0ad0000")}, // int32, dims [3158064]
		{"1 GiB announced", gz(ubyteFile([]int{1 << 15, 1 << 15}, []byte{1, 2, 3}))},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, dir, "lying.gz", c.in)
			for _, read := range []func() error{
				func() error { _, err := ParseIDX(bytes.NewReader(c.in), path); return err },
				func() error { _, err := ReadIDX(path); return err },
			} {
				var err error
				// The gzip and buffered readers take ~100 kB of their own;
				// the header alone used to cost 12 to 16 MiB.
				if got := allocated(func() { err = read() }); got > 1<<20 {
					t.Errorf("reading %d bytes allocated %d", len(c.in), got)
				}
				if err == nil || !strings.Contains(err.Error(), path) {
					t.Errorf("error %v; want one naming %s", err, path)
				}
			}
		})
	}
}

// TestReadDataGrows checks the growing buffer past its first allocation.
func TestReadDataGrows(t *testing.T) {
	total := int64(initialDataCap + initialDataCap/2 + 3)
	b, err := readData(io.LimitReader(iotest.HalfReader(zeros{}), total), total, initialDataCap)
	if err != nil || int64(len(b)) != total {
		t.Fatalf("read %d of %d bytes: %v", len(b), total, err)
	}
	b, err = readData(io.LimitReader(zeros{}, 5), total, 0)
	if err != io.ErrUnexpectedEOF || len(b) != 5 {
		t.Fatalf("short input: %d bytes, %v", len(b), err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func FuzzParseIDX(f *testing.F) {
	valid := ubyteFile([]int{2, 3}, []byte{1, 2, 3, 4, 5, 6})
	for _, b := range [][]byte{
		valid,
		gz(valid),
		idxFile(IDXFloat64, []int{1, 1}, []byte{1, 2, 3, 4, 5, 6, 7, 8}),
		idxFile(IDXInt16, []int{2}, []byte{1, 2, 3, 4}),
		ubyteFile([]int{0, 5}, nil),
		nil,
		valid[:3],            // truncated magic
		valid[:9],            // truncated dims
		valid[:len(valid)-1], // truncated data
		append(slices.Clone(valid), 0),
		append([]byte{1, 2}, valid[2:]...),
		{0, 0, 0x42, 1, 0, 0, 0, 1, 0},
		{0, 0, IDXUint8, 0},
		{0, 0, IDXUint8, 3, 255, 255, 255, 255},
		gz([]byte{0, 0, IDXUint8, 2, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 1, 1}),
		{0x1f, 0x8b, 8, 0},
	} {
		f.Add(b)
	}
	f.Add(gz(ubyteFile([]int{1 << 15, 1 << 15}, []byte{1, 2, 3}))) // 1 GiB announced by a few bytes
	f.Fuzz(func(t *testing.T, in []byte) {
		var x *IDX
		var err error
		// Of known size, a file costs what it holds, gzip expanded at most
		// maxDeflateRatio-fold.
		if got := allocated(func() { x, err = ParseIDX(bytes.NewReader(in), "fuzz") }); got > allocLimit(len(in), 2*maxDeflateRatio) {
			t.Fatalf("parsing %d bytes allocated %d", len(in), got)
		}
		// Read as a stream of unknown size, it may cost initialDataCap
		// more before the data run out, and must come to the same result.
		var sx *IDX
		var serr error
		if got := allocated(func() { sx, serr = ParseIDX(iotest.HalfReader(bytes.NewReader(in)), "fuzz") }); got > allocLimit(len(in), 2*maxDeflateRatio)+initialDataCap {
			t.Fatalf("streaming %d bytes allocated %d", len(in), got)
		}
		if (err == nil) != (serr == nil) || err == nil && (sx.Type != x.Type || !slices.Equal(sx.Dims, x.Dims) || !bytes.Equal(sx.Data, x.Data)) {
			t.Fatalf("sized and streamed parses differ: %v, %v", err, serr)
		}
		if err != nil {
			for _, e := range []error{err, serr} {
				if !strings.HasPrefix(e.Error(), "datasets: fuzz: ") {
					t.Fatalf("error %q does not name the input", e)
				}
			}
			return
		}
		if len(x.Dims) == 0 || len(x.Data) != x.Len()*elemSize(x.Type) || elemSize(x.Type) == 0 {
			t.Fatalf("inconsistent parse: %d bytes for dims %v of type 0x%02x", len(x.Data), x.Dims, x.Type)
		}
	})
}
