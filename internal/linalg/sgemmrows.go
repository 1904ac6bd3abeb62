package linalg

import (
	"fmt"

	"github.com/implicit-ml/implicit/internal/linalg/rowkernel"
)

// HasSgemmRows reports whether SgemmRows has a kernel in this build on
// this CPU: an amd64 CPU with AVX-512, in the default and the OpenBLAS
// build (not the purego one).
func HasSgemmRows() bool { return rowkernel.Available }

// SgemmRows adds A·B to C for float32 matrices whose B is gathered: A is
// m × k (row stride lda), C is m × n (row stride ldc) and row kk of B is
// the n values b[offs[kk] : offs[kk]+n]. With offs[kk] = kk·ldb it is an
// ordinary product; a convolution passes the offsets of its shifted
// windows in a zero-padded image and so multiplies without copying the
// patches out (im2col). m must be a multiple of 8 and n of 32; it reports
// false and does nothing where HasSgemmRows is false.
func SgemmRows(m, n, k int, a []float32, lda int, b []float32, offs []int, c []float32, ldc int) bool {
	return sgemmRows(m, n, k, a, lda, b, offs, c, ldc, nil, false)
}

// SgemmRowsBias is SgemmRows that overwrites C with bias + A·B (bias[i]
// added to row i; len(bias) ≥ m) and, with relu, clamps it at zero, in
// the product's own pass over C: a convolution's bias and ReLU without
// another sweep over its output.
func SgemmRowsBias(m, n, k int, a []float32, lda int, b []float32, offs []int, c []float32, ldc int, bias []float32, relu bool) bool {
	if len(bias) < m {
		panic(fmt.Sprintf("linalg.SgemmRowsBias: %d biases for %d rows", len(bias), m))
	}
	return sgemmRows(m, n, k, a, lda, b, offs, c, ldc, bias, relu)
}

func sgemmRows(m, n, k int, a []float32, lda int, b []float32, offs []int, c []float32, ldc int, bias []float32, relu bool) bool {
	if !HasSgemmRows() {
		return false
	}
	if m%8 != 0 || n%32 != 0 || len(offs) < k {
		panic(fmt.Sprintf("linalg.SgemmRows: m = %d, n = %d (want multiples of 8 and 32), %d offsets for k = %d", m, n, len(offs), k))
	}
	if m == 0 || n == 0 {
		return true
	}
	if len(a) < (m-1)*lda+k || len(c) < (m-1)*ldc+n {
		panic(fmt.Sprintf("linalg.SgemmRows: A (%d values) or C (%d) too short for %d × %d × %d", len(a), len(c), m, n, k))
	}
	var stack [1024]int
	bytes := stack[:0]
	if k > len(stack) {
		bytes = make([]int, 0, k)
	}
	for _, o := range offs[:k] {
		if o < 0 || o+n > len(b) {
			panic(fmt.Sprintf("linalg.SgemmRows: row offset %d + %d columns outside B's %d values", o, n, len(b)))
		}
		bytes = append(bytes, 4*o)
	}
	bytes = append(bytes, 0) // &bytes[0] must exist when k = 0
	r := 0
	if relu {
		r = 1
	}
	for i := 0; i < m; i += 8 {
		var bi *float32
		if bias != nil {
			bi = &bias[i]
		}
		for j := 0; j < n; j += 32 {
			rowkernel.Sgemm8x32(k, &a[i*lda], lda, &b[j], &bytes[0], &c[i*ldc+j], ldc, bi, r)
		}
	}
	return true
}
