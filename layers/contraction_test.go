package layers

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// applyCell returns f(z, inj) for one sample of a cell with values.
func applyCell(t *testing.T, c Cell, inj, z []float64) []float64 {
	t.Helper()
	injV := tensor.New(tensor.WithShape(1, len(inj)), tensor.WithBacking(append([]float64(nil), inj...)))
	var out []float64
	err := IterateCell(c, []G.Value{injV}, z, 1, func(_ int, fz []float64) error {
		out = append([]float64(nil), fz...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func norm(v []float64, which string) float64 {
	s := 0.0
	for _, x := range v {
		if which == MaxNorm {
			s = max(s, math.Abs(x))
		} else {
			s += x * x
		}
	}
	if which == MaxNorm {
		return s
	}
	return math.Sqrt(s)
}

func sub(a, b []float64) []float64 {
	d := make([]float64, len(a))
	for i := range a {
		d[i] = a[i] - b[i]
	}
	return d
}

// checkContraction draws pairs of states and checks that f contracts them
// by at most Mu, and that the a-posteriori bound holds along the iterates
// of a solve (against z* from many iterations).
func checkContraction(t *testing.T, c *DenseCell, con Contraction, rng *rand.Rand) {
	t.Helper()
	h := c.Hidden
	inj := make([]float64, h)
	for i := range inj {
		inj[i] = rng.NormFloat64()
	}
	randState := func() []float64 {
		z := make([]float64, h)
		for i := range z {
			z[i] = rng.NormFloat64()
		}
		return z
	}
	worst := 0.0
	for range 200 {
		z, z2 := randState(), randState()
		r := norm(sub(applyCell(t, c, inj, z), applyCell(t, c, inj, z2)), con.Norm) / norm(sub(z, z2), con.Norm)
		worst = max(worst, r)
	}
	if worst > con.Mu*(1+1e-12) {
		t.Fatalf("f stretched a pair by %.6f, the bound is %.6f", worst, con.Mu)
	}
	zstar := make([]float64, h)
	for range 2000 {
		zstar = applyCell(t, c, inj, zstar)
	}
	z := make([]float64, h)
	for step := range 30 {
		fz := applyCell(t, c, inj, z)
		errNow := norm(sub(fz, zstar), con.Norm)
		if b := con.Bound(norm(sub(fz, z), Euclidean)); errNow > b*(1+1e-9)+1e-14 {
			t.Fatalf("iterate %d: ‖f(z) − z*‖ = %.3g exceeds the bound %.3g", step, errNow, b)
		}
		z = fz
	}
}

// TestDenseCellContraction: the bound of a dense cell is Lip(φ)·‖W‖₂,
// it holds for random pairs of states and along a solve; an El Ghaoui
// cell whose W has a large 2-norm falls back to its ∞-norm bound ‖W‖₁;
// GELU has none; Bound is infinite without a contraction.
func TestDenseCellContraction(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const h = 8
	t.Run("spectral", func(t *testing.T) {
		s := NewScope(G.NewGraph(), tensor.Float64, rand.New(rand.NewPCG(1, 2)))
		c := s.DenseCell("cell", h, Tanh)
		w := c.W.Value().Data().([]float64)
		for i := range w {
			w[i] = rng.NormFloat64() * 0.15
		}
		con, ok := c.Contraction()
		if !ok || con.Norm != Euclidean || !(con.Mu > 0.2 && con.Mu < 1) {
			t.Fatalf("bound %+v (%v)", con, ok)
		}
		checkContraction(t, c, con, rng)
		for i := range w {
			w[i] *= 0.5 / con.Mu // now ‖W‖₂ = 0.5 exactly
		}
		if con, _ = c.Contraction(); math.Abs(con.Mu-0.5) > 1e-12 {
			t.Errorf("‖W‖₂ rescaled to 0.5, bound %v", con.Mu)
		}
	})
	t.Run("el-ghaoui", func(t *testing.T) {
		s := NewScope(G.NewGraph(), tensor.Float64, rand.New(rand.NewPCG(1, 2)))
		c := s.ElGhaouiCell("cell", h, ReLU, 0.9)
		w := c.W.Value().Data().([]float64)
		clear(w)
		for j := 0; j < h; j++ {
			w[j] = 0.85 // one heavy row: ‖W‖₁ = 0.85, ‖W‖₂ = 0.85·√h
		}
		con, ok := c.Contraction()
		if !ok || con.Norm != MaxNorm || math.Abs(con.Mu-0.85) > 1e-12 {
			t.Fatalf("bound %+v (%v), want 0.85 in the ∞-norm", con, ok)
		}
		checkContraction(t, c, con, rng)
	})
	t.Run("gelu", func(t *testing.T) {
		s := NewScope(G.NewGraph(), tensor.Float64, rand.New(rand.NewPCG(1, 2)))
		if _, ok := s.DenseCell("cell", h, GELU).Contraction(); ok {
			t.Error("a GELU cell claims a bound")
		}
	})
	if b := (Contraction{Mu: 1}).Bound(1e-3); !math.IsInf(b, 1) {
		t.Errorf("Mu = 1 gives the bound %v", b)
	}
	if b := (Contraction{Mu: 0.5}).Bound(1e-3); b != 1e-3 {
		t.Errorf("Mu = 0.5 gives the bound %v, want the residual", b)
	}
}
