package layers

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"
)

// TestOrthogonal checks WᵀW = gain²·I for tall matrices and WWᵀ = gain²·I
// for wide ones, and that draws differ between seeds.
func TestOrthogonal(t *testing.T) {
	for _, sh := range []tensor.Shape{{8, 3}, {3, 8}, {5, 5}, {1, 4}, {4, 1}, {2, 3, 3}} {
		out := make([]float64, sh.TotalSize())
		Orthogonal(2)(rand.New(rand.NewPCG(1, 2)), sh, out)
		rows := sh[0]
		cols := len(out) / rows
		gram := func(a, b int, byRow bool) float64 {
			var s float64
			if byRow {
				for j := range cols {
					s += out[a*cols+j] * out[b*cols+j]
				}
				return s
			}
			for i := range rows {
				s += out[i*cols+a] * out[i*cols+b]
			}
			return s
		}
		n, byRow := cols, false
		if rows < cols {
			n, byRow = rows, true
		}
		for a := range n {
			for b := range n {
				want := 0.0
				if a == b {
					want = 4
				}
				if g := gram(a, b, byRow); math.Abs(g-want) > 1e-12 {
					t.Fatalf("%v: Gram[%d][%d] = %v, want %v", sh, a, b, g, want)
				}
			}
		}
	}
	a, b := make([]float64, 6), make([]float64, 6)
	Orthogonal(1)(rand.New(rand.NewPCG(1, 2)), tensor.Shape{3, 2}, a)
	Orthogonal(1)(rand.New(rand.NewPCG(3, 2)), tensor.Shape{3, 2}, b)
	if a[0] == b[0] {
		t.Error("two seeds drew the same matrix")
	}
}
