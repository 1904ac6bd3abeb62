package linalg

import "sync"

// The pure-Go build's float32 products C = A·B + βC (the convolutions'
// (Cout × Cin·9)·(Cin·9 × H·W) products, the dense cells' (B × H)·(H × H),
// a classifier head's (B × H)·(H × 10)) run in an AVX2+FMA kernel where the CPU has one:
// register tiles of 4×16 outputs accumulated over the whole inner
// dimension. gonum's pure-Go Sgemm streams its inner loops through SSE
// axpy calls on 64-wide blocks, 5-10x below this CPU's float32 peak.
// Results differ from gonum's in rounding (fused multiply-adds, another
// summation order), not in what is computed.

// fastSgemm reports whether sgemmTiled takes a product of these
// dimensions and scalars.
func fastSgemm(n int, alpha float32) bool {
	return hasFMA && useFastSgemm && alpha == 1 && n > 0
}

// packPool recycles the buffers Aᵀ is packed into.
var packPool = sync.Pool{New: func() any { return new([]float32) }}

// packTransposed copies the rows × cols matrix src (row stride ld),
// transposed, into a pooled cols × rows buffer; the caller returns it to
// packPool.
//
// It copies blocks of 16 source rows, so that each row of the result
// gets a whole cache line (16 floats) at a time: row by row, every
// element went to another row of the result, rows·4 bytes apart, and when
// that distance is a multiple of 4 KiB (rows = 20480, a Fourier layer's
// batch of pixels) all those lines fall into one cache set and evict each
// other — packing was half of a Darcy training step.
func packTransposed(src []float32, rows, cols, ld int) *[]float32 {
	bp := packPool.Get().(*[]float32)
	if cap(*bp) < rows*cols {
		*bp = make([]float32, rows*cols)
	}
	*bp = (*bp)[:rows*cols]
	dst := *bp
	const blk = 16
	r := 0
	for ; r+blk <= rows; r += blk {
		s := src[r*ld:]
		for c := range cols {
			d := dst[c*rows+r : c*rows+r+blk]
			for i := range d {
				d[i] = s[i*ld+c]
			}
		}
	}
	for ; r < rows; r++ {
		for c, v := range src[r*ld : r*ld+cols] {
			dst[c*rows+r] = v
		}
	}
	return bp
}

// sgemmTiled computes C = op(A)·op(B) + beta·C (row-major) with
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
	sgemmBlocks(m, n, k, a, lda, b, ldb, c, ldc, hasAVX512)
}

// sgemmBlocks adds A·B to C (no transposes, beta applied) tile by tile:
// with wide, the 8 × 32 AVX-512 tiles first where they fit, then the
// 4 × 16 and 1 × 16 AVX2 tiles over what is left, then the padded strip
// of the last n mod 16 columns.
func sgemmBlocks(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, wide bool) {
	n16, n32, m8 := n&^15, 0, 0
	if wide {
		n32, m8 = n&^31, m&^7
	}
	if n32 > 0 {
		for i := 0; i < m8; i += 8 {
			for j := 0; j < n32; j += 32 {
				sgemm8x32(k, &a[i*lda], lda, &b[j], ldb, &c[i*ldc+j], ldc)
			}
		}
		sgemm16Tiles(m8, m, 0, n32, k, a, lda, b, ldb, c, ldc)
	}
	sgemm16Tiles(0, m, n32, n16, k, a, lda, b, ldb, c, ldc)
	if n16 < n {
		sgemmTail(m, n-n16, k, a, lda, b[n16:], ldb, c[n16:], ldc)
	}
}

// sgemm16Tiles adds A·B to rows [r0, r1) and columns [j0, j1) of C (j1 −
// j0 a multiple of 16) with the AVX2 tiles.
func sgemm16Tiles(r0, r1, j0, j1, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	i := r0
	for ; i+4 <= r1; i += 4 {
		for j := j0; j < j1; j += 16 {
			sgemm4x16(k, &a[i*lda], lda, &b[j], ldb, &c[i*ldc+j], ldc)
		}
	}
	for ; i < r1; i++ {
		for j := j0; j < j1; j += 16 {
			sgemm1x16(k, &a[i*lda], &b[j], ldb, &c[i*ldc+j])
		}
	}
}

// sgemmTail adds A·B to the m × w strip C (w < 16 columns, beta already
// applied) through the 16-wide tiles: B's w columns are copied into a
// zero-padded k × 16 block and C's into an m × 16 one, so narrow products
// (a classifier's 10 outputs, the columns past the last full tile) run in
// the vector kernel instead of a scalar loop or gonum's goroutines.
func sgemmTail(m, w, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	bp, cp := padded(k, w, b, ldb), padded(m, w, c, ldc)
	pb, pc := *bp, *cp
	i := 0
	for ; i+4 <= m; i += 4 {
		sgemm4x16(k, &a[i*lda], lda, &pb[0], 16, &pc[i*16], 16)
	}
	for ; i < m; i++ {
		sgemm1x16(k, &a[i*lda], &pb[0], 16, &pc[i*16])
	}
	for i := range m {
		copy(c[i*ldc:i*ldc+w], pc[i*16:i*16+w])
	}
	packPool.Put(bp)
	packPool.Put(cp)
}

// padded copies the rows × w block of src (row stride ld) into a pooled
// rows × 16 buffer whose columns past w are zero; the caller returns it to
// packPool.
func padded(rows, w int, src []float32, ld int) *[]float32 {
	bp := packPool.Get().(*[]float32)
	if cap(*bp) < rows*16 {
		*bp = make([]float32, rows*16)
	}
	*bp = (*bp)[:rows*16]
	dst := *bp
	clear(dst)
	for r := range rows {
		copy(dst[r*16:r*16+w], src[r*ld:r*ld+w])
	}
	return bp
}
