package blur

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestCameraShakeKernel checks what every camera-shake kernel promises:
// odd size, non-negative weights summing to 1, and, when no exposure
// falls off the grid, a centre of mass exactly at the centre pixel
// (bilinear splatting keeps each point's mean position).
func TestCameraShakeKernel(t *testing.T) {
	for _, tc := range []struct {
		size int
		seed uint64
		cfg  ShakeConfig
	}{
		{9, 1, ShakeConfig{}},
		{9, 7, ShakeConfig{}},
		{11, 2, ShakeConfig{}},
		{31, 3, ShakeConfig{}},
		{5, 4, ShakeConfig{Length: 0.1, Sigma: 0.15}},
		{9, 5, ShakeConfig{Sigma: 0.6}}, // wide enough to lose exposure off the grid
	} {
		t.Run(fmt.Sprintf("%d×%d seed %d", tc.size, tc.size, tc.seed), func(t *testing.T) {
			p, err := NewShakePath(rand.New(rand.NewPCG(tc.seed, 0)), tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			k, outside, err := p.Splat(tc.size)
			if err != nil {
				t.Fatal(err)
			}
			if err := k.Check(k.K, k.K); err != nil || k.K != tc.size {
				t.Fatalf("kernel of size %d: %v", k.K, err)
			}
			sum, mr, mc := 0.0, 0.0, 0.0
			for i, v := range k.W {
				if !(v >= 0) {
					t.Fatalf("weight %d is %v", i, v)
				}
				sum += v
				mr += v * float64(i/k.K)
				mc += v * float64(i%k.K)
			}
			if math.Abs(sum-1) > 1e-12 {
				t.Errorf("weights sum to %v", sum)
			}
			c := float64(k.K / 2)
			t.Logf("outside %.3g, centre of mass (%.4f, %.4f), path length %.3f", outside, mr, mc, p.Length())
			if outside == 0 && (math.Abs(mr-c) > 1e-12 || math.Abs(mc-c) > 1e-12) {
				t.Errorf("centre of mass (%v, %v), want (%v, %v)", mr, mc, c, c)
			}
			if tc.cfg.Sigma >= 0.5 && outside == 0 {
				t.Errorf("σ = %v lost nothing off a %d×%d grid; the outside report is suspect", tc.cfg.Sigma, k.K, k.K)
			}
			k2, err := CameraShake(tc.size, rand.New(rand.NewPCG(tc.seed, 0)), tc.cfg)
			if err != nil || !slices.Equal(k.W, k2.W) {
				t.Errorf("CameraShake differs from NewShakePath+Splat for the same seed (%v)", err)
			}
		})
	}
}

// TestCameraShakeSeeds: a seed fixes the kernel, and different seeds
// give different kernels.
func TestCameraShakeSeeds(t *testing.T) {
	draw := func(seed uint64) []float64 {
		k, err := CameraShake(9, rand.New(rand.NewPCG(seed, 0)), ShakeConfig{})
		if err != nil {
			t.Fatal(err)
		}
		return k.W
	}
	if !slices.Equal(draw(3), draw(3)) {
		t.Error("the same seed gave two kernels")
	}
	if slices.Equal(draw(3), draw(4)) {
		t.Error("seeds 3 and 4 gave the same kernel")
	}
}

// TestShakePathShape: the path keeps ⌊Steps/2π⌋ points and each
// coordinate is centred.
func TestShakePathShape(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	for _, tc := range []struct {
		steps, points int
	}{{0, 159}, {1000, 159}, {100, 15}, {13, 2}} {
		p, err := NewShakePath(rng, ShakeConfig{Steps: tc.steps})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Row) != tc.points || len(p.Col) != tc.points {
			t.Errorf("Steps %d: %d×%d points, want %d", tc.steps, len(p.Row), len(p.Col), tc.points)
		}
		for _, c := range [][]float64{p.Row, p.Col} {
			m := 0.0
			for _, v := range c {
				m += v
			}
			if math.Abs(m/float64(len(c))) > 1e-15 {
				t.Errorf("Steps %d: coordinate mean %v, want 0", tc.steps, m/float64(len(c)))
			}
		}
	}
}

// TestShakeProcessStatistics checks the trajectory model by Monte Carlo:
// the uncentred process has the Matérn-5/2 covariance at several lags,
// and the mean polyline length is its exact expectation. Each step
// p_{i+1} − p_i is an isotropic 2-D Gaussian with per-coordinate variance
// 2(k(0) − k(Δ)), so its length has mean √(π/2)·√(2(k(0) − k(Δ))).
func TestShakeProcessStatistics(t *testing.T) {
	const draws = 2000
	cfg, err := ShakeConfig{}.resolved()
	if err != nil {
		t.Fatal(err)
	}
	dt := 2 * math.Pi / float64(cfg.Steps-1)
	lags := []int{0, 5, 20, 50, 100}
	cov := make([]float64, len(lags))
	length := 0.0
	rng := rand.New(rand.NewPCG(10, 11))
	for range draws {
		row, col := shakeProcess(rng, cfg)
		for i, l := range lags {
			cov[i] += row[0]*row[l] + col[0]*col[l]
		}
		length += ShakePath{Row: row, Col: col}.Length()
	}
	s2 := cfg.Sigma * cfg.Sigma
	for i, l := range lags {
		got := cov[i] / (2 * draws)
		want := matern52(float64(l)*dt, cfg.Sigma, cfg.Length)
		// Standard error of a product of unit-correlated Gaussians over
		// 2·draws samples is at most σ²·√(2/(2·draws)) ≈ 0.022σ²; allow 4.
		if math.Abs(got-want) > 4*s2*math.Sqrt(1.0/draws) {
			t.Errorf("lag %d (Δt = %.3f): covariance %.5f, want %.5f", l, float64(l)*dt, got, want)
		}
	}
	n := int(float64(cfg.Steps) / (2 * math.Pi))
	step := math.Sqrt(math.Pi/2) * math.Sqrt(2*(matern52(0, cfg.Sigma, cfg.Length)-matern52(dt, cfg.Sigma, cfg.Length)))
	want := float64(n-1) * step
	got := length / draws
	t.Logf("mean path length %.4f half-widths, expected %.4f", got, want)
	if math.Abs(got-want) > 0.02*want {
		t.Errorf("mean path length %.4f, want %.4f ± 2%%", got, want)
	}
}

