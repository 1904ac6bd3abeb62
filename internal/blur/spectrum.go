package blur

import (
	"math"
	"sort"
)

// Mode is a 2-D frequency (Fy, Fx) of h×w images, with Fy ∈ [0, h) and
// Fx ∈ [0, w), and the singular value of A there.
type Mode struct {
	Fy, Fx int
	Sigma  float64
}

// Spectrum returns A's singular values on h×w images: for each frequency
// the magnitude of the kernel's DFT, |Σ_{a,b} W[a,b] e^{−2πi(Fy·a/h + Fx·b/w)}|
// (the centring offsets only change the phase). Modes come out row-major
// in (Fy, Fx).
func Spectrum(k Kernel, h, w int) []Mode {
	c := k.K / 2
	out := make([]Mode, 0, h*w)
	for fy := range h {
		for fx := range w {
			var re, im float64
			for a := range k.K {
				for b := range k.K {
					t := k.W[a*k.K+b]
					if t == 0 {
						continue
					}
					th := -2 * math.Pi * (float64(fy*(a-c))/float64(h) + float64(fx*(b-c))/float64(w))
					re += t * math.Cos(th)
					im += t * math.Sin(th)
				}
			}
			out = append(out, Mode{Fy: fy, Fx: fx, Sigma: math.Hypot(re, im)})
		}
	}
	return out
}

// AtRanks returns, for each fraction q in ranks (0 ≤ q < 1), the mode at
// position ⌊q·n⌋ when the n = h·w modes are sorted by decreasing singular
// value (ties broken by frequency, so the choice is deterministic): rank
// 0.1 is a well-measured low frequency, rank 0.9 a strongly damped one.
func AtRanks(k Kernel, h, w int, ranks []float64) []Mode {
	modes := Spectrum(k, h, w)
	sort.SliceStable(modes, func(i, j int) bool {
		if modes[i].Sigma != modes[j].Sigma {
			return modes[i].Sigma > modes[j].Sigma
		}
		return modes[i].Fy*w+modes[i].Fx < modes[j].Fy*w+modes[j].Fx
	})
	out := make([]Mode, len(ranks))
	for i, q := range ranks {
		idx := min(max(int(q*float64(len(modes))), 0), len(modes)-1)
		out[i] = modes[idx]
	}
	return out
}

// Vector returns the unit-norm real singular vector of A for mode m on
// h×w images: cos(2π(Fy·i/h + Fx·j/w)) normalised. A maps it to a vector
// of norm m.Sigma (a phase-shifted cosine of the same frequency).
func Vector(m Mode, h, w int) []float64 {
	v := make([]float64, h*w)
	s := 0.0
	for i := range h {
		for j := range w {
			x := math.Cos(2 * math.Pi * (float64(m.Fy*i)/float64(h) + float64(m.Fx*j)/float64(w)))
			v[i*w+j] = x
			s += x * x
		}
	}
	for i := range v {
		v[i] /= math.Sqrt(s)
	}
	return v
}
