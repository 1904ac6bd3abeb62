package fourier

import (
	"math"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/linalg"
)

// The spectral convolution K of a Fourier layer, in real arithmetic.
//
// Fields are S×S grids with C channels stored channel-last: sample b,
// node (x, y), channel c is element ((b·S + x)·S + y)·C + c. K keeps the
// Fourier modes kx ∈ {0…M−1} ∪ {S−M…S−1} (2M of them, index j) and
// ky ∈ {0…M−1}, multiplies each retained mode by a learned complex
// Cin×Cout matrix and transforms back:
//
//	F(kx, ky) = Σ_{x,y} f(x, y) e^{−iθ},   θ = 2π(kx·x + ky·y)/S
//	H(kx, ky) = F(kx, ky)·W(kx, ky)          (per mode, over channels)
//	(K f)(x, y) = S^{−2} Σ_{kx,ky} α_ky Re(H(kx, ky) e^{iθ})
//
// with α_0 = 1 and α_ky = 2 for ky > 0: the inverse real FFT of the
// truncated half spectrum. Every stage is real-linear, so
//
//	K  = B ∘ Scatter_α ∘ Mix(W)  ∘ Gather   ∘ Bᵀ
//	Kᵀ = B ∘ Scatter   ∘ Mix(Wᵀ) ∘ Gather_α ∘ Bᵀ
//
// where Bᵀ projects a field on the real basis cos/sin(2π kx x/S) ×
// cos/sin(2π ky y/S) (two matrix products and a transpose, no FFT: the
// grids here are small), Gather combines its four products into the
// complex coefficient of each mode, Scatter is Gather's transpose, and B
// synthesises a field from the basis. Kᵀ needs no code of its own.

// spectralPlan holds the truncated bases of one S×S grid with M modes per
// direction and the scratch for one batch size. A plan is used by one
// kernel or op at a time.
type spectralPlan[T deq.Float] struct {
	s, m      int
	cin, cout int
	// bx is (4M, S): row p·2M + j is cos (p = 0) or sin (p = 1) of
	// 2π·kx_j·x/S; by is (2M, S): row p·M + ky likewise in y.
	bx, by []T
	// alpha[ky] is α_ky/S².
	alpha []T
	// Scratch for batches of batch samples, channels up to max(cin, cout):
	// xt (S, B, C, S), g (S, B·C·2M), t and q (4M, B·C·2M), modes
	// (nModes, B, 2C) twice, and per-mode weight gradients.
	batch       int
	xt, g, t    []T
	xm, ym, gbl []T
	// blk is the block form of the weights last bound (blockBuf).
	blk []T
}

// spectralModes is the number of complex modes K keeps: 2M values of kx
// times M of ky.
func spectralModes(m int) int { return 2 * m * m }

// newSpectralPlan builds the bases; s ≥ 2, 1 ≤ m ≤ s/2 (checked by the
// callers).
func newSpectralPlan[T deq.Float](s, m, cin, cout int) *spectralPlan[T] {
	p := &spectralPlan[T]{s: s, m: m, cin: cin, cout: cout,
		bx: make([]T, 4*m*s), by: make([]T, 2*m*s), alpha: make([]T, m)}
	for j := range 2 * m {
		kx := j
		if j >= m {
			kx = s - 2*m + j
		}
		for x := range s {
			// Reduce the phase exactly before scaling it: cos(2π·k·x/S)
			// with k·x mod S keeps the bases accurate for any S.
			th := 2 * math.Pi * float64(kx*x%s) / float64(s)
			p.bx[j*s+x] = T(math.Cos(th))
			p.bx[(2*m+j)*s+x] = T(math.Sin(th))
		}
	}
	for ky := range m {
		for y := range s {
			th := 2 * math.Pi * float64(ky*y%s) / float64(s)
			p.by[ky*s+y] = T(math.Cos(th))
			p.by[(m+ky)*s+y] = T(math.Sin(th))
		}
		a := 2.0
		if ky == 0 {
			a = 1
		}
		p.alpha[ky] = T(a / float64(s*s))
	}
	return p
}

// ensure sizes the scratch for batches of b.
func (p *spectralPlan[T]) ensure(b int) {
	if p.batch == b {
		return
	}
	c := max(p.cin, p.cout)
	s, m := p.s, p.m
	p.batch = b
	p.xt = make([]T, s*b*c*s)
	p.g = make([]T, s*b*c*2*m)
	p.t = make([]T, 4*m*b*c*2*m)
	p.xm = make([]T, spectralModes(m)*b*2*c)
	p.ym = make([]T, spectralModes(m)*b*2*c)
}

