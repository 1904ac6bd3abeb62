package graph

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestAggregateFloat32: the float32 aggregation — a dense product where
// A has at least one nonzero in 8, the edge loop where it is sparser —
// gives the float64 edge loop's sums in both directions.
func TestAggregateFloat32(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	const b, m, n, w = 3, 10, 50, 16
	for _, density := range []float64{0.2, 0.05, 1} {
		for _, dir := range []BipartiteDir{VarToCons, ConsToVar} {
			t.Run(fmt.Sprintf("density %v dir %d", density, dir), func(t *testing.T) {
				src, dst := dir.sizes(m, n)
				a64, msg64 := make([]float64, b*m*n), make([]float64, b*src*w)
				for i := range a64 {
					if rng.Float64() < density {
						a64[i] = rng.NormFloat64()
					}
				}
				for i := range msg64 {
					msg64[i] = rng.NormFloat64()
				}
				a32, msg32 := make([]float32, len(a64)), make([]float32, len(msg64))
				for i, v := range a64 {
					a32[i] = float32(v)
				}
				for i, v := range msg64 {
					msg32[i] = float32(v)
				}
				want, got := make([]float64, b*dst*w), make([]float32, b*dst*w)
				aggregate(want, a64, msg64, 0, b, m, n, w, dir)
				aggregate(got, a32, msg32, 0, b, m, n, w, dir)
				for i, v := range want {
					if math.Abs(float64(got[i])-v) > 1e-4*math.Max(1, math.Abs(v)) {
						t.Fatalf("out[%d] = %v, want %v", i, got[i], v)
					}
				}
			})
		}
	}
}
