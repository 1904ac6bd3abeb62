package datasets

import (
	"math"
	"math/bits"

	"gonum.org/v1/gonum/dsp/fourier"
)

// nsFFT1 is an unnormalised 1-D complex transform of one length, in place:
// forward computes X_k = Σ_j x_j e^{−2πijk/n}, inverse x_j = Σ_k X_k e^{+2πijk/n}.
type nsFFT1 interface {
	forward(x []complex128)
	inverse(x []complex128)
}

// newNSFFT1 returns the transform of length n: nsRadix2 when n is a power
// of two, gonum's CmplxFFT (FFTPACK, any length) otherwise. The radix-2
// one is about 3 times faster at the lengths used here (32 and 64, see
// BenchmarkNavierStokesFFT1) because it works in place on precomputed
// twiddles where CmplxFFT copies into and out of its own buffer;
// TestNavierStokesFFT checks the two against each other and a naive DFT.
func newNSFFT1(n int) nsFFT1 {
	if n >= 2 && bits.OnesCount(uint(n)) == 1 {
		return newNSRadix2(n)
	}
	return nsGonumFFT{fourier.NewCmplxFFT(n)}
}

// nsGonumFFT adapts gonum's CmplxFFT.
type nsGonumFFT struct{ t *fourier.CmplxFFT }

func (g nsGonumFFT) forward(x []complex128) { g.t.Coefficients(x, x) }
func (g nsGonumFFT) inverse(x []complex128) { g.t.Sequence(x, x) }

// nsRadix2 is the iterative decimation-in-time radix-2 transform of a
// power-of-two length. Its twiddle factors are computed once, each by
// math.Sincos, so their error does not grow with the length as with the
// recurrence of gonum's CoefficientsRadix2.
type nsRadix2 struct {
	n   int
	rev []int32
	// fw[j] = e^{−2πij/n} and bw[j] its conjugate, j < n/2.
	fw, bw []complex128
}

func newNSRadix2(n int) *nsRadix2 {
	t := &nsRadix2{n: n, rev: make([]int32, n), fw: make([]complex128, n/2), bw: make([]complex128, n/2)}
	lz := bits.LeadingZeros(uint(n - 1))
	for i := range n {
		t.rev[i] = int32(bits.Reverse(uint(i)) >> lz)
	}
	for j := range n / 2 {
		s, c := math.Sincos(-2 * math.Pi * float64(j) / float64(n))
		t.fw[j], t.bw[j] = complex(c, s), complex(c, -s)
	}
	return t
}

func (t *nsRadix2) forward(x []complex128) { t.run(x, t.fw) }
func (t *nsRadix2) inverse(x []complex128) { t.run(x, t.bw) }

func (t *nsRadix2) run(x []complex128, tw []complex128) {
	n := t.n
	x = x[:n]
	for i, j := range t.rev {
		if i < int(j) {
			x[i], x[j] = x[j], x[i]
		}
	}
	for k := 0; k < n; k += 2 {
		a, b := x[k], x[k+1]
		x[k], x[k+1] = a+b, a-b
	}
	for m := 2; m < n; m *= 2 {
		stride := n / (2 * m)
		for k := 0; k < n; k += 2 * m {
			lo, hi := x[k:k+m], x[k+m:k+2*m]
			for j := range lo {
				u := tw[j*stride] * hi[j]
				hi[j] = lo[j] - u
				lo[j] += u
			}
		}
	}
}