// blockWeights writes the real form of the complex weights w (2, nModes,
// Cin, Cout; w[0] real, w[1] imaginary parts) into blk (nModes, 2Cin,
// 2Cout): [[Re, Im], [−Im, Re]], so that a row [Re x, Im x] times the
// block is [Re(xW), Im(xW)].
func blockWeights[T deq.Float](blk, w []T, modes, cin, cout int) {
	n := modes * cin * cout
	wr, wi := w[:n], w[n:2*n]
	for k := range modes {
		b := blk[k*4*cin*cout : (k+1)*4*cin*cout]
		for c := range cin {
			top, bot := b[c*2*cout:(c+1)*2*cout], b[(cin+c)*2*cout:(cin+c+1)*2*cout]
			r := wr[(k*cin+c)*cout : (k*cin+c+1)*cout]
			im := wi[(k*cin+c)*cout : (k*cin+c+1)*cout]
			for o := range cout {
				top[o], top[cout+o] = r[o], im[o]
				bot[o], bot[cout+o] = -im[o], r[o]
			}
		}
	}
}

// apply writes out = K x + add (add may be nil): x has Cin channels, out
// and add Cout. blk is blockWeights' form of W.
func (p *spectralPlan[T]) apply(out, x, add, blk []T, b int) {
	p.ensure(b)
	p.analyze(x, b, p.cin)
	p.gather(p.xm, b, p.cin, false)
	p.mix(p.ym, p.xm, blk, b, false)
	p.scatter(p.ym, b, p.cout, true)
	p.synthesize(out, add, b, p.cout)
}

// applyT writes out = Kᵀ g + add (add may be nil): g has Cout channels,
// out and add Cin.
func (p *spectralPlan[T]) applyT(out, g, add, blk []T, b int) {
	p.ensure(b)
	p.analyze(g, b, p.cout)
	p.gather(p.xm, b, p.cout, true)
	p.mix(p.ym, p.xm, blk, b, true)
	p.scatter(p.ym, b, p.cin, false)
	p.synthesize(out, add, b, p.cin)
}

// weightGrad writes into gw (2, nModes, Cin, Cout) the gradient of
// ⟨g, K x⟩ with respect to W.
func (p *spectralPlan[T]) weightGrad(gw, x, g []T, b int) {
	p.ensure(b)
	modes, cin, cout := spectralModes(p.m), p.cin, p.cout
	p.analyze(x, b, cin)
	p.gather(p.xm, b, cin, false)
	p.analyze(g, b, cout)
	p.gather(p.ym, b, cout, true) // the gradient at the mixed modes
	if len(p.gbl) != modes*4*cin*cout {
		p.gbl = make([]T, modes*4*cin*cout)
	}
	n := modes * cin * cout
	gr, gi := gw[:n], gw[n:2*n]
	spectralSplit(modes, modes*b*4*cin*cout, func(lo, hi int) {
		for k := lo; k < hi; k++ {
			blk := p.gbl[k*4*cin*cout : (k+1)*4*cin*cout]
			xk := p.xm[k*b*2*cin : (k+1)*b*2*cin]
			gk := p.ym[k*b*2*cout : (k+1)*b*2*cout]
			linalg.Gemm(true, false, 2*cin, 2*cout, b, 1, xk, 2*cin, gk, 2*cout, 0, blk, 2*cout)
			for c := range cin {
				top, bot := blk[c*2*cout:(c+1)*2*cout], blk[(cin+c)*2*cout:(cin+c+1)*2*cout]
				r := gr[(k*cin+c)*cout : (k*cin+c+1)*cout]
				im := gi[(k*cin+c)*cout : (k*cin+c+1)*cout]
				for o := range cout {
					r[o] = top[o] + bot[cout+o]
					im[o] = top[cout+o] - bot[o]
				}
			}
		}
	})
}

// analyze computes Bᵀ x for x (B, S, S, c) into t ((p,j), b, c, (q,ky)):
// the transpose to (x, b, c, y), the product with the y basis, then with
// the x basis.
func (p *spectralPlan[T]) analyze(x []T, b, c int) {
	s, m := p.s, p.m
	xt := p.xt[:s*b*c*s]
	spectralSplit(s, s*b*c*s, func(lo, hi int) {
		for xi := lo; xi < hi; xi++ {
			for bi := range b {
				src := x[(bi*s+xi)*s*c : (bi*s+xi+1)*s*c]
				dst := xt[(xi*b+bi)*c*s : (xi*b+bi+1)*c*s]
				for y := range s {
					row := src[y*c : (y+1)*c]
					for ch, v := range row {
						dst[ch*s+y] = v
					}
				}
			}
		}
	})
	w := b * c * 2 * m
	g := p.g[:s*w]
	linalg.Gemm(false, true, s*b*c, 2*m, s, 1, xt, s, p.by, s, 0, g, 2*m)
	linalg.Gemm(false, false, 4*m, w, s, 1, p.bx, s, g, w, 0, p.t[:4*m*w], w)
}