// TestShakeAdjoint is the dot-product test ⟨Ax, y⟩ = ⟨x, Aᵀy⟩ for
// camera-shake kernels, which unlike the Gaussian are not symmetric, so
// a mirrored tap in Apply's transpose would show.
func TestShakeAdjoint(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 13))
	fixed, err := ShakeFixed(9)
	if err != nil {
		t.Fatal(err)
	}
	wide, err := CameraShake(11, rand.New(rand.NewPCG(2, 0)), ShakeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []Kernel{fixed, wide} {
		for _, hw := range [][2]int{{28, 28}, {11, 17}} {
			h, w, n := hw[0], hw[1], 2
			x, y := randomImages(rng, n*h*w), randomImages(rng, n*h*w)
			ax, aty := make([]float64, len(x)), make([]float64, len(y))
			Apply(ax, x, n, h, w, k, false)
			Apply(aty, y, n, h, w, k, true)
			if l, r := dot(ax, y), dot(x, aty); math.Abs(l-r) > 1e-12*math.Max(1, math.Abs(l)) {
				t.Errorf("%s on %d×%d: ⟨Ax, y⟩ = %.15g, ⟨x, Aᵀy⟩ = %.15g", k.Name, h, w, l, r)
			}
		}
	}
}

// TestShakeFixed pins the workload's kernel: Named("shake") is
// ShakeFixed(9), nothing of its path falls off the grid, and its spectrum
// on 28×28 images has no zero (the smallest singular value is pinned, so
// an accidental change to the generator or the seed shows here).
func TestShakeFixed(t *testing.T) {
	k, err := Named("shake")
	if err != nil {
		t.Fatal(err)
	}
	k9, err := ShakeFixed(9)
	if err != nil || !slices.Equal(k.W, k9.W) || k.Name != k9.Name {
		t.Fatalf("Named(\"shake\") is not ShakeFixed(9): %v", err)
	}
	p, err := NewShakePath(rand.New(rand.NewPCG(ShakeSeed, 0)), ShakeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, outside, _ := p.Splat(9); outside != 0 {
		t.Errorf("%.3g of the fixed path falls off the 9×9 grid", outside)
	}
	low := Mode{Sigma: math.Inf(1)}
	for _, m := range Spectrum(k, 28, 28) {
		if m.Sigma < low.Sigma {
			low = m
		}
	}
	// Value printed by this test when the kernel was chosen (seed 1).
	const wantLow = 0.01398675895759051
	t.Logf("%s: smallest singular value on 28×28 %.6g at (%d, %d)", k.Name, low.Sigma, low.Fy, low.Fx)
	if math.Abs(low.Sigma-wantLow) > 1e-9 {
		t.Errorf("smallest singular value %.17g, want %.17g", low.Sigma, wantLow)
	}
}

func TestShakeErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 0))
	for _, tc := range []struct {
		name string
		cfg  ShakeConfig
	}{
		{"negative length", ShakeConfig{Length: -0.3}},
		{"NaN sigma", ShakeConfig{Sigma: math.NaN()}},
		{"infinite length", ShakeConfig{Length: math.Inf(1)}},
		{"too few steps", ShakeConfig{Steps: 12}},
		{"negative steps", ShakeConfig{Steps: -1}},
	} {
		if _, err := NewShakePath(rng, tc.cfg); err == nil {
			t.Errorf("%s accepted", tc.name)
		}
	}
	if _, err := NewShakePath(nil, ShakeConfig{}); err == nil {
		t.Error("nil random source accepted")
	}
	for _, size := range []int{1, 8, -3} {
		if _, err := CameraShake(size, rng, ShakeConfig{}); err == nil {
			t.Errorf("size %d accepted", size)
		}
	}
	far := ShakePath{Row: []float64{5}, Col: []float64{5}}
	if _, _, err := far.Splat(9); err == nil {
		t.Error("a path wholly off the grid gave a kernel")
	}
	if _, _, err := (ShakePath{Row: []float64{0, 0}, Col: []float64{0}}).Splat(9); err == nil {
		t.Error("a path with unequal coordinates gave a kernel")
	}
	if _, _, err := (ShakePath{Row: []float64{math.NaN()}, Col: []float64{0}}).Splat(9); err == nil {
		t.Error("a NaN path point gave a kernel")
	}
}

// ExampleShakeFixed prints the workload's 9×9 camera-shake kernel in
// thousandths (its 5×5 middle; the rest is 0).
func ExampleShakeFixed() {
	k, err := ShakeFixed(9)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(k.Name)
	for a := 2; a < 7; a++ {
		for b := 2; b < 7; b++ {
			fmt.Printf("%4.0f", 1000*k.W[a*k.K+b])
		}
		fmt.Println()
	}
	// Output:
	// camera shake 9×9 (seed 1)
	//    0   0  14   8   0
	//    0   0 191  79   0
	//    0  69 312  11   0
	//    0  40 263  11   0
	//    0   0   0   0   0
}

func randomImages(rng *rand.Rand, n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	return x
}
