package conv

import (
	"sync"

	"github.com/implicit-ml/implicit/layers"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/linalg"
	"github.com/implicit-ml/implicit/internal/opkit"
)

// convGeom is the static shape of a 2-D convolution: H×W images, Cin →
// Cout channels, a K×K window (K odd), stride 1, zero padding K/2 ("same").
//
// Images are channel-major per sample, (B, C·H·W) with pixel (i, j) of
// channel c of sample s at s·C·H·W + c·H·W + i·W + j (PyTorch's NCHW);
// single-channel images are simply (B, H·W). The weights are
// (Cout, Cin·K·K), tap (a, b) of input channel ci in column
// (ci·K + a)·K + b (PyTorch's OIHW).
//
// Every kernel works one sample at a time, in parallel over samples: the
// sample's patches as a (Cin·K·K, H·W) matrix ("im2col", transposed) and
// one matrix product whose inner loops run along the H·W pixels, which is
// what makes a product with only 16 output channels fast.
type convGeom struct{ h, w, cin, cout, k int }

func (g convGeom) px() int      { return g.h * g.w }
func (g convGeom) patch() int   { return g.k * g.k * g.cin }
func (g convGeom) inSize() int  { return g.px() * g.cin }
func (g convGeom) outSize() int { return g.px() * g.cout }
func (g convGeom) weights() int { return g.patch() * g.cout }
func (g convGeom) colLen() int  { return g.patch() * g.px() }

// im2col writes the patches of one image x (Cin·H·W values) into col, a
// (Cin·K·K, H·W) matrix: row (ci·K + a)·K + b holds channel ci shifted by
// (a − K/2, b − K/2), zero outside the image.
func im2col[T deq.Float](g convGeom, col, x []T) {
	c, px := g.k/2, g.px()
	for ci := range g.cin {
		plane := x[ci*px : (ci+1)*px]
		for a := range g.k {
			for b := range g.k {
				row := col[((ci*g.k+a)*g.k+b)*px : ((ci*g.k+a)*g.k+b+1)*px]
				dj := b - c
				j0, j1 := max(0, -dj), min(g.w, g.w-dj) // columns whose source is inside
				for i := range g.h {
					dst := row[i*g.w : (i+1)*g.w]
					r := i + a - c
					if r < 0 || r >= g.h {
						clear(dst)
						continue
					}
					clear(dst[:j0])
					copy(dst[j0:j1], plane[r*g.w+j0+dj:r*g.w+j1+dj])
					clear(dst[j1:])
				}
			}
		}
	}
}

// convForward writes φ(conv(x, W) + bias + add) into out for n images
// (bias (Cout) and add (n·Cout·H·W) may be nil) and, when deriv is not
// nil, φ' there.
func convForward[T deq.Float](g convGeom, pool *colPool, out, x, w, bias, add []T, n int, act layers.Activation, deriv []T) {
	if o32, ok := any(out).([]float32); ok && !pool.im2colOnly {
		d32, _ := any(deriv).([]float32)
		if convForwardDirect(g, pool, o32, any(x).([]float32), any(w).([]float32), any(bias).([]float32), any(add).([]float32), n, act, d32) {
			return
		}
	}
	in, os, px := g.inSize(), g.outSize(), g.px()
	forParts(pool, n, g.colLen(), func(col []T, lo, hi int) {
		for s := lo; s < hi; s++ {
			o := out[s*os : (s+1)*os]
			im2col(g, col, x[s*in:(s+1)*in])
			beta := T(0)
			if add != nil {
				copy(o, add[s*os:(s+1)*os])
				beta = 1
			}
			linalg.Gemm(false, false, g.cout, px, g.patch(), 1, w, g.patch(), col, px, beta, o, px)
			var d []T
			if deriv != nil {
				d = deriv[s*os : (s+1)*os]
			}
			convEpilogue(g, o, bias, act, d)
		}
	})
}

