package datasets

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

// trainDataset is train.Dataset, declared here so that the compiler checks
// the contract without this package importing train.
type trainDataset interface {
	Len() int
	InputShape() []int
	TargetShape() []int
	Sample(i int, x, y []float32)
}

var _ trainDataset = (*Labeled)(nil)

func TestLoadIDXPair(t *testing.T) {
	px := pixels(5, 2, 3)
	labels := []byte{0, 1, 2, 1, 0}
	for _, c := range []struct {
		name           string
		images, labels []byte
		classes        int
		want           []string // error substrings; none for success
	}{
		{"plain", ubyteFile([]int{5, 2, 3}, px), ubyteFile([]int{5}, labels), 3, nil},
		{"gzip", gz(ubyteFile([]int{5, 2, 3}, px)), gz(ubyteFile([]int{5}, labels)), 3, nil},
		{"gzip images, plain labels", gz(ubyteFile([]int{5, 2, 3}, px)), ubyteFile([]int{5}, labels), 3, nil},
		{"count mismatch", ubyteFile([]int{5, 2, 3}, px), ubyteFile([]int{3}, labels[:3]), 3,
			[]string{"count mismatch", "images.idx holds 5 images", "labels.idx holds 3 labels"}},
		{"count mismatch gzip", gz(ubyteFile([]int{4, 2, 3}, px[:24])), gz(ubyteFile([]int{5}, labels)), 3,
			[]string{"count mismatch", "images.idx holds 4 images", "labels.idx holds 5 labels"}},
		{"label out of range", ubyteFile([]int{5, 2, 3}, px), ubyteFile([]int{5}, []byte{0, 1, 7, 1, 0}), 3,
			[]string{"labels.idx", "label 7 of sample 2 is not below 3 classes"}},
		{"no classes", ubyteFile([]int{5, 2, 3}, px), ubyteFile([]int{5}, labels), 0, []string{"0 classes", "1 to 256"}},
		{"too many classes", ubyteFile([]int{5, 2, 3}, px), ubyteFile([]int{5}, labels), 257, []string{"257 classes"}},
		{"files swapped", ubyteFile([]int{5}, labels), ubyteFile([]int{5, 2, 3}, px), 3,
			[]string{"labels.idx", "want 1-D unsigned-byte labels", "dims [5 2 3]"}},
		{"images 2-D", ubyteFile([]int{5, 6}, px), ubyteFile([]int{5}, labels), 3,
			[]string{"images.idx", "want 3-D unsigned-byte images"}},
		{"images of int16", idxFile(IDXInt16, []int{5, 1, 3}, px), ubyteFile([]int{5}, labels), 3,
			[]string{"images.idx", "type 0x0b"}},
		{"empty images", ubyteFile([]int{5, 0, 3}, nil), ubyteFile([]int{5}, labels), 3, []string{"images.idx", "images of 0×3 pixels"}},
		{"truncated images", ubyteFile([]int{5, 2, 3}, px[:29]), ubyteFile([]int{5}, labels), 3,
			[]string{"images.idx", "truncated data", "need 30 bytes, found 29"}},
		{"truncated labels", ubyteFile([]int{5, 2, 3}, px), gz(ubyteFile([]int{5}, labels[:4])), 3,
			[]string{"labels.idx", "truncated data", "need 5 bytes, found 4"}},
		{"wrong magic", []byte("P5\n2 3\n255\n"), ubyteFile([]int{5}, labels), 3, []string{"images.idx", "wrong magic"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			im := writeFile(t, dir, "images.idx", c.images)
			lb := writeFile(t, dir, "labels.idx", c.labels)
			d, err := LoadIDXPair(im, lb, c.classes)
			if c.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if d.N != 5 || d.Rows != 2 || d.Cols != 3 || d.Classes != 3 || len(d.X) != 30 || !slices.Equal(d.Labels, labels) {
					t.Fatalf("loaded %d×%d×%d, %d classes, %d pixels, labels %v", d.N, d.Rows, d.Cols, d.Classes, len(d.X), d.Labels)
				}
				for i, p := range px {
					if d.X[i] != float32(p)/255 {
						t.Fatalf("pixel %d = %v, want %d/255", i, d.X[i], p)
					}
				}
				return
			}
			if err == nil {
				t.Fatal("loaded, want an error")
			}
			for _, w := range append([]string{"datasets: "}, c.want...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// tinySet returns n 1×2 images whose pixels are 2i and 2i+1 and whose
// label is i mod 10: every sample identifies itself.
func tinySet(n int) *Labeled {
	d := &Labeled{N: n, Rows: 1, Cols: 2, Classes: 10, X: make([]float32, 2*n), Labels: make([]uint8, n)}
	for i := range n {
		d.X[2*i], d.X[2*i+1] = float32(2*i), float32(2*i+1)
		d.Labels[i] = uint8(i % 10)
	}
	return d
}

// ids returns the sample numbers of a subset of tinySet.
func ids(d *Labeled) []int {
	out := make([]int, d.N)
	for i := range out {
		out[i] = int(d.X[2*i]) / 2
	}
	return out
}

func TestSample(t *testing.T) {
	d := tinySet(12)
	x, y := make([]float32, 2), make([]float32, 10)
	y[0] = 9 // stale values must be cleared
	d.Sample(11, x, y)
	if !slices.Equal(x, []float32{22, 23}) || !slices.Equal(y, []float32{0, 1, 0, 0, 0, 0, 0, 0, 0, 0}) {
		t.Fatalf("sample 11: x %v y %v", x, y)
	}
	for _, c := range []struct {
		image bool
		want  []int
	}{
		{false, []int{2}},
		{true, []int{1, 1, 2}},
	} {
		d.Image = c.image
		if got := d.InputShape(); !slices.Equal(got, c.want) {
			t.Errorf("Image %v: InputShape %v, want %v", c.image, got, c.want)
		}
	}
	if d.Len() != 12 || !slices.Equal(d.TargetShape(), []int{10}) {
		t.Errorf("Len %d, TargetShape %v", d.Len(), d.TargetShape())
	}
}

func TestSplit(t *testing.T) {
	for _, c := range []struct {
		n, held int
	}{
		{3, 3}, {0, 0}, {10, 10}, {15, 10}, {-2, 0},
	} {
		t.Run(fmt.Sprint(c.n), func(t *testing.T) {
			d := tinySet(10)
			rest, held := d.Split(c.n, 42)
			if held.N != c.held || rest.N != 10-c.held || len(held.X) != 2*held.N || len(rest.Labels) != rest.N {
				t.Fatalf("split sizes: held %d, rest %d", held.N, rest.N)
			}
			all := append(ids(rest), ids(held)...)
			slices.Sort(all)
			if !slices.Equal(all, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
				t.Fatalf("samples lost or duplicated: %v", all)
			}
			for _, part := range []*Labeled{rest, held} {
				if !slices.IsSorted(ids(part)) {
					t.Errorf("order not kept: %v", ids(part))
				}
			}
			rest2, held2 := d.Split(c.n, 42)
			if !slices.Equal(ids(held), ids(held2)) || !slices.Equal(ids(rest), ids(rest2)) {
				t.Error("same seed, different split")
			}
		})
	}
	// Different seeds draw different samples (checked once: the draw is
	// deterministic).
	d := tinySet(100)
	_, a := d.Split(10, 1)
	_, b := d.Split(10, 2)
	if slices.Equal(ids(a), ids(b)) {
		t.Errorf("seeds 1 and 2 hold out the same samples %v", ids(a))
	}
}

func TestSubsetHead(t *testing.T) {
	d := tinySet(6)
	d.Name, d.Image = "tiny", true
	s := d.Subset([]int{4, 1, 4})
	if !slices.Equal(ids(s), []int{4, 1, 4}) || !slices.Equal(s.Labels, []uint8{4, 1, 4}) || s.Name != "tiny" || !s.Image {
		t.Fatalf("subset %+v", s)
	}
	s.X[0] = -1 // a copy: the original is untouched
	if d.X[8] != 8 {
		t.Fatal("Subset shares pixels with its source")
	}
	for _, c := range []struct{ n, want int }{{4, 4}, {0, 0}, {-1, 0}, {6, 6}, {100, 6}} {
		if h := d.Head(c.n); h.N != c.want || !slices.Equal(ids(h), []int{0, 1, 2, 3, 4, 5}[:c.want]) {
			t.Errorf("Head(%d) holds %v", c.n, ids(h))
		}
	}
}

func TestMeanStdStandardize(t *testing.T) {
	for _, c := range []struct {
		name      string
		x         []float32
		mean, std float32
	}{
		{"ramp", []float32{1, 2, 3, 4}, 2.5, float32(math.Sqrt(1.25))},
		{"constant", []float32{3, 3, 3}, 3, 0},
		{"empty", nil, 0, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := &Labeled{N: len(c.x), Rows: 1, Cols: 1, X: slices.Clone(c.x)}
			m, s := d.MeanStd()
			if math.Abs(float64(m-c.mean)) > 1e-6 || math.Abs(float64(s-c.std)) > 1e-6 {
				t.Fatalf("MeanStd = %v, %v; want %v, %v", m, s, c.mean, c.std)
			}
			d.Standardize(m, s)
			m2, s2 := d.MeanStd()
			wantStd := float32(1)
			if c.std == 0 && len(c.x) > 0 {
				wantStd = 0 // a constant stays constant, centred
			}
			if math.Abs(float64(m2)) > 1e-6 || math.Abs(float64(s2-wantStd)) > 1e-6 {
				t.Fatalf("after Standardize: mean %v std %v, want 0, %v", m2, s2, wantStd)
			}
		})
	}
	// Training statistics apply to other splits unchanged.
	test := &Labeled{X: []float32{2.5, 5}}
	test.Standardize(2.5, 0.5)
	if !slices.Equal(test.X, []float32{0, 5}) {
		t.Errorf("standardised test set %v", test.X)
	}
}
