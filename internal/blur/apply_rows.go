package blur

import (
	"sync"

	"github.com/implicit-ml/implicit/internal/linalg"
)

// applyRows is Apply for float32 through linalg.SgemmRowsBias, the
// product kernel that reads B's rows at given offsets: each image is
// copied once into (h+K−1) × (w+K−1) planes padded circularly, output
// pixel (i, j) is column i·(w+K−1) + j, and row a·K + b of B is the plane
// shifted by a rows and b columns. The kernel computes 8 rows of C at a
// time, so the taps are row 0 of an 8-row A whose other rows are zero:
// 8 times the multiply-adds of the loops, and still about 3 times as fast
// as them on 64 MNIST images (BenchmarkApply). It reports false, having
// done nothing, where the build has no kernel.
func applyRows(out, x []float32, n, h, w int, k Kernel, transpose bool) bool {
	if !linalg.HasSgemmRows() || n == 0 {
		return linalg.HasSgemmRows()
	}
	kk, c := k.K, k.K/2
	wp, hp := w+kk-1, h+kk-1
	cols := (h*wp + 31) &^ 31
	nt := kk * kk
	offs := make([]int, nt)
	for a := range kk {
		for b := range kk {
			offs[a*kk+b] = a*wp + b
		}
	}
	xlen := max(hp*wp, offs[nt-1]+cols)
	bp := rowsPool.Get().(*[]float32)
	defer rowsPool.Put(bp)
	if need := 8*nt + 8 + xlen + 8*cols; cap(*bp) < need {
		*bp = make([]float32, need)
	}
	buf := (*bp)[:8*nt+8+xlen+8*cols]
	taps, zero, xp, cp := buf[:8*nt], buf[8*nt:8*nt+8], buf[8*nt+8:8*nt+8+xlen], buf[8*nt+8+xlen:]
	clear(taps)
	clear(zero)
	for i, v := range k.W {
		if transpose {
			i = nt - 1 - i
		}
		taps[i] = float32(v)
	}
	clear(xp[hp*wp:]) // the slack only the dropped columns read
	px := h * w
	for s := range n {
		xs, os := x[s*px:(s+1)*px], out[s*px:(s+1)*px]
		for r := range hp {
			src := xs[((r-c)%h+h)%h*w:]
			row := xp[r*wp : (r+1)*wp]
			for m := range row {
				row[m] = src[((m-c)%w+w)%w]
			}
		}
		linalg.SgemmRowsBias(8, cols, nt, taps, nt, xp, offs, cp, cols, zero, false)
		for i := range h {
			copy(os[i*w:(i+1)*w], cp[i*wp:])
		}
	}
	return true
}

// rowsPool recycles applyRows' buffers (taps, the padded image and the
// product's 8 rows).
var rowsPool = sync.Pool{New: func() any { return new([]float32) }}
