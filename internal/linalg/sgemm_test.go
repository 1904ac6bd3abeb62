package linalg

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// TestSgemmTiled compares the tile kernels with gonum's Sgemm on shapes
// with and without leftover rows and columns, transposed A and B, β = 0, 1
// and other values, with padded leading dimensions.
func TestSgemmTiled(t *testing.T) {
	if !hasFMA {
		t.Skip("no AVX2+FMA on this CPU: the tile kernels are not used")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	fill := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	for _, sh := range [][3]int{{16, 784, 144}, {1, 784, 72}, {9, 784, 8}, {7, 35, 5}, {4, 16, 1}, {5, 17, 0}, {64, 128, 128}, {64, 10, 128}, {6, 1, 9}, {3, 15, 0}, {19, 70, 33}, {8, 32, 1}} {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			transA, transB := tr[0], tr[1]
			for _, beta := range []float32{0, 1, 0.5} {
				m, n, k := sh[0], sh[1], sh[2]
				lda, ldb, ldc := k+3, n+2, n+1
				arows, brows := m, k
				if transA {
					lda, arows = m+3, k
				}
				if transB {
					ldb, brows = k+2, n
				}
				a, b := fill(max(arows*lda, 1)), fill(max(brows*ldb, 1))
				c := fill(m * ldc)
				want := append([]float32(nil), c...)
				ta, tb := blas.NoTrans, blas.NoTrans
				if transA {
					ta = blas.Trans
				}
				if transB {
					tb = blas.Trans
				}
				gonum.Implementation{}.Sgemm(ta, tb, m, n, k, 1, a, lda, b, ldb, beta, want, ldc)
				sgemmTiled(transA, transB, m, n, k, a, lda, b, ldb, beta, c, ldc)
				for i := range m {
					for j := range ldc {
						g, w := c[i*ldc+j], want[i*ldc+j]
						if math.Abs(float64(g-w)) > 1e-4*math.Max(1, math.Abs(float64(w))) {
							t.Fatalf("%v transA=%v transB=%v β=%v: C[%d,%d] = %v, gonum %v", sh, transA, transB, beta, i, j, g, w)
						}
					}
				}
			}
		}
	}
}

// TestSgemmWide compares the AVX-512 tiles with the AVX2 ones on shapes
// that mix full 8 × 32 tiles with leftover rows and columns, padded
// leading dimensions and accumulation into a nonzero C.
func TestSgemmWide(t *testing.T) {
	if !hasAVX512 {
		t.Skip("no AVX-512 on this CPU: the wide tiles are not used")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, sh := range [][3]int{{8, 32, 1}, {64, 128, 784}, {17, 100, 9}, {9, 33, 5}, {7, 64, 3}, {24, 31, 2}} {
		m, n, k := sh[0], sh[1], sh[2]
		lda, ldb, ldc := k+1, n+3, n+2
		a, b, c := make([]float32, m*lda), make([]float32, k*ldb), make([]float32, m*ldc)
		for _, v := range [][]float32{a, b, c} {
			for i := range v {
				v[i] = float32(rng.NormFloat64())
			}
		}
		want := append([]float32(nil), c...)
		sgemmBlocks(m, n, k, a, lda, b, ldb, want, ldc, false)
		sgemmBlocks(m, n, k, a, lda, b, ldb, c, ldc, true)
		for i, w := range want {
			if math.Abs(float64(c[i]-w)) > 1e-4*math.Max(1, math.Abs(float64(w))) {
				t.Fatalf("%v: C[%d,%d] = %v wide, %v with the AVX2 tiles", sh, i/ldc, i%ldc, c[i], w)
			}
		}
	}
}

// BenchmarkSgemm compares the tile kernels with gonum's Sgemm on the
// deblurring convolutions' product (16 × 144)·(144 × 784) and the classify
// cell's (64 × 128)·(128 × 128).
func BenchmarkSgemm(b *testing.B) {
	for _, sh := range [][3]int{{16, 784, 144}, {144, 784, 16}, {64, 128, 128}} {
		m, n, k := sh[0], sh[1], sh[2]
		a, bb, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
		for i := range a { // gonum skips zero entries of A: fill them
			a[i] = float32(i%7) - 3.5
		}
		for i := range bb {
			bb[i] = float32(i%5) - 2.5
		}
		flops := 2 * float64(m*n*k)
		b.Run(fmt.Sprintf("gonum/%dx%dx%d", m, n, k), func(b *testing.B) {
			for b.Loop() {
				gonum.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, bb, n, 0, c, n)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		if !hasFMA {
			continue
		}
		for _, wide := range []bool{false, true} {
			if wide && !hasAVX512 {
				continue
			}
			b.Run(fmt.Sprintf("tiles/wide=%v/%dx%dx%d", wide, m, n, k), func(b *testing.B) {
				for b.Loop() {
					clear(c)
					sgemmBlocks(m, n, k, a, k, bb, n, c, n, wide)
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
