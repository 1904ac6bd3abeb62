package blur

import (
	"math"
	"math/rand/v2"
	"testing"
)

func kernels(t *testing.T) []Kernel {
	t.Helper()
	var out []Kernel
	for _, name := range []string{"gaussian", "motion", "shake"} {
		k, err := Named(name)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, k)
	}
	return out
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// TestAdjoint is the dot-product test ⟨Ax, y⟩ = ⟨x, Aᵀy⟩ in float64, on
// square and non-square images.
func TestAdjoint(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, k := range kernels(t) {
		for _, hw := range [][2]int{{28, 28}, {9, 13}} {
			h, w, n := hw[0], hw[1], 3
			x, y := make([]float64, n*h*w), make([]float64, n*h*w)
			for i := range x {
				x[i], y[i] = rng.NormFloat64(), rng.NormFloat64()
			}
			ax, aty := make([]float64, len(x)), make([]float64, len(y))
			Apply(ax, x, n, h, w, k, false)
			Apply(aty, y, n, h, w, k, true)
			l, r := dot(ax, y), dot(x, aty)
			if math.Abs(l-r) > 1e-10*math.Max(1, math.Abs(l)) {
				t.Errorf("%s on %d×%d: ⟨Ax, y⟩ = %.15g, ⟨x, Aᵀy⟩ = %.15g", k.Name, h, w, l, r)
			}
		}
	}
}

// TestApplyMatchesDefinition checks A against the sum that defines it,
// wrapping indices by hand, and that a constant image stays constant
// (the kernels sum to 1).
func TestApplyMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const h, w = 10, 12
	for _, k := range kernels(t) {
		x := make([]float64, h*w)
		for i := range x {
			x[i] = rng.Float64()
		}
		got := make([]float64, h*w)
		Apply(got, x, 1, h, w, k, false)
		c := k.K / 2
		for i := range h {
			for j := range w {
				want := 0.0
				for a := range k.K {
					for b := range k.K {
						want += k.W[a*k.K+b] * x[((i+a-c)%h+h)%h*w+((j+b-c)%w+w)%w]
					}
				}
				if math.Abs(got[i*w+j]-want) > 1e-14 {
					t.Fatalf("%s: (Ax)[%d,%d] = %v, want %v", k.Name, i, j, got[i*w+j], want)
				}
			}
		}
		ones := make([]float64, h*w)
		for i := range ones {
			ones[i] = 1
		}
		Apply(got, ones, 1, h, w, k, false)
		for _, v := range got {
			if math.Abs(v-1) > 1e-14 {
				t.Fatalf("%s: A·1 = %v, want 1", k.Name, v)
			}
		}
	}
}

// TestFloat32 checks that the float32 path computes the same operator.
func TestFloat32(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	k, _ := Named("gaussian")
	const h, w = 28, 28
	x64 := make([]float64, h*w)
	x32 := make([]float32, h*w)
	for i := range x64 {
		x64[i] = rng.Float64()
		x32[i] = float32(x64[i])
	}
	o64, o32 := make([]float64, h*w), make([]float32, h*w)
	Apply(o64, x64, 1, h, w, k, true)
	Apply(o32, x32, 1, h, w, k, true)
	for i := range o64 {
		if math.Abs(o64[i]-float64(o32[i])) > 1e-6 {
			t.Fatalf("pixel %d: float32 %v, float64 %v", i, o32[i], o64[i])
		}
	}
}