// convBackData writes the gradient with respect to the input, the
// transposed convolution of s (n·Cout·H·W values) with W, into dx. The
// transposed convolution is a convolution with the kernel flipped and its
// channels swapped, so it runs as im2col and one product like the forward
// pass, never scattering sums back into the image.
func convBackData[T deq.Float](g convGeom, pool *colPool, dx, s, w []T, n int) {
	t := convGeom{h: g.h, w: g.w, cin: g.cout, cout: g.cin, k: g.k}
	wt := getCol[T](pool, g.weights())
	defer putCol(pool, wt)
	kk := g.k * g.k
	for co := range g.cout {
		for ci := range g.cin {
			src := w[co*g.patch()+ci*kk : co*g.patch()+(ci+1)*kk]
			dst := wt[ci*t.patch()+co*kk : ci*t.patch()+(co+1)*kk]
			for q, v := range src {
				dst[kk-1-q] = v // (a, b) → (K−1−a, K−1−b)
			}
		}
	}
	convForward(t, pool, dx, s, wt, nil, nil, n, layers.Identity, nil)
}

// convBackWeight writes the gradient with respect to the weights,
// Σ_samples s·im2col(x)ᵀ, into dw; each worker sums its samples into its
// own buffer, then the buffers are added.
//
// Each worker computes the transpose, Σ im2col(x)·sᵀ (Cin·K·K × Cout), so
// that the operand the product transposes is s (Cout × H·W), not the
// K·K times larger im2col matrix: a transposed operand is copied before
// the product (linalg's tiles read B row by row).
func convBackWeight[T deq.Float](g convGeom, pool *colPool, dw, x, s []T, n int) {
	if x32, ok := any(x).([]float32); ok && !pool.im2colOnly && g.k%2 == 1 {
		convBackWeightPadded(g, pool, any(dw).([]float32), x32, any(s).([]float32), n)
		return
	}
	in, os, px := g.inSize(), g.outSize(), g.px()
	var mu sync.Mutex
	clear(dw)
	forParts(pool, n, g.colLen()+g.weights(), func(buf []T, lo, hi int) {
		col, part := buf[:g.colLen()], buf[g.colLen():]
		clear(part)
		for q := lo; q < hi; q++ {
			im2col(g, col, x[q*in:(q+1)*in])
			linalg.Gemm(false, true, g.patch(), g.cout, px, 1, col, px, s[q*os:(q+1)*os], px, 1, part, g.cout)
		}
		mu.Lock()
		addTransposed(g, dw, part)
		mu.Unlock()
	})
}

// addTransposed adds part (Cin·K·K × Cout, a worker's weight gradient as
// the product leaves it) to dw (Cout × Cin·K·K).
func addTransposed[T deq.Float](g convGeom, dw, part []T) {
	for r := range g.patch() {
		for co, v := range part[r*g.cout : (r+1)*g.cout] {
			dw[co*g.patch()+r] += v
		}
	}
}

// convBiasGrad writes Σ over samples and pixels of s, per output channel,
// into db.
func convBiasGrad[T deq.Float](g convGeom, db, s []T, n int) {
	clear(db)
	os, px := g.outSize(), g.px()
	for q := range n {
		for co := range g.cout {
			var sum T
			for _, v := range s[q*os+co*px : q*os+(co+1)*px] {
				sum += v
			}
			db[co] += sum
		}
	}
}

// convEpilogue adds the bias to each output channel of one image and
// applies φ, writing φ' into d when d is not nil; ReLU, the denoisers'
// activation, is one branch-free pass.
func convEpilogue[T deq.Float](g convGeom, o, bias []T, act layers.Activation, d []T) {
	px := g.px()
	if act == layers.ReLU {
		for co := range g.cout {
			var bc T
			if bias != nil {
				bc = bias[co]
			}
			oc := o[co*px : (co+1)*px]
			var dc []T
			if d != nil {
				dc = d[co*px : (co+1)*px]
			}
			for j, v := range oc {
				oc[j] = max(v+bc, 0)
			}
			if dc != nil {
				for j, v := range oc {
					dc[j] = T(opkit.Btoi(v > 0))
				}
			}
		}
		return
	}
	if bias != nil {
		for co := range g.cout {
			bc := bias[co]
			oc := o[co*px : (co+1)*px]
			for j := range oc {
				oc[j] += bc
			}
		}
	}
	layers.Activate(act, o, d)
}
