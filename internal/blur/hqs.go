package blur

import (
	"fmt"
	"math"
	"sync"
)

// HQS is the data step of half-quadratic splitting for the circular blur
// A of one kernel on h×w images,
//
//	z = Step(y, x, β) = (AᵀA + βI)⁻¹(Aᵀx + βy),
//
// the minimiser of ½‖Az − x‖² + (β/2)‖z − y‖², where x is the blurred
// measurement and y the current estimate (deepinv's physics.prox_l2(z, y,
// γ) with its z our y, its y our x, and γ = 1/β). A circular blur is
// diagonal in the 2-D Fourier basis, with eigenvalue â(f) at frequency f,
// so the step is exact and costs two forward and one inverse 2-D DFT per
// image (realDFT: twiddle tables, measured faster than an FFT at 28×28):
//
//	ẑ(f) = (conj(â(f))·x̂(f) + β·ŷ(f)) / (|â(f)|² + β).
//
// StepNormal takes b = Aᵀx instead of x (b̂ = conj(â)·x̂), for iterations
// that compute Aᵀx once; its VJP in b is Mv.
//
// Its vector–Jacobian products (VJP) follow from M = (AᵀA + βI)⁻¹, which
// is symmetric; for a cotangent v:
//
//	w.r.t. y:  (∂z/∂y)ᵀv = βMv              (self-adjoint)
//	w.r.t. x:  (∂z/∂x)ᵀv = (MAᵀ)ᵀv = AMv
//	w.r.t. β:  ⟨v, ∂z/∂β⟩ = ⟨v, M(y − z)⟩ = −⟨Mv, z − y⟩,
//
// the last because differentiating (AᵀA + βI)z = Aᵀx + βy in β gives
// z + (AᵀA + βI)∂z/∂β = y. All three share Mv, so VJP costs one forward
// and at most two inverse DFTs per image.
//
// Images are stored as in Apply: n images of h×w pixels one after another
// in a flat buffer, row-major. The tables are float64 and so is the
// arithmetic; T is only the storage type. The per-frequency tables are
// computed once, by NewHQS, which validates the sizes; Step and VJP then
// cannot fail on buffers of n·h·w values. An HQS is safe for concurrent
// use: its tables are read-only and its scratch comes from a pool.
//
// β must be > 0 (or ≥ 0 if no |â(f)| is 0): at a frequency where
// |â(f)|² + β = 0 the step divides by zero and yields Inf or NaN.
type HQS[T Float] struct {
	h, w int
	dft  *realDFT
	// â(fy, fx) as real and imaginary planes, and |â|², for fy ∈ [0, h),
	// fx ∈ [0, w/2] (the image is real, so the other half is redundant).
	are, aim, a2 []float64
	pool         sync.Pool // *hqsWork
}

// hqsWork is one goroutine's scratch.
type hqsWork struct {
	dft        *dftWork
	px         []float64 // one image in float64, h·w values
	mv         []float64 // Mv in VJP
	s1re, s1im []float64 // half spectra, h·(w/2+1) values
	s2re, s2im []float64
}

// NewHQS returns the HQS data step for kernel k on h×w images.
func NewHQS[T Float](k Kernel, h, w int) (*HQS[T], error) {
	if err := k.Check(h, w); err != nil {
		return nil, err
	}
	for i, v := range k.W {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("blur: kernel %q weight %d is %v; HQS needs finite weights", k.Name, i, v)
		}
	}
	wc := w/2 + 1
	s := &HQS[T]{h: h, w: w, dft: newRealDFT(h, w)}
	s.are, s.aim, s.a2 = make([]float64, h*wc), make([]float64, h*wc), make([]float64, h*wc)
	// (Ax)[i, j] = Σ_{a,b} W[a,b]·x[i+a−c, j+b−c] correlates, so a shift by
	// +d in the image becomes the factor e^{+2πi f·d/N} in the spectrum.
	// Angles come from exact integer products mod N, as in the DFT tables.
	c := k.K / 2
	for fy := range h {
		for fx := range wc {
			var re, im float64
			for a := range k.K {
				for b := range k.K {
					if t := k.W[a*k.K+b]; t != 0 {
						py := ((fy*(a-c))%h + h) % h
						px := ((fx*(b-c))%w + w) % w
						th := 2 * math.Pi * (float64(py)/float64(h) + float64(px)/float64(w))
						re += t * math.Cos(th)
						im += t * math.Sin(th)
					}
				}
			}
			f := fy*wc + fx
			s.are[f], s.aim[f], s.a2[f] = re, im, re*re+im*im
		}
	}
	s.pool.New = func() any {
		n := h * wc
		return &hqsWork{
			dft:  s.dft.newWork(),
			px:   make([]float64, h*w),
			mv:   make([]float64, h*w),
			s1re: make([]float64, n),
			s1im: make([]float64, n),
			s2re: make([]float64, n),
			s2im: make([]float64, n),
		}
	}
	return s, nil
}

// Size returns the image size the step was built for.
func (s *HQS[T]) Size() (h, w int) { return s.h, s.w }

// Step writes z = (AᵀA + βI)⁻¹(Aᵀx + βy) into out for n images stored one
// after another in y (current estimates) and x (measurements), each of
// n·h·w values. out may be the same slice as y or x; otherwise the
// buffers must not overlap.
func (s *HQS[T]) Step(out, y, x []T, n int, beta float64) { s.step(out, y, x, n, beta, true) }

