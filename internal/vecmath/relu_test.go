package vecmath

import (
	"math"
	"math/rand/v2"
	"testing"
)

// reluSpecials are the values where ReLU and its gradient are easy to get
// wrong: signed zeros, NaN, infinities, subnormals and the smallest
// normal.
var reluSpecials = []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)),
	math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, 1e-39, -1e-39, 1.1754944e-38, -1.1754944e-38, 1, -1}

// TestReLUPathsAgree: the vector and portable paths give the same bits for
// random values and the special ones, on lengths with and without a tail,
// and match the definition.
func TestReLUPathsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{0, 7, 8, 29, 1000} {
		x := make([]float32, n)
		for i := range x {
			if i < len(reluSpecials) && rng.IntN(2) == 0 {
				x[i] = reluSpecials[rng.IntN(len(reluSpecials))]
			} else {
				x[i] = float32(rng.NormFloat64())
			}
		}
		got, want := append([]float32(nil), x...), append([]float32(nil), x...)
		ReLU(got)
		reluGo(want)
		for i, v := range x {
			w := float32(0)
			if v > 0 {
				w = v
			}
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) || math.Float32bits(want[i]) != math.Float32bits(w) {
				t.Fatalf("n=%d: ReLU(%v) = %v, portable %v, want %v", n, v, got[i], want[i], w)
			}
		}
	}
}

// TestReLUGradPathsAgree: likewise for the gradient from the output, with
// special values in both y and g.
func TestReLUGradPathsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	draw := func() float32 {
		if rng.IntN(3) == 0 {
			return reluSpecials[rng.IntN(len(reluSpecials))]
		}
		return float32(rng.NormFloat64())
	}
	for _, n := range []int{0, 5, 8, 31, 1000} {
		y, g := make([]float32, n+3), make([]float32, n+3)
		for i := range y {
			y[i], g[i] = draw(), draw()
		}
		got, want := make([]float32, n), make([]float32, n)
		ReLUGrad(got, y, g)
		reluGradGo(want, y[:n], g[:n])
		for i := range n {
			w := float32(0)
			if y[i] > 0 && math.Float32bits(g[i])&0x7f800000 != 0 {
				w = g[i]
			}
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) || (math.Float32bits(want[i]) != math.Float32bits(w) && !math.IsNaN(float64(w))) {
				t.Fatalf("n=%d: grad(y=%v, g=%v) = %v, portable %v, want %v", n, y[i], g[i], got[i], want[i], w)
			}
		}
	}
}

// BenchmarkReLU: 64 × 1024 values, the vector path against the portable
// loop.
func BenchmarkReLU(b *testing.B) {
	x := make([]float32, 64*1024)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	b.Run("vector", func(b *testing.B) {
		for b.Loop() {
			ReLU(x)
		}
	})
	b.Run("portable", func(b *testing.B) {
		for b.Loop() {
			reluGo(x)
		}
	})
}
