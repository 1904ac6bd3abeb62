package blur

import "math"

// realDFT is the 2-D DFT of real h×w images by precomputed twiddle tables
// rather than an FFT: at the workload's 28×28 (28 = 4·7, and FFTPACK,
// under gonum's dsp/fourier, has no radix-7 pass, so it takes its generic
// one) a forward and inverse pair takes about 20 µs against 42 µs for
// gonum's row-and-column FFT (BenchmarkTransform28), because every sum is
// folded by the symmetries of a real image. It keeps the half spectrum fx ∈ [0, w/2], all fy, as
// separate real and imaginary planes of h×(w/2+1) values, and uses the
// unnormalised forward sign, X(f) = Σ_p x(p)·e^{−2πi f·p/N}.
//
// The folds: along a row, x_j and x_{w−j} share cos(2πfj/w) and have
// opposite sin, so the row sum runs over j ≤ w/2 only; along a column, the
// outputs at fy and h−fy share every partial sum and differ in the sign of
// the sine part, so only fy ≤ h/2 is computed. Each halves the work.
type realDFT struct {
	h, w, wc int
	// cosW[a·(w/2+1)+b] = cos(2πab/w) for a, b ∈ [0, w/2]; sinW likewise;
	// cosH, sinH the same for h. The angle is symmetric in a and b, so one
	// table serves both directions and both stages.
	cosW, sinW, cosH, sinH []float64
}

// dftWork is one goroutine's scratch for realDFT.
type dftWork struct {
	rre, rim           []float64 // row stage, h×wc
	pre, pim, qre, qim []float64 // column folds, (h/2+1)×wc
	even, odd          []float64 // row folds, w/2+1
}

func newRealDFT(h, w int) *realDFT {
	t := &realDFT{h: h, w: w, wc: w/2 + 1}
	t.cosW, t.sinW = twiddles(w)
	t.cosH, t.sinH = twiddles(h)
	return t
}

// twiddles returns cos and sin of 2πab/n for a, b ∈ [0, n/2], computed
// from the exact integer a·b mod n so that large products lose nothing.
func twiddles(n int) (c, s []float64) {
	m := n/2 + 1
	c, s = make([]float64, m*m), make([]float64, m*m)
	for a := range m {
		for b := range m {
			th := 2 * math.Pi * float64(a*b%n) / float64(n)
			c[a*m+b], s[a*m+b] = math.Cos(th), math.Sin(th)
		}
	}
	return c, s
}

func (t *realDFT) newWork() *dftWork {
	hc := t.h/2 + 1
	return &dftWork{
		rre: make([]float64, t.h*t.wc), rim: make([]float64, t.h*t.wc),
		pre: make([]float64, hc*t.wc), pim: make([]float64, hc*t.wc),
		qre: make([]float64, hc*t.wc), qim: make([]float64, hc*t.wc),
		even: make([]float64, t.w/2+1), odd: make([]float64, t.w/2+1),
	}
}

// forward writes the half spectrum of the real h×w image x into
// (re, im), each h×wc.
func (t *realDFT) forward(re, im, x []float64, wk *dftWork) {
	t.rowsForward(x, wk)
	t.columns(re, im, wk.rre, wk.rim, wk, -1)
}

// inverse writes into x the real h×w image whose half spectrum is
// (re, im), normalised by 1/(h·w), so inverse undoes forward. The
// spectrum must be that of a real image (Hermitian); the parts a real
// image cannot have (imaginary DC and Nyquist terms) are ignored.
func (t *realDFT) inverse(x, re, im []float64, wk *dftWork) {
	t.columns(wk.rre, wk.rim, re, im, wk, +1)
	t.rowsInverse(x, wk)
}

// rowsForward transforms each row of x into (wk.rre, wk.rim): R_f = x_0 +
// (−1)^f x_{w/2} + Σ_j e_j cos − i Σ_j o_j sin over the pairs, with
// e_j = x_j + x_{w−j}, o_j = x_j − x_{w−j}.
func (t *realDFT) rowsForward(x []float64, wk *dftWork) {
	h, w, wc := t.h, t.w, t.wc
	np := (w - 1) / 2 // pairs (j, w−j) with 0 < j < w−j
	mw := w/2 + 1
	for r := range h {
		xr := x[r*w : (r+1)*w]
		ore, oim := wk.rre[r*wc:(r+1)*wc], wk.rim[r*wc:(r+1)*wc]
		e, o := wk.even[1:np+1], wk.odd[1:np+1]
		for j := range e {
			e[j] = xr[j+1] + xr[w-1-j]
			o[j] = xr[j+1] - xr[w-1-j]
		}
		nyq := 0.0 // x_{w/2} when w is even, paired with itself
		if w%2 == 0 {
			nyq = xr[w/2]
		}
		for f := range wc {
			cs, sn := t.cosW[f*mw+1:f*mw+1+np], t.sinW[f*mw+1:f*mw+1+np]
			a, b := xr[0], 0.0
			if f%2 == 0 {
				a += nyq
			} else {
				a -= nyq
			}
			for j, c := range cs {
				a += e[j] * c
				b -= o[j] * sn[j]
			}
			ore[f], oim[f] = a, b
		}
	}
}