// TestSingularVectors checks that every Fourier mode is a singular vector
// with the singular value Spectrum reports: ‖A v‖ = σ and AᵀA v = σ² v.
func TestSingularVectors(t *testing.T) {
	const h, w = 28, 28
	for _, k := range kernels(t) {
		spec := Spectrum(k, h, w)
		if spec[0].Fy != 0 || spec[0].Fx != 0 || math.Abs(spec[0].Sigma-1) > 1e-12 {
			t.Errorf("%s: DC mode %+v, want σ = 1 (the kernel sums to 1)", k.Name, spec[0])
		}
		low := 1.0
		for _, m := range spec {
			low = math.Min(low, m.Sigma)
		}
		if !(low > 0) {
			t.Errorf("%s: smallest singular value %v; a zero would make some modes unmeasurable", k.Name, low)
		}
		for _, m := range AtRanks(k, h, w, []float64{0, 0.1, 0.3, 0.5, 0.7, 0.9}) {
			v := Vector(m, h, w)
			av, atav := make([]float64, h*w), make([]float64, h*w)
			Apply(av, v, 1, h, w, k, false)
			Apply(atav, av, 1, h, w, k, true)
			if got := math.Sqrt(dot(av, av)); math.Abs(got-m.Sigma) > 1e-12 {
				t.Errorf("%s mode %+v: ‖Av‖ = %v", k.Name, m, got)
			}
			for i := range v {
				if math.Abs(atav[i]-m.Sigma*m.Sigma*v[i]) > 1e-12 {
					t.Fatalf("%s mode %+v: AᵀAv ≠ σ²v at %d", k.Name, m, i)
				}
			}
		}
		ranked := AtRanks(k, h, w, []float64{0.1, 0.5, 0.9})
		if !(ranked[0].Sigma >= ranked[1].Sigma && ranked[1].Sigma >= ranked[2].Sigma) {
			t.Errorf("%s: ranks 0.1, 0.5, 0.9 have σ %v, %v, %v; want decreasing", k.Name, ranked[0].Sigma, ranked[1].Sigma, ranked[2].Sigma)
		}
		t.Logf("%s: σ at ranks 0.1/0.5/0.9 = %.3g/%.3g/%.3g, smallest %.3g", k.Name, ranked[0].Sigma, ranked[1].Sigma, ranked[2].Sigma, low)
	}
}

func TestKernelChecks(t *testing.T) {
	if _, err := Gaussian(6, 1); err == nil {
		t.Error("even Gaussian size accepted")
	}
	if _, err := Gaussian(7, 0); err == nil {
		t.Error("σ = 0 accepted")
	}
	if _, err := Motion(1); err == nil {
		t.Error("motion size 1 accepted")
	}
	if _, err := Named("box"); err == nil {
		t.Error("unknown kernel accepted")
	}
	k, _ := Named("gaussian")
	if err := k.Check(5, 28); err == nil {
		t.Error("5×28 images accepted for a 7×7 kernel")
	}
	if err := k.Check(28, 28); err != nil {
		t.Error(err)
	}
}

// TestApplyRowsMatchesLoops: the float32 product-kernel path gives what
// the loops give, for every named kernel, A and Aᵀ, square and oblong
// images down to the kernel's own size (the circular padding wraps).
func TestApplyRowsMatchesLoops(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, k := range kernels(t) {
		for _, sz := range [][2]int{{28, 28}, {9, 13}, {k.K, k.K}} {
			h, w := sz[0], sz[1]
			const n = 3
			x := make([]float32, n*h*w)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			for _, tr := range []bool{false, true} {
				got, want := make([]float32, len(x)), make([]float32, len(x))
				if !applyRows(got, x, n, h, w, k, tr) {
					t.Skip("no product kernel in this build or on this CPU: Apply takes the loops")
				}
				applyLoops(want, x, n, h, w, k, tr)
				for i := range want {
					if math.Abs(float64(got[i]-want[i])) > 1e-5 {
						t.Fatalf("%s %dx%d transpose %v: pixel %d = %v, loops %v", k.Name, h, w, tr, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// BenchmarkApply: A on 64 MNIST-sized images in float32, the loops
// against the product kernel.
func BenchmarkApply(b *testing.B) {
	k, _ := Named("gaussian")
	const n, h, w = 64, 28, 28
	x, out := make([]float32, n*h*w), make([]float32, n*h*w)
	b.Run("loops", func(b *testing.B) {
		for b.Loop() {
			applyLoops(out, x, n, h, w, k, false)
		}
	})
	b.Run("rows", func(b *testing.B) {
		for b.Loop() {
			Apply(out, x, n, h, w, k, false)
		}
	})
}
