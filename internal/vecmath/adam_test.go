package vecmath

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAdamPathsAgree checks the vector path against the scalar loop bit
// for bit, over lengths that exercise the tail.
func TestAdamPathsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	c := AdamConsts{Scale: 0.7, WD: 1e-4, B1: 0.9, B2: 0.999, OB1: 0.1, OB2: 0.001, C1: 1e-3 / 0.1, C2: float32(1 / math.Sqrt(0.001)), Eps: 1e-8}
	for _, n := range []int{1, 7, 8, 9, 64, 1003} {
		mk := func() []float32 {
			s := make([]float32, n)
			for i := range s {
				s[i] = float32(rng.NormFloat64())
			}
			return s
		}
		w, g, m, v := mk(), mk(), mk(), mk()
		for i := range v {
			v[i] = v[i] * v[i]
		}
		w2, g2, m2, v2 := append([]float32(nil), w...), append([]float32(nil), g...), append([]float32(nil), m...), append([]float32(nil), v...)
		Adam(w, g, m, v, c)
		for j := range w2 { // the scalar definition
			gj := g2[j]*c.Scale + c.WD*w2[j]
			mj := c.B1*m2[j] + c.OB1*gj
			vj := c.B2*v2[j] + c.OB2*gj*gj
			m2[j], v2[j] = mj, vj
			w2[j] -= c.C1 * mj / (float32(math.Sqrt(float64(vj)))*c.C2 + c.Eps)
		}
		for j := range w {
			if w[j] != w2[j] || m[j] != m2[j] || v[j] != v2[j] || g[j] != 0 {
				t.Fatalf("n=%d, j=%d: w %v/%v m %v/%v v %v/%v g %v", n, j, w[j], w2[j], m[j], m2[j], v[j], v2[j], g[j])
			}
		}
	}
}

func BenchmarkAdam(b *testing.B) {
	n := 100352
	w, g, m, v := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	c := AdamConsts{Scale: 1, B1: 0.9, B2: 0.999, OB1: 0.1, OB2: 0.001, C1: 1e-3, C2: 1, Eps: 1e-8}
	b.SetBytes(int64(32 * n))
	for i := 0; i < b.N; i++ {
		Adam(w, g, m, v, c)
	}
}