// synthesize computes out = B t (+ add) for t ((p,j), b, c, (q,ky)) and
// out (B, S, S, c): the product with the x basis, with the y basis, then
// the transpose back to channel-last.
func (p *spectralPlan[T]) synthesize(out, add []T, b, c int) {
	s, m := p.s, p.m
	w := b * c * 2 * m
	g := p.g[:s*w]
	linalg.Gemm(true, false, s, w, 4*m, 1, p.bx, s, p.t[:4*m*w], w, 0, g, w)
	xt := p.xt[:s*b*c*s]
	linalg.Gemm(false, false, s*b*c, s, 2*m, 1, g, 2*m, p.by, s, 0, xt, s)
	spectralSplit(s, s*b*c*s, func(lo, hi int) {
		for xi := lo; xi < hi; xi++ {
			for bi := range b {
				src := xt[(xi*b+bi)*c*s : (xi*b+bi+1)*c*s]
				off := (bi*s + xi) * s * c
				dst := out[off : off+s*c]
				if add == nil {
					for y := range s {
						row := dst[y*c : (y+1)*c]
						for ch := range row {
							row[ch] = src[ch*s+y]
						}
					}
					continue
				}
				a := add[off : off+s*c]
				for y := range s {
					row, ar := dst[y*c:(y+1)*c], a[y*c:(y+1)*c]
					for ch := range row {
						row[ch] = src[ch*s+y] + ar[ch]
					}
				}
			}
		}
	})
}

// gather reads the four basis products of every retained mode from t and
// writes the complex coefficients, xm (mode, b, [Re c…, Im c…]) with mode
// = j·M + ky: Re = cc − ss, Im = −(sc + cs), times α_ky when scaled.
func (p *spectralPlan[T]) gather(xm []T, b, c int, scaled bool) {
	m := p.m
	w := b * c * 2 * m
	t := p.t
	for j := range 2 * m {
		cRow, sRow := t[j*w:(j+1)*w], t[(2*m+j)*w:(2*m+j+1)*w]
		for bi := range b {
			for ch := range c {
				o := (bi*c + ch) * 2 * m
				cc, cs := cRow[o:o+m], cRow[o+m:o+2*m]
				sc, ss := sRow[o:o+m], sRow[o+m:o+2*m]
				for ky := range m {
					re, im := cc[ky]-ss[ky], -(sc[ky] + cs[ky])
					if scaled {
						re, im = re*p.alpha[ky], im*p.alpha[ky]
					}
					d := ((j*m+ky)*b + bi) * 2 * c
					xm[d+ch], xm[d+c+ch] = re, im
				}
			}
		}
	}
}

// scatter is gather's transpose: it writes t from the coefficients ym,
// cc = Re, ss = −Re, sc = cs = −Im, times α_ky when scaled.
func (p *spectralPlan[T]) scatter(ym []T, b, c int, scaled bool) {
	m := p.m
	w := b * c * 2 * m
	t := p.t
	for j := range 2 * m {
		cRow, sRow := t[j*w:(j+1)*w], t[(2*m+j)*w:(2*m+j+1)*w]
		for bi := range b {
			for ch := range c {
				o := (bi*c + ch) * 2 * m
				cc, cs := cRow[o:o+m], cRow[o+m:o+2*m]
				sc, ss := sRow[o:o+m], sRow[o+m:o+2*m]
				for ky := range m {
					d := ((j*m+ky)*b + bi) * 2 * c
					re, im := ym[d+ch], ym[d+c+ch]
					if scaled {
						re, im = re*p.alpha[ky], im*p.alpha[ky]
					}
					cc[ky], ss[ky] = re, -re
					sc[ky], cs[ky] = -im, -im
				}
			}
		}
	}
}

// mix multiplies every mode's rows by its block: ym[k] = xm[k]·blk[k]
// (Cin → Cout), or with trans ym[k] = xm[k]·blk[k]ᵀ (Cout → Cin).
func (p *spectralPlan[T]) mix(ym, xm, blk []T, b int, trans bool) {
	modes, cin, cout := spectralModes(p.m), p.cin, p.cout
	in, out := 2*cin, 2*cout
	if trans {
		in, out = out, in
	}
	spectralSplit(modes, modes*b*in*out, func(lo, hi int) {
		for k := lo; k < hi; k++ {
			bk := blk[k*4*cin*cout : (k+1)*4*cin*cout]
			linalg.Gemm(false, trans, b, out, in, 1, xm[k*b*in:(k+1)*b*in], in, bk, 2*cout, 0, ym[k*b*out:(k+1)*b*out], out)
		}
	})
}

// spectralSplit runs f over [0, n) on all cores when the work (about flops
// multiply-adds or element moves) is worth a hand-off, else inline.
func spectralSplit(n, flops int, f func(lo, hi int)) {
	if flops < linalg.ParallelFlops {
		f(0, n)
		return
	}
	linalg.Parallel(n, 1, f)
}
