package deq

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestProjectInfNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	const rows, cols = 7, 5
	for _, kappa := range []float64{0.1, 0.5, 0.95, 3} {
		a := make([]float64, rows*cols)
		for i := range a {
			a[i] = 2 * rng.NormFloat64()
		}
		orig := append([]float64(nil), a...)
		if err := ProjectInfNorm(a, rows, cols, kappa); err != nil {
			t.Fatal(err)
		}
		if n := InfNorm(a, rows, cols); n > kappa*(1+1e-12) {
			t.Errorf("κ=%v: ‖A‖∞ = %v after projection", kappa, n)
		}
		// Idempotent, and rows already inside the ball are untouched.
		again := append([]float64(nil), a...)
		if err := ProjectInfNorm(again, rows, cols, kappa); err != nil {
			t.Fatal(err)
		}
		if d := maxAbsDiff(a, again); d > 1e-14 {
			t.Errorf("κ=%v: projection not idempotent (%.3g)", kappa, d)
		}
		// Optimality: the projection is closer to the original row than
		// random feasible points (a necessary condition, checked cheaply).
		for r := 0; r < rows; r++ {
			best := dist(a[r*cols:(r+1)*cols], orig[r*cols:(r+1)*cols])
			for trial := 0; trial < 200; trial++ {
				p := make([]float64, cols)
				for i := range p {
					p[i] = a[r*cols+i] + 0.05*rng.NormFloat64()
				}
				projectL1(p, 1, kappa, make([]float64, cols))
				if d := dist(p, orig[r*cols:(r+1)*cols]); d < best-1e-12 {
					t.Fatalf("κ=%v row %d: found a feasible point closer than the projection (%v < %v)", kappa, r, d, best)
				}
			}
		}
	}
	if err := ProjectInfNorm(make([]float64, 6), 2, 2, 0.5); err == nil {
		t.Error("shape mismatch accepted")
	}
	if err := ProjectInfNorm(make([]float64, 4), 2, 2, -1); err == nil {
		t.Error("negative kappa accepted")
	}
}

func TestProjectOneNormIsInfNormOfTranspose(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	const rows, cols = 4, 6
	w := make([]float64, rows*cols)
	for i := range w {
		w[i] = rng.NormFloat64()
	}
	at := make([]float64, rows*cols) // Wᵀ, cols×rows
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			at[c*rows+r] = w[r*cols+c]
		}
	}
	if err := ProjectOneNorm(w, rows, cols, 0.9); err != nil {
		t.Fatal(err)
	}
	if err := ProjectInfNorm(at, cols, rows, 0.9); err != nil {
		t.Fatal(err)
	}
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			if math.Abs(at[c*rows+r]-w[r*cols+c]) > 1e-15 {
				t.Fatal("ProjectOneNorm(W) differs from ProjectInfNorm(Wᵀ)ᵀ")
			}
		}
	}
}

func TestSpectralNormMatchesSVD(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	const rows, cols = 9, 6
	a := make([]float64, rows*cols)
	for i := range a {
		a[i] = rng.NormFloat64()
	}
	var svd mat.SVD
	svd.Factorize(mat.NewDense(rows, cols, a), mat.SVDNone)
	want := svd.Values(nil)[0]
	got, err := SpectralNorm(a, rows, cols, 200, rng)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got-want) > 1e-8*want {
		t.Errorf("spectral norm %v, SVD says %v", got, want)
	}
	if _, err := SpectralNorm(a, rows, cols, 10, nil); err == nil {
		t.Error("nil rng accepted")
	}
}

func TestSpectralRadius(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	// Sample 0: symmetric with radius 0.9. Sample 1: a rotation by 0.7 rad
	// scaled by 0.95 (complex pair), plus a small real eigenvalue.
	p := newSymmetricAffine(rng, 1, 6, 0.9)
	rot := mat.NewDense(3, 3, []float64{
		0.95 * math.Cos(0.7), -0.95 * math.Sin(0.7), 0,
		0.95 * math.Sin(0.7), 0.95 * math.Cos(0.7), 0,
		0, 0, 0.3,
	})
	var eig mat.Eigen
	if !eig.Factorize(rot, mat.EigenNone) {
		t.Fatal("eigen failed")
	}
	wantRot := 0.0
	for _, v := range eig.Values(nil) {
		wantRot = math.Max(wantRot, cmplx.Abs(v))
	}
	op := func(out, v []float64) error {
		if err := p.transposeApply(out[:6], v[:6]); err != nil {
			return err
		}
		o := mat.NewVecDense(3, out[6:9])
		o.MulVec(rot, mat.NewVecDense(3, v[6:9]))
		for i := 9; i < 12; i++ { // pad sample 1 to dim 6 with zeros
			out[i] = 0
		}
		return nil
	}
	rho, err := SpectralRadius(op, 2, 6, 200, rng)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(rho[0]-0.9) > 1e-3 || math.Abs(rho[1]-wantRot) > 1e-2 {
		t.Errorf("spectral radius estimates %v, want [0.9 %v]", rho, wantRot)
	}
}

func dist(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += (a[i] - b[i]) * (a[i] - b[i])
	}
	return math.Sqrt(s)
}
