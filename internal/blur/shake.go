package blur

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/dsp/fourier"
)

// Camera shake follows the random-trajectory model of deepinv's
// MotionBlurGenerator (which cites Schuler et al., "Learning to Deblur",
// 2016): each coordinate of the camera's path is an independent zero-mean
// Gaussian process in time with a Matérn-5/2 covariance, sampled on a fine
// grid; the path is centred and its points are binned onto the K×K grid
// that spans [−1, 1]². Boracchi & Foi's (2012) own generator, a random
// walk with inertia and occasional jerks, gives similar curved strokes;
// deepinv's smooth process is what the paper's library ships, so it is
// the one followed here.
//
// What differs from deepinv (read at v0.3.3, the version the paper's
// code pins, and at its 2026 head; the model is the same in both), and why:
//   - Points are splatted bilinearly instead of counted in a hard
//     histogram, so a kernel's centre of mass is exactly the path's mean,
//     the centre pixel (a histogram is off by up to half a pixel), and
//     small kernels (9×9) are not staircased.
//   - deepinv's docstring calls the covariance Matérn 3/2 but evaluates
//     σ²(1 + r + r²/3)e^{−r}, r = √5|t|/l, which is Matérn 5/2; we use
//     that formula, the one its kernels come from.
//   - deepinv filters white noise by the square root of the DFT of the
//     covariance sampled on [−π, π] (complex, because t = 0 is not at index
//     0 of that sample); we sample the same covariance circularly centred,
//     so its DFT is real, and clip rounding-level negative eigenvalues to
//     0. The filters' power spectra agree, so the process is the same.
//   - The random numbers come from math/rand/v2, so no seed reproduces a
//     deepinv kernel number for number; the distribution is the same.

// Defaults of ShakeConfig, deepinv's MotionBlurGenerator defaults.
const (
	DefaultShakeLength = 0.3
	DefaultShakeSigma  = 0.25
	DefaultShakeSteps  = 1000
)

// ShakeConfig sets the camera-shake trajectory model. The zero value is
// deepinv's default model.
type ShakeConfig struct {
	// Length is the Gaussian process's length scale l, in the time units in
	// which the kept path lasts about 1 (see Steps): smaller l gives a more
	// jagged path. 0 means DefaultShakeLength (0.3).
	Length float64
	// Sigma is the marginal standard deviation of each coordinate, in
	// half-widths of the kernel (the K×K grid spans [−1, 1]², so a
	// coordinate's spread is Sigma·K/2 pixels). 0 means DefaultShakeSigma
	// (0.25).
	Sigma float64
	// Steps is the number of grid points per period 2π on which the
	// process is sampled, spaced 2π/(Steps−1); the path keeps the first
	// ⌊Steps/2π⌋ of them, so it lasts about 1 time unit whatever Steps is,
	// and Steps only sets how finely the path is drawn. 0 means
	// DefaultShakeSteps (1000, so 159 points). At least 13 (two points).
	Steps int
}

// resolved returns the configuration with defaults filled in, or an error
// for a setting no default can fix.
func (c ShakeConfig) resolved() (ShakeConfig, error) {
	if c.Length == 0 {
		c.Length = DefaultShakeLength
	}
	if c.Sigma == 0 {
		c.Sigma = DefaultShakeSigma
	}
	if c.Steps == 0 {
		c.Steps = DefaultShakeSteps
	}
	switch {
	case !(c.Length > 0) || math.IsInf(c.Length, 1):
		return c, fmt.Errorf("blur: shake length scale %v must be finite and > 0 (0 means %v)", c.Length, DefaultShakeLength)
	case !(c.Sigma > 0) || math.IsInf(c.Sigma, 1):
		return c, fmt.Errorf("blur: shake σ %v must be finite and > 0 (0 means %v)", c.Sigma, DefaultShakeSigma)
	case c.Steps < 13:
		return c, fmt.Errorf("blur: shake steps %d give fewer than two path points; use ≥ 13 (0 means %d)", c.Steps, DefaultShakeSteps)
	}
	return c, nil
}

// matern52 is the Matérn-5/2 covariance σ²(1 + r + r²/3)e^{−r}, r = √5|d|/l:
// twice differentiable, so paths have a velocity and an acceleration, as a
// hand-held camera does.
func matern52(d, sigma, l float64) float64 {
	r := math.Sqrt(5) * math.Abs(d) / l
	return sigma * sigma * (1 + r + r*r/3) * math.Exp(-r)
}

// shakeProcess samples the cfg.Steps-point periodic Gaussian process once
// per coordinate by circulant embedding and returns the first
// ⌊Steps/2π⌋ values of each, uncentred. cfg must be resolved.
func shakeProcess(rng *rand.Rand, cfg ShakeConfig) (row, col []float64) {
	n := cfg.Steps
	dt := 2 * math.Pi / float64(n-1)
	kept := int(float64(n) / (2 * math.Pi))
	fft := fourier.NewFFT(n)
	cov := make([]float64, n)
	for j := range cov {
		cov[j] = matern52(float64(min(j, n-j))*dt, cfg.Sigma, cfg.Length)
	}
	// The circulant covariance's eigenvalues are its DFT (real, as cov is
	// symmetric); filtering white noise by their square roots gives a
	// periodic process with exactly that covariance. The 1/n undoes the
	// unnormalised inverse transform, so each value has variance cov[0].
	eig := fft.Coefficients(nil, cov)
	gain := make([]float64, len(eig))
	for i, e := range eig {
		gain[i] = math.Sqrt(max(real(e), 0)) / float64(n)
	}
	draw := func() []float64 {
		noise := make([]float64, n)
		for i := range noise {
			noise[i] = rng.NormFloat64()
		}
		spec := fft.Coefficients(nil, noise)
		for i := range spec {
			spec[i] *= complex(gain[i], 0)
		}
		return fft.Sequence(nil, spec)[:kept:kept]
	}
	row = draw()
	col = draw()
	return row, col
}

