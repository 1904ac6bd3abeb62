package datasets

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/implicit-ml/implicit/internal/blur"
)

// synthetic returns n random 28×28 "images" with distinct first pixels.
func synthetic(n int, seed uint64) *Labeled {
	rng := rand.New(rand.NewPCG(seed, 1))
	d := &Labeled{N: n, Rows: 28, Cols: 28, Classes: 10, X: make([]float32, n*784), Labels: make([]uint8, n)}
	for i := range d.X {
		d.X[i] = float32(rng.Float64())
	}
	return d
}

func TestMakeDeblur(t *testing.T) {
	src, test := synthetic(300, 1), synthetic(100, 2)
	cfg, err := DeblurConfig{Train: 120, Val: 30, Test: 40}.resolved()
	if err != nil {
		t.Fatal(err)
	}
	a, err := makeDeblur("mnist", src, test, cfg, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := makeDeblur("mnist", src, test, cfg, 7)
	c, _ := makeDeblur("mnist", src, test, cfg, 8)
	for k := range a {
		if !equal32(a[k].X, b[k].X) || !equal32(a[k].Y, b[k].Y) {
			t.Errorf("%s split differs between two draws with one seed", a[k].Split)
		}
		if equal32(a[k].X, c[k].X) {
			t.Errorf("%s split is the same for seeds 7 and 8", a[k].Split)
		}
	}
	if a[0].N != 120 || a[1].N != 30 || a[2].N != 40 {
		t.Fatalf("split sizes %d, %d, %d", a[0].N, a[1].N, a[2].N)
	}
	// Training and validation images are distinct source images (the
	// first pixel identifies one).
	seen := map[float32]bool{}
	for _, d := range a[:2] {
		for i := range d.N {
			v := d.Y[i*784]
			if seen[v] {
				t.Fatalf("image with first pixel %v appears twice across training and validation", v)
			}
			seen[v] = true
		}
	}
	// The measurement is A·y plus noise of the configured deviation; the
	// default kernel, camera shake, is not symmetric, so Aᵀ in place of A
	// fails here.
	if cfg.Kernel != "shake" {
		t.Fatalf("default kernel %q, want shake", cfg.Kernel)
	}
	k, _ := blur.Named(cfg.Kernel)
	for _, d := range a {
		ay := make([]float32, len(d.Y))
		blur.Apply(ay, d.Y, d.N, 28, 28, k, false)
		var s, s2 float64
		for i := range ay {
			e := float64(d.X[i] - ay[i])
			s += e
			s2 += e * e
		}
		n := float64(len(ay))
		mean, std := s/n, math.Sqrt(s2/n-(s/n)*(s/n))
		if math.Abs(mean) > 3*0.03/math.Sqrt(n) || math.Abs(std-0.03) > 0.001 {
			t.Errorf("%s: noise mean %.2g, std %.4g; want 0 and 0.03", d.Split, mean, std)
		}
	}
}

func TestDeblurConfigChecks(t *testing.T) {
	for _, cfg := range []DeblurConfig{{Noise: -1}, {Train: -1}, {Kernel: "box"}, {Noise: math.Inf(1)}} {
		if _, err := cfg.resolved(); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
	src := synthetic(10, 1)
	cfg, _ := DeblurConfig{Train: 8, Val: 5, Test: 1}.resolved()
	if _, err := makeDeblur("mnist", src, src, cfg, 1); err == nil {
		t.Error("more training and validation images than the source has: no error")
	}
	if _, _, _, err := LoadDeblur("cifar", "", t.TempDir(), DeblurConfig{}, 1); err == nil {
		t.Error("unknown source accepted")
	}
}

// TestLoadDeblurCache generates small MNIST splits, reads them back from
// the cache, and regenerates a corrupted file.
func TestLoadDeblurCache(t *testing.T) {
	dir := t.TempDir()
	cfg := DeblurConfig{Train: 50, Val: 10, Test: 20}
	tr, va, te, err := LoadDeblur("mnist", "", dir, cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "deblur-*.bin"))
	if len(files) != 3 {
		t.Fatalf("%d cache files, want 3: %v", len(files), files)
	}
	tr2, va2, te2, err := LoadDeblur("mnist", filepath.Join(dir, "no-mnist-here"), dir, cfg, 3) // from the cache: MNIST is not needed
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range [][2]*DeblurSet{{tr, tr2}, {va, va2}, {te, te2}} {
		if !equal32(p[0].X, p[1].X) || !equal32(p[0].Y, p[1].Y) || p[0].N != p[1].N {
			t.Errorf("%s split read back differs", p[0].Split)
		}
	}
	if tr.InputShape()[0] != 784 || tr.TargetShape()[0] != 784 {
		t.Errorf("shapes %v, %v", tr.InputShape(), tr.TargetShape())
	}
	x, y := make([]float32, 784), make([]float32, 784)
	te.Sample(3, x, y)
	if !equal32(x, te.X[3*784:4*784]) || !equal32(y, te.Y[3*784:4*784]) {
		t.Error("Sample does not return pair 3")
	}
	// Corrupt one file: it is regenerated, not trusted.
	raw, _ := os.ReadFile(files[0])
	raw[len(raw)/2] ^= 0xff
	if err := os.WriteFile(files[0], raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := LoadDeblur("mnist", filepath.Join(dir, "no-mnist-here"), dir, cfg, 3); err == nil {
		t.Error("corrupt cache file read without the source images: it was trusted")
	}
	tr3, _, _, err := LoadDeblur("mnist", "", dir, cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !equal32(tr3.X, tr.X) {
		t.Error("regenerated training split differs")
	}
}

func equal32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
