package attention

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestRecurrenceDraws: without bounds the draws have mean E[τ] + 1 and
// the log-normal's heavy tail (far more mass beyond twice the mean than a
// Poisson of the same mean has), are clamped to [Min, Max] when bounded,
// and depend only on the random stream.
func TestRecurrenceDraws(t *testing.T) {
	const n = 40000
	draw := func(r Recurrence) []int {
		rng := rand.New(rand.NewPCG(70, 70))
		out := make([]int, n)
		for i := range out {
			out[i] = r.Draw(rng)
		}
		return out
	}
	free := draw(Recurrence{Mean: 8})
	mean, tail := 0.0, 0
	for _, v := range free {
		mean += float64(v) / n
		if v > 18 {
			tail++
		}
	}
	// The draws' std is about 5.4 (σ_τ = 8·√(e^0.25 − 1) ≈ 4.2 plus the
	// Poisson's √8), so the mean of 40000 is within 0.1 of 9.
	if math.Abs(mean-9) > 0.1 {
		t.Errorf("mean of r = Poisson(τ)+1 with E[τ] = 8 is %.3f, want 9", mean)
	}
	// P(Poisson(8)+1 > 18) ≈ 0.002; the log-normal mixture has over
	// twenty times more (0.053 at this seed).
	if f := float64(tail) / n; f < 0.03 || f > 0.08 {
		t.Errorf("P(r > 18) = %.4f, want the heavy tail's 0.03-0.08", f)
	}
	lo, hi := math.MaxInt, 0
	for _, v := range draw(Recurrence{Mean: 8, Min: 3, Max: 12}) {
		lo, hi = min(lo, v), max(hi, v)
	}
	if lo != 3 || hi != 12 {
		t.Errorf("bounded draws span [%d, %d], want [3, 12]", lo, hi)
	}
	again := draw(Recurrence{Mean: 8})
	for i := range again {
		if again[i] != free[i] {
			t.Fatal("the same stream drew different r")
		}
	}
}

// TestPoisson: the chunked sampler has the Poisson's mean and variance
// at small and large λ: the chunks are summed beyond 30, and beyond about
// 745 e^−λ underflows, which an unchunked Knuth sampler would not survive.
func TestPoisson(t *testing.T) {
	for _, lambda := range []float64{0.5, 7, 95, 900} {
		rng := rand.New(rand.NewPCG(71, uint64(lambda*10)))
		const n = 5000
		var s, s2 float64
		for range n {
			v := float64(poisson(rng, lambda))
			s, s2 = s+v, s2+v*v
		}
		mean, variance := s/n, s2/n-(s/n)*(s/n)
		// Standard error of the mean √(λ/n); of the variance about
		// λ·√(2/n).
		if math.Abs(mean-lambda) > 4*math.Sqrt(lambda/n) || math.Abs(variance-lambda) > 6*lambda*math.Sqrt(2.0/n)+0.01 {
			t.Errorf("λ = %v: mean %.3f, variance %.3f", lambda, mean, variance)
		}
	}
}

// TestRecurrenceValidate: settings that cannot be drawn from are errors.
func TestRecurrenceValidate(t *testing.T) {
	if err := (Recurrence{}).Validate(); err != nil {
		t.Errorf("the zero value: %v", err)
	}
	for _, r := range []Recurrence{{Mean: -1}, {Sigma: math.Inf(1)}, {Min: -2}, {Min: 5, Max: 3}, {Mean: math.NaN()}} {
		if err := r.Validate(); err == nil || !strings.Contains(err.Error(), "attention: Recurrence") {
			t.Errorf("%+v: error %v", r, err)
		}
	}
}
