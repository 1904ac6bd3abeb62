package blur

import (
	"fmt"
	"math"
)

// Kernel is a point-spread function of odd size K×K, row-major, centred
// at (K/2, K/2): pixel (i, j) of A·x is Σ_{a,b} W[a·K+b]·x[i+a−K/2, j+b−K/2]
// with indices taken modulo the image size.
type Kernel struct {
	Name string
	K    int
	W    []float64
}

// Gaussian returns the size×size Gaussian kernel of standard deviation
// sigma (in pixels), normalised to sum 1 (the deblurring workload uses
// 7×7, σ = 1.5).
func Gaussian(size int, sigma float64) (Kernel, error) {
	if size < 1 || size%2 == 0 || !(sigma > 0) {
		return Kernel{}, fmt.Errorf("blur: a Gaussian kernel needs an odd size ≥ 1 and σ > 0, got %d and %v", size, sigma)
	}
	k := Kernel{Name: fmt.Sprintf("gaussian %d×%d σ=%g", size, size, sigma), K: size, W: make([]float64, size*size)}
	c := size / 2
	for a := range size {
		for b := range size {
			d2 := float64((a-c)*(a-c) + (b-c)*(b-c))
			k.W[a*size+b] = math.Exp(-d2 / (2 * sigma * sigma))
		}
	}
	k.normalise()
	return k, nil
}

// Motion returns a size×size motion-blur kernel: a diagonal stroke from
// the top-left to the bottom-right corner whose weights grow linearly
// along it (an accelerating shake), normalised to sum 1. A uniform stroke
// would have exact zeros in its spectrum on periodic images; the ramp has
// none, so every Fourier mode stays measurable.
func Motion(size int) (Kernel, error) {
	if size < 3 || size%2 == 0 {
		return Kernel{}, fmt.Errorf("blur: a motion kernel needs an odd size ≥ 3, got %d", size)
	}
	k := Kernel{Name: fmt.Sprintf("motion %d×%d (diagonal ramp)", size, size), K: size, W: make([]float64, size*size)}
	for a := range size {
		k.W[a*size+a] = float64(a + 1)
	}
	k.normalise()
	return k, nil
}

// Named returns the kernel of the deblurring workload called name:
// "gaussian" (7×7, σ = 1.5), "motion" (7×7) or "shake" (ShakeFixed(9):
// deepinv's default camera-shake model in a 9×9 box, a third of a 28×28
// image, where a path's coordinates spread σ = 0.25·4.5 ≈ 1.1 pixels, as
// far as the Gaussian's; a larger box would blur the strokes of a digit
// away, a smaller one would bin the path into a few pixels).
func Named(name string) (Kernel, error) {
	switch name {
	case "", "gaussian":
		return Gaussian(7, 1.5)
	case "motion":
		return Motion(7)
	case "shake":
		return ShakeFixed(9)
	}
	return Kernel{}, fmt.Errorf("blur: unknown kernel %q (want gaussian, motion or shake)", name)
}

func (k *Kernel) normalise() {
	s := 0.0
	for _, v := range k.W {
		s += v
	}
	for i := range k.W {
		k.W[i] /= s
	}
}

// Check reports whether the kernel fits H×W images.
func (k Kernel) Check(h, w int) error {
	switch {
	case k.K < 1 || k.K%2 == 0 || len(k.W) != k.K*k.K:
		return fmt.Errorf("blur: kernel %q is not an odd square (K=%d, %d weights)", k.Name, k.K, len(k.W))
	case h < k.K || w < k.K:
		return fmt.Errorf("blur: %d×%d images are smaller than the %d×%d kernel", h, w, k.K, k.K)
	}
	return nil
}
