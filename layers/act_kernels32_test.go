package layers

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/implicit-ml/implicit/internal/opkit"
)

// special float32 values the branch-free kernels must treat as the
// generic loops do: signed zeros, subnormals, infinities, NaN.
var special32 = []float32{0, float32(math.Copysign(0, -1)), 1e-40, -1e-40, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e-38, -3}

func randomFloat32s(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		if rng.IntN(4) == 0 {
			v[i] = special32[rng.IntN(len(special32))]
		} else {
			v[i] = float32(rng.NormFloat64()) * float32(math.Pow(10, float64(rng.IntN(80)-40)))
		}
	}
	return v
}

// TestActKernels32BitForBit compares the branch-free float32 ReLU and the
// fused gradient-and-flush kernels with the generic loops, bit for bit.
func TestActKernels32BitForBit(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	x := randomFloat32s(rng, 4096)
	got := append([]float32(nil), x...)
	relu32(got)
	for i, v := range x {
		want := v
		if !(v > 0) {
			want = 0
		}
		if math.Float32bits(got[i]) != math.Float32bits(want) {
			t.Fatalf("relu32(%v) = %v, want %v", v, got[i], want)
		}
	}
	y, g := randomFloat32s(rng, 4096), randomFloat32s(rng, 4096)
	for _, a := range []Activation{Identity, Tanh, ReLU} {
		want := make([]float32, len(y))
		for i, v := range y {
			switch a {
			case Identity:
				want[i] = g[i]
			case Tanh:
				want[i] = g[i] * (1 - v*v)
			case ReLU:
				if v > 0 {
					want[i] = g[i]
				}
			}
		}
		opkit.FlushSubnormal(want)
		got := make([]float32, len(y))
		if !actGradFromOutput32(a, got, y, g) {
			t.Fatalf("%v: no float32 kernel", a)
		}
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%v: y=%v g=%v: got %v, want %v", a, y[i], g[i], got[i], want[i])
			}
		}
	}
}

// BenchmarkActKernels32 times the ReLU gradient on random signs, the
// generic loop and flush against the branch-free kernel.
func BenchmarkActKernels32(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	n := 1 << 14
	y, g, s := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range y {
		y[i], g[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
	}
	b.Run("generic", func(b *testing.B) {
		for b.Loop() {
			for i, v := range y {
				if v > 0 {
					s[i] = g[i]
				} else {
					s[i] = 0
				}
			}
			opkit.FlushSubnormal(s)
		}
	})
	b.Run("fused", func(b *testing.B) {
		for b.Loop() {
			actGradFromOutput32(ReLU, s, y, g)
		}
	})
}
