package datasets

import (
	"errors"
	"math"
	"math/rand/v2"
)

// SampleDarcyCoefficient draws one coefficient field a, S×S row-major on
// the grid nodes (see DarcyConfig), taking the value High where a
// Gaussian random field g is ≥ 0 and Low elsewhere.
//
// g is the truncated Karhunen–Loève series of the covariance
// (−Δ + τ²)^(−α) with Neumann conditions on the unit square:
//
//	g(x, y) = Σ ξ_k (π²|k|² + τ²)^(−α/2) ψ_k1(x) ψ_k2(y),  ξ_k ~ N(0, 1),
//
// over 0 ≤ k1, k2 < Modes, with ψ_0 = 1 and ψ_k(x) = √2 cos(πkx), the
// orthonormal eigenfunctions of −Δ. The constant mode k = (0, 0) is left
// out, as in the GRF of Li et al., so that g has mean zero and both
// values appear in typical samples. Only the sign of g matters, so its
// overall scale is not.
//
// The ξ_k are drawn shell by shell, max(k1, k2) = 0, 1, …, so a field
// with fewer Modes is the truncation of one with more from the same rng.
func SampleDarcyCoefficient(cfg DarcyConfig, rng *rand.Rand) ([]float64, error) {
	cfg, err := cfg.resolved()
	if err != nil {
		return nil, err
	}
	if rng == nil {
		return nil, errors.New("datasets: SampleDarcyCoefficient needs a random source; pass rand.New(rand.NewPCG(seed, index))")
	}
	a := make([]float64, cfg.S*cfg.S)
	newDarcyGRF(cfg).sample(a, rng)
	return a, nil
}

// darcyGRF holds what every sample of one configuration shares.
type darcyGRF struct {
	s, m      int
	high, low float64
	// scale[k1·m+k2] is (π²|k|² + τ²)^(−α/2), zero for k = (0, 0).
	scale []float64
	// basis[k·s+i] is ψ_k(i·h).
	basis []float64
}

func newDarcyGRF(cfg DarcyConfig) *darcyGRF {
	s, m := cfg.S, cfg.Modes
	g := &darcyGRF{s: s, m: m, high: cfg.High, low: cfg.Low,
		scale: make([]float64, m*m), basis: make([]float64, m*s)}
	tau2 := cfg.Tau * cfg.Tau
	for k1 := range m {
		for k2 := range m {
			if k1 == 0 && k2 == 0 {
				continue
			}
			lambda := math.Pi*math.Pi*float64(k1*k1+k2*k2) + tau2
			g.scale[k1*m+k2] = math.Pow(lambda, -cfg.Alpha/2)
		}
	}
	h := 1 / float64(s-1)
	for k := range m {
		for i := range s {
			if k == 0 {
				g.basis[i] = 1
				continue
			}
			g.basis[k*s+i] = math.Sqrt2 * math.Cos(math.Pi*float64(k)*float64(i)*h)
		}
	}
	return g
}

// sample fills a (length s²) with one thresholded field drawn from rng.
func (g *darcyGRF) sample(a []float64, rng *rand.Rand) {
	g.field(a, rng)
	for i, v := range a {
		if v >= 0 {
			a[i] = g.high
		} else {
			a[i] = g.low
		}
	}
}

// field fills a (length s²) with the Gaussian random field itself.
func (g *darcyGRF) field(a []float64, rng *rand.Rand) {
	s, m := g.s, g.m
	c := make([]float64, m*m)
	for shell := range m {
		for k2 := 0; k2 <= shell; k2++ {
			c[shell*m+k2] = rng.NormFloat64() * g.scale[shell*m+k2]
		}
		for k1 := 0; k1 < shell; k1++ {
			c[k1*m+shell] = rng.NormFloat64() * g.scale[k1*m+shell]
		}
	}
	// Separable sum in two products, O(m²s + ms²) rather than O(m²s²):
	// t[k1·s+j] = Σ_k2 c[k1,k2] ψ_k2(y_j), then g[i,j] = Σ_k1 ψ_k1(x_i) t[k1,j].
	t := make([]float64, m*s)
	for k1 := range m {
		row := t[k1*s : (k1+1)*s]
		for k2 := range m {
			ck := c[k1*m+k2]
			if ck == 0 {
				continue
			}
			for j, b := range g.basis[k2*s : (k2+1)*s] {
				row[j] += ck * b
			}
		}
	}
	clear(a)
	for k1 := range m {
		row := t[k1*s : (k1+1)*s]
		for i := range s {
			b := g.basis[k1*s+i]
			ai := a[i*s : (i+1)*s]
			for j, v := range row {
				ai[j] += b * v
			}
		}
	}
}
