package datasets

import (
	"math"
	"math/rand/v2"
)

// nsStreamForcing returns the packed stream function φ of one forcing
// f = ∇^⊥φ = (∂φ/∂y, −∂φ/∂x) of cfg, drawn from rng (see
// NavierStokesConfig for the distribution). cfg must be resolved.
//
// The random coefficients are drawn mode by mode in a fixed order over
// 1 ≤ max(|kx|, |ky|) ≤ Modes that does not involve S, so the same
// (seed, index) gives the same forcing on every grid: the refinement
// test and a change of resolution compare like with like.
func nsStreamForcing(sp *nsSpectral, cfg NavierStokesConfig, rng *rand.Rand) []complex128 {
	k, m := sp.k, cfg.Modes
	idx := func(a, b int) int { return (a+k)*(k+1) + b }
	phi := make([]complex128, sp.m)
	// The random part: one complex normal per mode with ky > 0, or
	// ky = 0 and kx > 0 (its conjugate fills kx < 0), std |k|⁻², so that
	// the curl −Δφ has a flat spectrum over the band.
	for a := -m; a <= m; a++ {
		for b := 0; b <= m; b++ {
			if b == 0 && a <= 0 {
				continue
			}
			k2 := float64(a*a + b*b)
			c := complex(rng.NormFloat64(), rng.NormFloat64()) * complex(1/k2, 0)
			phi[idx(a, b)] = c
			if b == 0 {
				phi[idx(-a, 0)] = complex(real(c), -imag(c))
			}
		}
	}
	// Scale it to Perturbation times the root mean square of the base
	// term sin(k_f y), which is 1/√2: |f̂|² = |k|²|φ̂|².
	var e float64
	for p, w := range sp.w {
		e += w * sp.k2[p] * (real(phi[p])*real(phi[p]) + imag(phi[p])*imag(phi[p]))
	}
	scale := 0.0
	if e > 0 {
		scale = cfg.perturbation() / math.Sqrt2 / math.Sqrt(e)
	}
	for p := range phi {
		phi[p] *= complex(scale, 0)
	}
	// The Kolmogorov term: ∂φ/∂y = sin(k_f y) for φ = −cos(k_f y)/k_f,
	// whose coefficient at (0, k_f) is −1/(2k_f) (the conjugate at
	// (0, −k_f) is implied).
	phi[idx(0, cfg.ForceK)] += complex(-0.5/float64(cfg.ForceK), 0)
	for p := range phi {
		phi[p] *= complex(cfg.Amplitude, 0)
	}
	return phi
}