// ShakePath is a camera trajectory in kernel coordinates: point i sits at
// (Row[i], Col[i]), in half-widths of the kernel (the K×K grid spans
// [−1, 1]² whatever K is), and each coordinate has mean 0, so the path's
// centre of mass is the kernel's centre.
type ShakePath struct {
	Row, Col []float64
}

// NewShakePath draws a camera-shake trajectory from rng under cfg (whose
// zero value is deepinv's default model).
func NewShakePath(rng *rand.Rand, cfg ShakeConfig) (ShakePath, error) {
	if rng == nil {
		return ShakePath{}, fmt.Errorf("blur: NewShakePath needs a random source; pass rand.New(rand.NewPCG(seed, 0))")
	}
	cfg, err := cfg.resolved()
	if err != nil {
		return ShakePath{}, err
	}
	row, col := shakeProcess(rng, cfg)
	for _, c := range [][]float64{row, col} {
		m := 0.0
		for _, v := range c {
			m += v
		}
		m /= float64(len(c))
		for i := range c {
			c[i] -= m
		}
	}
	return ShakePath{Row: row, Col: col}, nil
}

// Length returns the path's arc length in half-widths of the kernel.
func (p ShakePath) Length() float64 {
	s := 0.0
	for i := 1; i < len(p.Row); i++ {
		s += math.Hypot(p.Row[i]-p.Row[i-1], p.Col[i]-p.Col[i-1])
	}
	return s
}

// Splat rasterises the path onto a size×size kernel: each point spends
// an equal share of the exposure and spreads it bilinearly over the four
// pixels around it (pixel (a, b) is centred at (−1 + (2a+1)/size,
// −1 + (2b+1)/size), deepinv's bin centres). Shares that land outside the
// grid are dropped, as deepinv drops points outside [−1, 1]², and
// reported as the fraction outside; the kernel is normalised to sum 1
// over what remains. With nothing outside, the kernel's centre of mass is
// exactly its centre pixel.
func (p ShakePath) Splat(size int) (k Kernel, outside float64, err error) {
	if size < 3 || size%2 == 0 {
		return Kernel{}, 0, fmt.Errorf("blur: a camera-shake kernel needs an odd size ≥ 3, got %d", size)
	}
	if len(p.Row) == 0 || len(p.Row) != len(p.Col) {
		return Kernel{}, 0, fmt.Errorf("blur: a shake path needs as many rows as columns and at least one point, got %d and %d", len(p.Row), len(p.Col))
	}
	k = Kernel{Name: fmt.Sprintf("camera shake %d×%d", size, size), K: size, W: make([]float64, size*size)}
	share := 1 / float64(len(p.Row))
	kept, lost := 0.0, 0.0
	for i := range p.Row {
		// Continuous pixel coordinates: −1 ↦ −½ (the grid's edge), 0 ↦ size/2 − ½.
		u := (p.Row[i]+1)*float64(size)/2 - 0.5
		v := (p.Col[i]+1)*float64(size)/2 - 0.5
		if math.IsNaN(u) || math.IsNaN(v) {
			return Kernel{}, 0, fmt.Errorf("blur: shake path point %d is NaN", i)
		}
		a0, b0 := math.Floor(u), math.Floor(v)
		fu, fv := u-a0, v-b0
		for _, c := range [4]struct {
			da, db int
			w      float64
		}{{0, 0, (1 - fu) * (1 - fv)}, {0, 1, (1 - fu) * fv}, {1, 0, fu * (1 - fv)}, {1, 1, fu * fv}} {
			a, b := a0+float64(c.da), b0+float64(c.db)
			if c.w == 0 {
				continue
			}
			if a < 0 || b < 0 || a >= float64(size) || b >= float64(size) {
				lost += share * c.w
				continue
			}
			k.W[int(a)*size+int(b)] += share * c.w
			kept += share * c.w
		}
	}
	if !(kept > 0) {
		return Kernel{}, 1, fmt.Errorf("blur: the shake path lies entirely outside the %d×%d grid; lower Sigma", size, size)
	}
	k.normalise()
	return k, lost / (kept + lost), nil
}

// CameraShake returns a size×size camera-shake kernel drawn from rng under
// cfg (zero value: deepinv's default model): NewShakePath then Splat,
// dropping any exposure that falls outside the grid as deepinv does.
// Sizes are odd and ≥ 3.
func CameraShake(size int, rng *rand.Rand, cfg ShakeConfig) (Kernel, error) {
	if size < 3 || size%2 == 0 {
		return Kernel{}, fmt.Errorf("blur: a camera-shake kernel needs an odd size ≥ 3, got %d", size)
	}
	p, err := NewShakePath(rng, cfg)
	if err != nil {
		return Kernel{}, err
	}
	k, _, err := p.Splat(size)
	return k, err
}

// ShakeSeed seeds the workload's fixed camera-shake kernel: ShakeFixed
// draws from rand.New(rand.NewPCG(ShakeSeed, 0)). The paper blurs every
// training and test image with one fixed kernel, so the seed is part of
// the workload's definition; changing it changes the experiment.
const ShakeSeed = 1

// ShakeFixed returns the workload's fixed size×size camera-shake kernel:
// the default model drawn from ShakeSeed.
func ShakeFixed(size int) (Kernel, error) {
	k, err := CameraShake(size, rand.New(rand.NewPCG(ShakeSeed, 0)), ShakeConfig{})
	if err != nil {
		return Kernel{}, err
	}
	k.Name = fmt.Sprintf("camera shake %d×%d (seed %d)", size, size, ShakeSeed)
	return k, nil
}