// StepNormal is Step for a measurement already mapped back by Aᵀ: it
// writes z = (AᵀA + βI)⁻¹(b + βy) into out, where b = Aᵀx. An implicit
// model computes b once per solve and iterates on it; the start y₀ = Aᵀx
// is then b itself. Buffers as in Step.
func (s *HQS[T]) StepNormal(out, y, b []T, n int, beta float64) { s.step(out, y, b, n, beta, false) }

// step is Step (blurred: x is a measurement, multiplied by conj(â)) or
// StepNormal (src is already Aᵀx).
func (s *HQS[T]) step(out, y, src []T, n int, beta float64, blurred bool) {
	wk := s.pool.Get().(*hqsWork)
	defer s.pool.Put(wk)
	hw := s.h * s.w
	for i := range n {
		lo, hi := i*hw, (i+1)*hw
		s.forward(wk, wk.s1re, wk.s1im, y[lo:hi])
		s.forward(wk, wk.s2re, wk.s2im, src[lo:hi])
		for f, ar := range s.are {
			ai, d := s.aim[f], 1/(s.a2[f]+beta)
			yr, yi, xr, xi := wk.s1re[f], wk.s1im[f], wk.s2re[f], wk.s2im[f]
			if blurred { // conj(â)·x̂
				xr, xi = ar*xr+ai*xi, ar*xi-ai*xr
			}
			// (conj(â)·x̂ + β·ŷ) / (|â|² + β)
			wk.s1re[f] = (xr + beta*yr) * d
			wk.s1im[f] = (xi + beta*yi) * d
		}
		s.inverse(wk, out[lo:hi], wk.s1re, wk.s1im)
	}
}

// VJP writes the vector–Jacobian products of Step at (y, x, β), whose
// output was z, for the cotangent v (n images each): gy = βMv and
// gx = AMv with M = (AᵀA + βI)⁻¹, and gbeta[i] = ⟨v_i, M(y_i − z_i)⟩,
// image i's derivative of ⟨v_i, z_i⟩ in β (sum gbeta for a β shared by
// the batch). Any of gy, gx, gbeta may be nil to skip it; y and z are read
// only for gbeta and may then be nil. gy and gx may be the same slice as
// v; otherwise the buffers must not overlap.
func (s *HQS[T]) VJP(gy, gx []T, gbeta []float64, v, y, z []T, n int, beta float64) {
	s.vjp(gy, gx, nil, gbeta, v, y, z, n, beta)
}

// VJPNormal writes the vector–Jacobian products of StepNormal at
// (y, b, β), whose output was z: gy = βMv and gb = Mv (M is symmetric),
// and gbeta as in VJP. Any output may be nil; gy and gb may be the same
// slice as v (not as each other); otherwise the buffers must not overlap.
func (s *HQS[T]) VJPNormal(gy, gb []T, gbeta []float64, v, y, z []T, n int, beta float64) {
	s.vjp(gy, nil, gb, gbeta, v, y, z, n, beta)
}

// vjp writes gy = βMv, gx = AMv, gb = Mv and gbeta, each when not nil.
func (s *HQS[T]) vjp(gy, gx, gb []T, gbeta []float64, v, y, z []T, n int, beta float64) {
	wk := s.pool.Get().(*hqsWork)
	defer s.pool.Put(wk)
	hw := s.h * s.w
	for i := range n {
		lo, hi := i*hw, (i+1)*hw
		s.forward(wk, wk.s1re, wk.s1im, v[lo:hi])
		for f, a2 := range s.a2 {
			d := 1 / (a2 + beta)
			wk.s1re[f] *= d // M v
			wk.s1im[f] *= d
		}
		if gx != nil {
			for f, ar := range s.are {
				ai, mr, mi := s.aim[f], wk.s1re[f], wk.s1im[f]
				wk.s2re[f], wk.s2im[f] = ar*mr-ai*mi, ar*mi+ai*mr // â·(Mv)^
			}
			s.inverse(wk, gx[lo:hi], wk.s2re, wk.s2im)
		}
		if gy == nil && gb == nil && gbeta == nil {
			continue
		}
		s.dft.inverse(wk.mv, wk.s1re, wk.s1im, wk.dft)
		if gbeta != nil {
			d := 0.0
			yi, zi := y[lo:hi], z[lo:hi]
			for p, m := range wk.mv {
				d += m * (float64(yi[p]) - float64(zi[p]))
			}
			gbeta[i] = d
		}
		if gy != nil {
			g := gy[lo:hi]
			for p, m := range wk.mv {
				g[p] = T(beta * m)
			}
		}
		if gb != nil {
			g := gb[lo:hi]
			for p, m := range wk.mv {
				g[p] = T(m)
			}
		}
	}
}

// forward writes the half spectrum of image x into (re, im).
func (s *HQS[T]) forward(wk *hqsWork, re, im []float64, x []T) {
	for p, v := range x {
		wk.px[p] = float64(v)
	}
	s.dft.forward(re, im, wk.px, wk.dft)
}

// inverse writes the image of the half spectrum (re, im) into x.
func (s *HQS[T]) inverse(wk *hqsWork, x []T, re, im []float64) {
	s.dft.inverse(wk.px, re, im, wk.dft)
	for p, v := range wk.px {
		x[p] = T(v)
	}
}
