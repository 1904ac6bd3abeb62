package linalg

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
)

// Float is float32 or float64.
type Float interface{ ~float32 | ~float64 }

// Gemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices,
// where op(A) is m×k, op(B) is k×n and C is m×n; transA and transB select
// the transposes. Leading dimensions are those of the stored matrices.
//
// With OpenBLAS (kept single-threaded, see openblas.go) large products are
// split by rows of C over the available cores; gonum's own implementation
// parallelises internally.
func Gemm[T Float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if splitRows && m >= 2*minRows && m*n*k >= minSplitFlops {
		Parallel(m, minRows, func(lo, hi int) {
			ao := lo * lda // row lo of op(A): a row of A, or a column when transposed
			if transA {
				ao = lo
			}
			gemm(transA, transB, hi-lo, n, k, alpha, a[ao:], lda, b, ldb, beta, c[lo*ldc:], ldc)
		})
		return
	}
	gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Thresholds of Gemm's own row split, for products called on their own
// (the fused ops split rows, product and epilogue together, with Work).
const (
	minRows       = 128
	minSplitFlops = 1 << 23
)

func gemm[T Float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	ta, tb := blas.NoTrans, blas.NoTrans
	if transA {
		ta = blas.Trans
	}
	if transB {
		tb = blas.Trans
	}
	if a32, ok := any(a).([]float32); ok && fastSgemm(n, float32(alpha)) {
		sgemmTiled(transA, transB, m, n, k, a32, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
		return
	}
	switch av := any(a).(type) {
	case []float64:
		blas64.Implementation().Dgemm(ta, tb, m, n, k, float64(alpha), av, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	case []float32:
		blas32.Implementation().Sgemm(ta, tb, m, n, k, float32(alpha), av, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	}
}

// MatMul writes C = A·B for row-major A (m×k), B (k×n) and C (m×n).
func MatMul[T Float](c, a, b []T, m, k, n int) {
	Gemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
}

// MatMulBT writes C = A·Bᵀ for row-major A (m×k), B (n×k) and C (m×n).
func MatMulBT[T Float](c, a, b []T, m, k, n int) {
	Gemm(false, true, m, n, k, 1, a, k, b, k, 0, c, n)
}
