package conv

import (
	"runtime"
	"testing"
)

// TestForPartsHoldsOneBufferPerPart: after a parallel region the pool holds
// one buffer per part however the parts were scheduled — with parts too
// short for a helper to start before the caller has done them all, and
// with parts long enough to overlap — and a second region allocates
// nothing.
func TestForPartsHoldsOneBufferPerPart(t *testing.T) {
	parts := runtime.GOMAXPROCS(0)
	for _, work := range []int{0, 1 << 16} {
		p := &colPool{}
		for range 50 {
			forParts(p, 64, 100, func(buf []float32, lo, hi int) {
				s := 0
				for i := range work {
					s += i & 1
				}
				buf[0] = float32(lo + s)
			})
			if got := len(p.free[keyOf[float32](100)]); got != parts {
				t.Fatalf("work %d: the pool holds %d buffers, want one per part (%d)", work, got, parts)
			}
		}
		allocs := testing.AllocsPerRun(20, func() {
			forParts(p, 64, 100, func(buf []float32, lo, hi int) { buf[0] = 1 })
		})
		if allocs > 2 { // the closures
			t.Errorf("work %d: a region on a warm pool allocates %.0f times", work, allocs)
		}
	}
}