// nsSpectral is the pseudo-spectral discretisation of one grid: 2-D
// transforms between an s×s grid on [0, 2π)² (element i·s+j is the point
// (x_i, y_j) = (2πi/s, 2πj/s), as in DarcyConfig) and the de-aliased
// Fourier coefficients, built from 1-D transforms.
//
// # Packed coefficients
//
// Only the modes k = (kx, ky) with |kx|, |ky| ≤ K, K = ⌊(s−1)/3⌋, are
// kept: the 2/3 rule. A product of two such fields has modes up to 2K,
// whose aliases on the s-point grid land at |k| ≥ s−2K > K, outside the
// kept set, so truncating a grid product to the kept modes gives exactly
// the Galerkin projection of the product: no aliasing error at all.
//
// A real field has ĉ(−k) = conj ĉ(k), so only ky ≥ 0 is stored: packed
// entry p = (kx+K)·(K+1) + ky holds
//
//	ĉ(k) = (1/s²) Σ_grid v(x) e^{−ik·x},   v(x) = Σ_k ĉ(k) e^{ik·x},
//
// the second sum over all kept modes, ky < 0 included through the
// symmetry. The column ky = 0 holds both ±kx, conjugates of each other.
// With the weights w_p = 1 for ky = 0 and 2 for ky > 0,
//
//	Σ_p w_p Re(conj(â_p) b̂_p) = (1/s²) Σ_grid a b,
//
// the mean over the grid of a·b (Parseval), for fields of zero mean (the
// mean mode has weight 0: every field the solver works on, vorticity and
// curls, has none). Inner products and norms of packed vectors are those
// of the grid fields.
//
// # Two real fields per transform
//
// Real fields go through the complex transforms in pairs, a + i·b, which
// halves the work: the grid values of the pair are the real and
// imaginary parts of one inverse transform, and the coefficients of two
// grid fields are separated from one forward transform by the symmetry,
// â(k) = (Ẑ(k) + conj Ẑ(−k))/2, b̂(k) = (Ẑ(k) − conj Ẑ(−k))/2i. The
// transforms are pruned: rows of modes that are not kept are neither
// transformed nor read.
//
// An nsSpectral holds work buffers: it is not safe for concurrent use.
type nsSpectral struct {
	s, k int
	// m is the number of packed modes, (2K+1)(K+1).
	m     int
	fft   nsFFT1
	z     []complex128 // s×s work array
	col   []complex128 // one column of it
	rowOf []int        // rowOf[kx+K] = kx mod s
	// kx, ky and k2 are the wavenumbers and |k|² of each packed mode; w
	// its weight in inner products.
	kx, ky, k2, w []float64
}

// nsMaxK returns K, the largest kept wavenumber on an s-point grid.
func nsMaxK(s int) int { return (s - 1) / 3 }

func newNSSpectral(s int) *nsSpectral {
	k := nsMaxK(s)
	sp := &nsSpectral{s: s, k: k, m: (2*k + 1) * (k + 1), fft: newNSFFT1(s),
		z: make([]complex128, s*s), col: make([]complex128, s), rowOf: make([]int, 2*k+1)}
	sp.kx, sp.ky = make([]float64, sp.m), make([]float64, sp.m)
	sp.k2, sp.w = make([]float64, sp.m), make([]float64, sp.m)
	for a := -k; a <= k; a++ {
		sp.rowOf[a+k] = (a + s) % s
		for b := 0; b <= k; b++ {
			p := (a+k)*(k+1) + b
			sp.kx[p], sp.ky[p] = float64(a), float64(b)
			sp.k2[p] = float64(a*a + b*b)
			switch {
			case a == 0 && b == 0:
			case b == 0:
				sp.w[p] = 1
			default:
				sp.w[p] = 2
			}
		}
	}
	return sp
}

// zero is the packed index of the mean mode.
func (sp *nsSpectral) zero() int { return sp.k * (sp.k + 1) }

// index returns the packed index of (kx, ky), ky ≥ 0, |kx|, ky ≤ K.
func (sp *nsSpectral) index(kx, ky int) int { return (kx+sp.k)*(sp.k+1) + ky }

