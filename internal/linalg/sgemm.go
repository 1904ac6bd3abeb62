package linalg

import "sync"

// The pure-Go build's float32 products C = A·B + βC with long rows (the
// convolutions' (Cout × Cin·9)·(Cin·9 × H·W) products, the dense cells'
// (B × H)·(H × H)) run in an AVX2+FMA kernel where the CPU has one:
// register tiles of 4×16 outputs accumulated over the whole inner
// dimension. gonum's pure-Go Sgemm streams its inner loops through SSE
// axpy calls on 64-wide blocks, 5-10x below this CPU's float32 peak.
// Results differ from gonum's in rounding (fused multiply-adds, another
// summation order), not in what is computed.

// fastSgemm reports whether sgemmTiled takes a product of these
// dimensions and scalars.
func fastSgemm(n int, alpha float32) bool {
	return hasFMA && useFastSgemm && alpha == 1 && n >= 16
}

// packPool recycles the buffers Aᵀ is packed into.
var packPool = sync.Pool{New: func() any { return new([]float32) }}

// packTransposed copies the rows × cols matrix src (row stride ld),
// transposed, into a pooled cols × rows buffer; the caller returns it to
// packPool.
func packTransposed(src []float32, rows, cols, ld int) *[]float32 {
	bp := packPool.Get().(*[]float32)
	if cap(*bp) < rows*cols {
		*bp = make([]float32, rows*cols)
	}
	*bp = (*bp)[:rows*cols]
	dst := *bp
	for r := range rows {
		for c, v := range src[r*ld : r*ld+cols] {
			dst[c*rows+r] = v
		}
	}
	return bp
}

// sgemmTiled computes C = op(A)·op(B) + beta·C (row-major, n ≥ 16) with
// the tile kernels; a transposed operand is packed first (a copy of m·k or
// k·n values against the product's m·n·k multiply-adds).
func sgemmTiled(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if transB {
		bp := packTransposed(b, n, k, ldb) // Bᵀ stored n × k: pack B (k × n)
		sgemmTiled(transA, false, m, n, k, a, lda, *bp, n, beta, c, ldc)
		packPool.Put(bp)
		return
	}
	if transA {
		bp := packTransposed(a, k, m, lda) // Aᵀ stored k × m: pack A (m × k)
		sgemmTiled(false, false, m, n, k, *bp, k, b, ldb, beta, c, ldc)
		packPool.Put(bp)
		return
	}
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		switch beta {
		case 0:
			clear(row)
		case 1:
		default:
			for j := range row {
				row[j] *= beta
			}
		}
	}
	if m == 0 || k == 0 {
		return
	}
	n16 := n &^ 15
	i := 0
	for ; i+4 <= m; i += 4 {
		for j := 0; j < n16; j += 16 {
			sgemm4x16(k, &a[i*lda], lda, &b[j], ldb, &c[i*ldc+j], ldc)
		}
	}
	for ; i < m; i++ {
		for j := 0; j < n16; j += 16 {
			sgemm1x16(k, &a[i*lda], &b[j], ldb, &c[i*ldc+j])
		}
	}
	if n16 == n {
		return
	}
	for i := range m { // the columns past the last full tile
		cr := c[i*ldc+n16 : i*ldc+n]
		for l := range k {
			av := a[i*lda+l]
			br := b[l*ldb+n16 : l*ldb+n]
			for j, bv := range br {
				cr[j] += av * bv
			}
		}
	}
}
