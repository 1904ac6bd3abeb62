package linalg

import (
	"fmt"
	"testing"
)

// BenchmarkDenormalGEMM compares a 64×128×128 float32 product on normal
// values with one on subnormal values (what the gradients of a long,
// strongly contractive unrolled backward pass decay into): x86 CPUs can
// take microcode assists on subnormal operands.
func BenchmarkDenormalGEMM(b *testing.B) {
	for _, scale := range []float32{1, 1e-39} {
		b.Run(fmt.Sprintf("scale=%g", scale), func(b *testing.B) {
			const m, k, n = 64, 128, 128
			a := make([]float32, m*k)
			w := make([]float32, k*n)
			c := make([]float32, m*n)
			for i := range a {
				a[i] = scale * float32(i%7+1)
			}
			for i := range w {
				w[i] = 0.01 * float32(i%5+1)
			}
			for i := 0; i < b.N; i++ {
				MatMul(c, a, w, m, k, n)
			}
		})
	}
}

// BenchmarkDenormalElementwise is the same comparison for the elementwise
// work of a backward step (s = g·(1 − y²)).
func BenchmarkDenormalElementwise(b *testing.B) {
	for _, scale := range []float32{1, 1e-39} {
		b.Run(fmt.Sprintf("scale=%g", scale), func(b *testing.B) {
			g := make([]float32, 8192)
			y := make([]float32, 8192)
			s := make([]float32, 8192)
			for i := range g {
				g[i] = scale * float32(i%7+1)
				y[i] = 0.5
			}
			for i := 0; i < b.N; i++ {
				for j, v := range y {
					s[j] = g[j] * (1 - v*v)
				}
			}
		})
	}
}