// toGrid sets the grid fields a and b (length s² each) to the values of
// the packed fields ma·pa and mb·pb, the multipliers applied mode by mode
// (nil means 1, a nil pb a zero b field, a nil b that b is not wanted).
// Each multiplier must keep a real field real (m(−k) = conj m(k), as the
// derivative and velocity multipliers do), and each packed field's ky = 0
// column must be Hermitian, as toSpec and every operator here keep it.
func (sp *nsSpectral) toGrid(a, b []float64, pa, ma, pb, mb []complex128) {
	s, k, z := sp.s, sp.k, sp.z
	val := func(pf, mf []complex128, p int) complex128 {
		if pf == nil {
			return 0
		}
		if mf == nil {
			return pf[p]
		}
		return mf[p] * pf[p]
	}
	// Only the kept rows are filled; the others must be zero for the
	// column pass.
	for _, r := range sp.rowOf {
		clear(z[r*s : (r+1)*s])
	}
	for kx := -k; kx <= k; kx++ {
		r, rm := sp.rowOf[kx+k], sp.rowOf[-kx+k]
		for ky := 0; ky <= k; ky++ {
			p := (kx+k)*(k+1) + ky
			va, vb := val(pa, ma, p), val(pb, mb, p)
			z[r*s+ky] = va + complex(-imag(vb), real(vb))
			if ky > 0 {
				// Mode −k: conj(va) + i·conj(vb).
				z[rm*s+s-ky] = complex(real(va)+imag(vb), -imag(va)+real(vb))
			}
		}
	}
	for _, r := range sp.rowOf {
		sp.fft.inverse(z[r*s : (r+1)*s])
	}
	sp.clearUnkeptRows()
	col := sp.col
	for j := range s {
		for i := range s {
			col[i] = z[i*s+j]
		}
		sp.fft.inverse(col)
		for i, v := range col {
			a[i*s+j] = real(v)
			if b != nil {
				b[i*s+j] = imag(v)
			}
		}
	}
}

// clearUnkeptRows zeroes the rows of z whose kx is not kept.
func (sp *nsSpectral) clearUnkeptRows() {
	s, k, z := sp.s, sp.k, sp.z
	for r := k + 1; r < s-k; r++ {
		clear(z[r*s : (r+1)*s])
	}
}

// toSpec sets pa and pb (length m each) to the kept, normalised
// coefficients of the grid fields a and b (length s² each); b and pb may
// be nil together. Modes outside the kept set are dropped: pa is the
// projection of a onto the resolved modes, the mean included.
func (sp *nsSpectral) toSpec(pa, pb []complex128, a, b []float64) {
	s, k, z, col := sp.s, sp.k, sp.z, sp.col
	for j := range s {
		for i := range s {
			var im float64
			if b != nil {
				im = b[i*s+j]
			}
			col[i] = complex(a[i*s+j], im)
		}
		sp.fft.forward(col)
		for _, r := range sp.rowOf {
			z[r*s+j] = col[r]
		}
	}
	for _, r := range sp.rowOf {
		sp.fft.forward(z[r*s : (r+1)*s])
	}
	scale := 1 / float64(s*s)
	for kx := -k; kx <= k; kx++ {
		r, rm := sp.rowOf[kx+k], sp.rowOf[-kx+k]
		for ky := 0; ky <= k; ky++ {
			p := (kx+k)*(k+1) + ky
			zk := z[r*s+ky]
			if b == nil {
				pa[p] = zk * complex(scale, 0)
				continue
			}
			zm := z[rm*s+(s-ky)%s] // Ẑ(−k)
			// â = (Ẑ(k) + conj Ẑ(−k))/2, b̂ = (Ẑ(k) − conj Ẑ(−k))/2i.
			pa[p] = complex((real(zk)+real(zm))*scale/2, (imag(zk)-imag(zm))*scale/2)
			pb[p] = complex((imag(zk)+imag(zm))*scale/2, -(real(zk)-real(zm))*scale/2)
		}
	}
}

// dot returns the grid mean of a·b from packed coefficients (Parseval).
func (sp *nsSpectral) dot(a, b []complex128) float64 {
	var d float64
	for p, w := range sp.w {
		d += w * (real(a[p])*real(b[p]) + imag(a[p])*imag(b[p]))
	}
	return d
}

// norm returns the discrete L2 norm, the root mean square over the grid.
func (sp *nsSpectral) norm(a []complex128) float64 {
	return math.Sqrt(sp.dot(a, a))
}
