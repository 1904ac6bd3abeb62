package attention

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Recurrence draws the number of core iterations r of a training batch
// the way Huginn does (Geiping et al. 2025, "poisson-lognormal"): a mean
// τ ~ LogNormal(ln Mean − σ²/2, σ), so that E[τ] = Mean, then
// r = Poisson(τ) + 1, which has a heavy right tail: most batches iterate
// about Mean times, a few far more. Draws are then clamped to [Min, Max].
// The zero value is Huginn's σ around a mean of 8 (Huginn's is 32), with
// no bounds beyond r ≥ 1.
type Recurrence struct {
	// Mean is E[τ]; zero means 8.
	Mean float64
	// Sigma is the log-normal's σ; zero means Huginn's 0.5.
	Sigma float64
	// Min raises smaller draws (the number of iterations a training
	// graph holds: RecurrentDepth's Backprop); zero means 1.
	Min int
	// Max lowers larger draws (a bound on a batch's cost); zero means
	// none.
	Max int
}

// Resolved returns the sampler with its defaults filled in.
func (r Recurrence) Resolved() Recurrence {
	if r.Mean == 0 {
		r.Mean = 8
	}
	if r.Sigma == 0 {
		r.Sigma = 0.5
	}
	if r.Min == 0 {
		r.Min = 1
	}
	return r
}

// Validate reports settings that cannot be drawn from.
func (r Recurrence) Validate() error {
	r = r.Resolved()
	switch {
	case !(r.Mean > 0) || math.IsInf(r.Mean, 0) || !(r.Sigma > 0) || math.IsInf(r.Sigma, 0):
		return fmt.Errorf("attention: Recurrence needs a finite positive Mean and Sigma, got %v and %v", r.Mean, r.Sigma)
	case r.Min < 1 || (r.Max != 0 && r.Max < r.Min):
		return fmt.Errorf("attention: Recurrence needs 1 ≤ Min ≤ Max (Max 0: unbounded), got %d and %d", r.Min, r.Max)
	}
	return nil
}

// Draw returns one r from rng. Call Validate once first: Draw clamps
// whatever it draws, so invalid settings give meaningless draws, never a
// panic.
func (r Recurrence) Draw(rng *rand.Rand) int {
	r = r.Resolved()
	mu := math.Log(r.Mean) - r.Sigma*r.Sigma/2
	tau := math.Exp(mu + r.Sigma*rng.NormFloat64())
	n := poisson(rng, tau) + 1
	if n < r.Min {
		n = r.Min
	}
	if r.Max > 0 && n > r.Max {
		n = r.Max
	}
	return n
}

// poisson draws from Poisson(lambda) exactly: Knuth's product of
// uniforms on chunks of at most 30 (e^−30 is far from underflow), summed,
// since a sum of independent Poisson variables is Poisson.
func poisson(rng *rand.Rand, lambda float64) int {
	const chunk = 30
	n := 0
	for lambda > 0 && n < math.MaxInt32 {
		l := math.Min(lambda, chunk)
		lambda -= l
		limit, p := math.Exp(-l), rng.Float64()
		for p > limit {
			p *= rng.Float64()
			n++
		}
	}
	return n
}
