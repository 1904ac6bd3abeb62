package vecmath

import (
	"math"
	"testing"
)

// ulps returns |got − want| in units of float32 spacing at want.
func ulps(got float32, want float64) float64 {
	w := float32(want)
	spacing := math.Nextafter32(float32(math.Abs(float64(w))), float32(math.Inf(1))) - float32(math.Abs(float64(w)))
	if spacing == 0 {
		spacing = math.SmallestNonzeroFloat32
	}
	return math.Abs(float64(got)-want) / float64(spacing)
}

func TestTanhAccuracyAndMonotonicity(t *testing.T) {
	const n = 2000001
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(-10 + 20*float64(i)/(n-1))
	}
	y := append([]float32(nil), x...)
	Tanh(y)
	worst, worstScalar := 0.0, 0.0
	for i, v := range x {
		want := math.Tanh(float64(v))
		worst = math.Max(worst, ulps(y[i], want))
		worstScalar = math.Max(worstScalar, ulps(float32(Tanh64To32(float64(v))), want))
		if i > 0 && y[i] < y[i-1] {
			t.Fatalf("not monotone at %v: %v < %v", v, y[i], y[i-1])
		}
	}
	t.Logf("max error: %.2f ulp (vector path %v), scalar %.2f ulp", worst, hasAVX2, worstScalar)
	if worst > 0.6 || worstScalar > 0.6 {
		t.Errorf("tanh error %.2f ulp (vector) / %.2f ulp (scalar); want ≤ 0.6", worst, worstScalar)
	}
	for i, v := range x {
		if s := float32(Tanh64To32(float64(v))); s != y[i] && !(math.IsNaN(float64(s)) && math.IsNaN(float64(y[i]))) {
			t.Fatalf("tanh(%v): vector %v, scalar %v; the paths must agree bit for bit", v, y[i], s)
		}
	}
	// Small arguments keep their relative accuracy (tanh x ≈ x).
	for _, v := range []float32{1e-30, -3e-12, 1e-6, 2e-4} {
		s := []float32{v, v, v, v, v, v, v, v, v}
		Tanh(s)
		for _, got := range s {
			if math.Abs(float64(got)-float64(v))/math.Abs(float64(v)) > 1e-6 {
				t.Errorf("tanh(%v) = %v", v, got)
			}
		}
	}
}

func TestTanhSpecialValues(t *testing.T) {
	nan := float32(math.NaN())
	in := []float32{nan, float32(math.Inf(1)), float32(math.Inf(-1)), 0, 100, -100, nan, 1, 5}
	Tanh(in)
	want := []float32{nan, 1, -1, 0, 1, -1, nan, float32(math.Tanh(1)), float32(math.Tanh(5))}
	for i := range in {
		if math.IsNaN(float64(want[i])) != math.IsNaN(float64(in[i])) || (!math.IsNaN(float64(want[i])) && math.Abs(float64(in[i]-want[i])) > 2e-7) {
			t.Errorf("lane %d: got %v, want %v", i, in[i], want[i])
		}
	}
}

func BenchmarkTanh(b *testing.B) {
	x := make([]float32, 8192)
	for i := range x {
		x[i] = float32(i%200-100) / 20
	}
	b.SetBytes(int64(4 * len(x)))
	for i := 0; i < b.N; i++ {
		Tanh(x)
		x[0] = 0.5
	}
}