// rowsInverse is the Hermitian inverse of each row of (wk.rre, wk.rim)
// into x, scaled by 1/(h·w): x_j = R_0 + (−1)^j R_{w/2} + 2Σ_f (Re R_f
// cos − Im R_f sin); x_j and x_{w−j} share the cosine sum E and differ in
// the sign of the sine sum O.
func (t *realDFT) rowsInverse(x []float64, wk *dftWork) {
	h, w, wc := t.h, t.w, t.wc
	np := (w - 1) / 2
	mw := w/2 + 1
	scale := 1 / float64(h*w)
	for r := range h {
		xr := x[r*w : (r+1)*w]
		rr, ri := wk.rre[r*wc+1:r*wc+1+np], wk.rim[r*wc+1:r*wc+1+np]
		dc, nyq := wk.rre[r*wc], 0.0
		if w%2 == 0 {
			nyq = wk.rre[r*wc+w/2]
		}
		for j := 0; j <= w/2; j++ {
			cs, sn := t.cosW[j*mw+1:j*mw+1+np], t.sinW[j*mw+1:j*mw+1+np]
			var e, o float64
			for f, c := range cs {
				e += rr[f] * c
				o += ri[f] * sn[f]
			}
			base := dc
			if j%2 == 0 {
				base += nyq
			} else {
				base -= nyq
			}
			xr[j] = scale * (base + 2*(e-o))
			if j > 0 && w-j > j {
				xr[w-j] = scale * (base + 2*(e+o))
			}
		}
	}
}

// columns is the length-h DFT down every column of the h×wc complex
// planes (sre, sim) into (dre, dim), with exponent sign −1 (forward) or
// +1 (inverse, unnormalised). Output k is A + sign·iB and output h−k is
// A − sign·iB, with A the cosine sum over P_r = S_r + S_{h−r} (plus S_0
// and (−1)^k S_{h/2}) and B the sine sum over Q_r = S_r − S_{h−r}, so
// the two partners share every partial sum.
func (t *realDFT) columns(dre, dim, sre, sim []float64, wk *dftWork, sign float64) {
	h, wc := t.h, t.wc
	mp := (h - 1) / 2
	mh := h/2 + 1
	for r := 1; r <= mp; r++ {
		a, b := sre[r*wc:(r+1)*wc], sre[(h-r)*wc:(h-r+1)*wc]
		ai, bi := sim[r*wc:(r+1)*wc], sim[(h-r)*wc:(h-r+1)*wc]
		pr, pi := wk.pre[r*wc:(r+1)*wc], wk.pim[r*wc:(r+1)*wc]
		qr, qi := wk.qre[r*wc:(r+1)*wc], wk.qim[r*wc:(r+1)*wc]
		for f := range pr {
			pr[f], pi[f] = a[f]+b[f], ai[f]+bi[f]
			qr[f], qi[f] = a[f]-b[f], ai[f]-bi[f]
		}
	}
	for k := 0; k <= h/2; k++ {
		are, aim := dre[k*wc:(k+1)*wc], dim[k*wc:(k+1)*wc] // A accumulates here
		copy(are, sre[:wc])
		copy(aim, sim[:wc])
		if h%2 == 0 {
			t.addNyquist(are, aim, sre[(h/2)*wc:(h/2+1)*wc], sim[(h/2)*wc:(h/2+1)*wc], k)
		}
		if k == 0 || 2*k == h {
			// sin vanishes: B = 0 and k is its own partner.
			for r := 1; r <= mp; r++ {
				axpy2(t.cosH[k*mh+r], are, aim, wk.pre[r*wc:(r+1)*wc], wk.pim[r*wc:(r+1)*wc])
			}
			continue
		}
		bre, bim := dre[(h-k)*wc:(h-k+1)*wc], dim[(h-k)*wc:(h-k+1)*wc] // B accumulates here
		clear(bre)
		clear(bim)
		for r := 1; r <= mp; r++ {
			axpy2(t.cosH[k*mh+r], are, aim, wk.pre[r*wc:(r+1)*wc], wk.pim[r*wc:(r+1)*wc])
			axpy2(t.sinH[k*mh+r], bre, bim, wk.qre[r*wc:(r+1)*wc], wk.qim[r*wc:(r+1)*wc])
		}
		for f := range are {
			ar, ai, br, bi := are[f], aim[f], bre[f], bim[f]
			are[f], aim[f] = ar-sign*bi, ai+sign*br // A + sign·iB
			bre[f], bim[f] = ar+sign*bi, ai-sign*br // A − sign·iB
		}
	}
}

// addNyquist adds (−1)^k times the Nyquist row (nr, ni) to (re, im).
func (t *realDFT) addNyquist(re, im, nr, ni []float64, k int) {
	s := 1.0
	if k%2 == 1 {
		s = -1
	}
	axpy2(s, re, im, nr, ni)
}

// axpy2 adds c·(xr, xi) to (yr, yi).
func axpy2(c float64, yr, yi, xr, xi []float64) {
	for f := range yr {
		yr[f] += c * xr[f]
		yi[f] += c * xi[f]
	}
}
