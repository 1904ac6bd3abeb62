package conv

import (
	"sync"

	"github.com/implicit-ml/implicit/internal/linalg"
	"github.com/implicit-ml/implicit/layers"
)

// The direct float32 convolution: where linalg.HasSgemmRows (the default
// build on an AVX-512 CPU), convForward skips im2col. Each image is
// copied once into zero-padded planes of (H+K−1) × (W+K−1); output pixel
// (i, j) is column i·(W+K−1) + j of a product whose row (ci·K + a)·K + b
// of B is the padded plane of channel ci shifted by a rows and b columns,
// a window linalg.SgemmRows reads in place through an offset table. The
// columns j ≥ W (K−1 per image row) and those up to the next multiple of
// 32 are computed and dropped: 10% more products than im2col at 28 × 28,
// against im2col's K·K copies of the image (profiled as 40% of a deblur
// step, im2col and its copies, against 20–22% in the product tile).

// directGeom is the padded layout of one image for the direct kernel.
type directGeom struct {
	convGeom
	wp    int   // padded row length W + K − 1
	plane int   // padded plane (H + K − 1)·wp
	cols  int   // product columns H·wp rounded up to a multiple of 32
	rows  int   // output channels rounded up to a multiple of 8
	xlen  int   // padded image with the slack the last windows read
	offs  []int // offs[(ci·K + a)·K + b] = ci·plane + a·wp + b
}

func newDirectGeom(g convGeom) directGeom {
	d := directGeom{convGeom: g, wp: g.w + g.k - 1}
	d.plane = (g.h + g.k - 1) * d.wp
	d.cols = (g.h*d.wp + 31) &^ 31
	d.rows = (g.cout + 7) &^ 7
	d.offs = make([]int, g.patch())
	for ci := range g.cin {
		for a := range g.k {
			for b := range g.k {
				d.offs[(ci*g.k+a)*g.k+b] = ci*d.plane + a*d.wp + b
			}
		}
	}
	d.xlen = max(g.cin*d.plane, d.offs[len(d.offs)-1]+d.cols)
	return d
}

// pad writes image x (Cin·H·W values) into xp (xlen values): zero
// borders, and zero slack past the last plane.
func (d directGeom) pad(xp, x []float32) {
	c, px := d.k/2, d.px()
	clear(xp)
	for ci := range d.cin {
		for i := range d.h {
			dst := xp[ci*d.plane+(i+c)*d.wp+c:]
			copy(dst[:d.w], x[ci*px+i*d.w:ci*px+(i+1)*d.w])
		}
	}
}

// convForwardDirect is convForward for float32 through linalg.SgemmRows;
// it reports false, having done nothing, where the build has no kernel.
func convForwardDirect(g convGeom, pool *colPool, out, x, w, bias, add []float32, n int, act layers.Activation, deriv []float32) bool {
	if !linalg.HasSgemmRows() || g.k%2 == 0 {
		return false
	}
	d := newDirectGeom(g)
	if d.rows != g.cout { // zero rows up to a multiple of 8
		wp := getCol[float32](pool, d.rows*g.patch())
		defer putCol(pool, wp)
		copy(wp, w[:g.weights()])
		clear(wp[g.weights():])
		w = wp
	}
	// Without an added term or φ' to record, the bias and an identity or
	// ReLU activation run inside the product (linalg.SgemmRowsBias), and
	// what is left is copying the valid columns out.
	fused := add == nil && deriv == nil && (act == layers.Identity || act == layers.ReLU)
	var fb []float32
	if fused {
		fb = make([]float32, d.rows)
		copy(fb, bias)
	}
	in, os, px := g.inSize(), g.outSize(), g.px()
	forParts(pool, n, d.xlen+d.rows*d.cols, func(buf []float32, lo, hi int) {
		xp, cp := buf[:d.xlen], buf[d.xlen:]
		for s := lo; s < hi; s++ {
			d.pad(xp, x[s*in:(s+1)*in])
			o := out[s*os : (s+1)*os]
			if fused {
				linalg.SgemmRowsBias(d.rows, d.cols, g.patch(), w, g.patch(), xp, d.offs, cp, d.cols, fb, act == layers.ReLU)
				for co := range g.cout {
					for i := range g.h {
						copy(o[co*px+i*g.w:co*px+(i+1)*g.w], cp[co*d.cols+i*d.wp:])
					}
				}
				continue
			}
			clear(cp)
			linalg.SgemmRows(d.rows, d.cols, g.patch(), w, g.patch(), xp, d.offs, cp, d.cols)
			for co := range g.cout {
				for i := range g.h {
					dst := o[co*px+i*g.w : co*px+(i+1)*g.w]
					src := cp[co*d.cols+i*d.wp:]
					if add == nil {
						copy(dst, src[:g.w])
						continue
					}
					ad := add[s*os+co*px+i*g.w:]
					for j := range dst {
						dst[j] = src[j] + ad[j]
					}
				}
			}
			var dv []float32
			if deriv != nil {
				dv = deriv[s*os : (s+1)*os]
			}
			convEpilogue(g, o, bias, act, dv)
		}
	})
	return true
}

// convBackWeightPadded is convBackWeight for float32 on the direct
// convolution's padded layout: row r of the product's left operand is the
// padded image's window at offs[r], H·wp values copied in one piece (im2col
// copies Cin·K·K·H pieces of W values and clears their borders: 18% of a
// deblur/once training step, profiled), and s is spread over the same
// H × wp grid with zeros in the K − 1 extra columns of each row, so the
// windows' values there add nothing. It needs no assembly kernel.
func convBackWeightPadded(g convGeom, pool *colPool, dw, x, s []float32, n int) {
	d := newDirectGeom(g)
	kp := g.h * d.wp // the product's inner dimension
	in, os, px := g.inSize(), g.outSize(), g.px()
	nc, ns := g.patch()*kp, g.cout*kp
	var mu sync.Mutex
	clear(dw)
	forParts(pool, n, d.xlen+nc+ns+g.weights(), func(buf []float32, lo, hi int) {
		xp, col := buf[:d.xlen], buf[d.xlen:d.xlen+nc]
		sp, part := buf[d.xlen+nc:d.xlen+nc+ns], buf[d.xlen+nc+ns:]
		clear(sp) // its extra columns stay zero
		clear(part)
		for q := lo; q < hi; q++ {
			d.pad(xp, x[q*in:(q+1)*in])
			for r, o := range d.offs {
				copy(col[r*kp:(r+1)*kp], xp[o:o+kp])
			}
			sq := s[q*os : (q+1)*os]
			for co := range g.cout {
				for i := range g.h {
					copy(sp[co*kp+i*d.wp:co*kp+i*d.wp+g.w], sq[co*px+i*g.w:co*px+(i+1)*g.w])
				}
			}
			linalg.Gemm(false, true, g.patch(), g.cout, kp, 1, col, kp, sp, kp, 1, part, g.cout)
		}
		mu.Lock()
		addTransposed(g, dw, part)
		mu.Unlock()
	})
}
