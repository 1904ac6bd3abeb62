package deq

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestLipschitzOfLinearMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	const batch, in, out = 4, 5, 3
	a := mat.NewDense(out, in, nil)
	for i := 0; i < out; i++ {
		for j := 0; j < in; j++ {
			a.Set(i, j, rng.NormFloat64())
		}
	}
	y := func(o, x []float64) error {
		for s := 0; s < batch; s++ {
			mat.NewVecDense(out, o[s*out:(s+1)*out]).MulVec(a, mat.NewVecDense(in, x[s*in:(s+1)*in]))
		}
		return nil
	}
	var svd mat.SVD
	svd.Factorize(a, mat.SVDThinV)
	var v mat.Dense
	svd.VTo(&v)
	sigma := svd.Values(nil)
	x := make([]float64, batch*in)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	// Perturb every sample along the top and the bottom right singular
	// vectors (norm 1e-2): the ratios are σ_max and σ_min.
	var deltas [][]float64
	for _, k := range []int{0, out - 1} {
		d := make([]float64, batch*in)
		for s := 0; s < batch; s++ {
			for j := 0; j < in; j++ {
				d[s*in+j] = 1e-2 * v.At(j, k)
			}
		}
		deltas = append(deltas, d)
	}
	est, err := Lipschitz(y, x, batch, in, out, deltas)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(est.Max-sigma[0]) > 1e-10 {
		t.Errorf("max %v, want σ_max %v", est.Max, sigma[0])
	}
	if want := (sigma[0] + sigma[out-1]) / 2; math.Abs(est.Mean-want) > 1e-10 {
		t.Errorf("mean %v, want %v", est.Mean, want)
	}
	if len(est.Ratios) != 2 || len(est.Ratios[0]) != batch {
		t.Errorf("ratios shape %d×%d", len(est.Ratios), len(est.Ratios[0]))
	}
	if _, err := Lipschitz(y, x, batch, in, out, nil); err == nil {
		t.Error("no perturbations accepted")
	}
	if _, err := Lipschitz(y, x, batch, in, out, [][]float64{make([]float64, batch*in)}); err == nil {
		t.Error("all-zero perturbation accepted")
	}
}

// TestLipschitzOfAnalyticOperator checks the estimator against the paper's
// hand-built regular operator G(y, x) = (1 − ε(x))·y + ε(x)·F(x), whose
// iterates from y₀ = 0 are y_t = (1 − (1 − ε)^t)·F. The reference values
// (finite differences on a grid of step 2.5e-5 over [−2, 3] without the
// 0.02-neighbourhoods of the poles) are those quoted in the toy-workload
// issue: about 1.96, 5.57, 25.6, 97.7 and 521 at t = 1, 5, 25, 100, 1000.
func TestLipschitzOfAnalyticOperator(t *testing.T) {
	target := func(x float64) float64 {
		switch {
		case x < 0:
			return -x
		case x < 1:
			return 1/x + 1/(x-1)
		default:
			return 1/(x-1) - 1/x
		}
	}
	eps := func(x float64) float64 {
		c := 0.5
		if x < 0 {
			c = 0.1
		}
		return math.Min(c, x*x*(x-1)*(x-1))
	}
	const h, radius = 2.5e-5, 0.02
	outside := func(x float64) bool { return math.Abs(x) > radius && math.Abs(x-1) > radius }
	var xs, dx []float64
	for i := 0; ; i++ {
		x := -2 + float64(i)*h
		if x > 3 {
			break
		}
		if !outside(x) {
			continue
		}
		xs = append(xs, x)
		if x+h <= 3 && outside(x+h) {
			dx = append(dx, h)
		} else {
			dx = append(dx, 0)
		}
	}
	for _, c := range []struct {
		t    int
		want float64
	}{{1, 1.96}, {5, 5.57}, {25, 25.6}, {100, 97.7}, {1000, 521}} {
		yt := func(out, in []float64) error {
			for i, x := range in {
				out[i] = (1 - math.Pow(1-eps(x), float64(c.t))) * target(x)
			}
			return nil
		}
		est, err := Lipschitz(yt, xs, len(xs), 1, 1, [][]float64{dx})
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(est.Max-c.want) > 0.01*c.want {
			t.Errorf("t=%d: L_t = %.4g, reference %.4g", c.t, est.Max, c.want)
		}
	}
}
