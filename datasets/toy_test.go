package datasets

import (
	"math"
	"testing"
)

func TestToyData(t *testing.T) {
	for x, want := range map[float64]float64{-2: 2, 0.5: 0, 0.25: 4 - 4.0/3, 2: 0.5} {
		if got := ToyTarget(x); math.Abs(got-want) > 1e-12 {
			t.Errorf("F(%v) = %v, want %v", x, got, want)
		}
	}
	a, b := ToyPoints(500, 0.02, 3), ToyPoints(500, 0.02, 3)
	for i := range a.X {
		if a.X[i] != b.X[i] || !ToyOutside(a.X[i], 0.02) || a.Y[i] != ToyTarget(a.X[i]) {
			t.Fatalf("point %d: %v (%v) not deterministic or not in the domain", i, a.X[i], b.X[i])
		}
	}
	g := ToyGrid(1e-3, 0.02)
	if n := g.Len(); n < 4900 || n > 4961 {
		t.Fatalf("grid of %d points", n)
	}
	for _, x := range g.X {
		if !ToyOutside(x, 0.02) {
			t.Fatalf("grid point %v in a hole", x)
		}
	}
	x, y := make([]float32, 1), make([]float32, 1)
	g.Sample(10, x, y)
	if float64(x[0]) != float64(float32(g.X[10])) || y[0] != float32(g.Y[10]) {
		t.Fatal("Sample does not match the set")
	}
}
