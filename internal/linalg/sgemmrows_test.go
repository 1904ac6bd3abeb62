package linalg

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSgemmRows compares the gathered-rows kernel with a plain triple
// loop, on offset tables that overlap, repeat and run backwards, with
// padded leading dimensions: accumulating into a nonzero C, and
// overwriting it with bias + A·B, with and without the ReLU.
func TestSgemmRows(t *testing.T) {
	if !HasSgemmRows() {
		t.Skip("no AVX-512 kernel in this build or on this CPU: SgemmRows reports false")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, sh := range [][3]int{{8, 32, 1}, {16, 864, 144}, {8, 64, 18}, {24, 96, 7}, {8, 32, 0}} {
		m, n, k := sh[0], sh[1], sh[2]
		lda, ldc := k+3, n+5
		a, b, c := make([]float32, m*lda+1), make([]float32, 3*n+k+7), make([]float32, m*ldc)
		for _, v := range [][]float32{a, b, c} {
			for i := range v {
				v[i] = float32(rng.NormFloat64())
			}
		}
		offs := make([]int, k)
		for kk := range offs {
			offs[kk] = rng.IntN(len(b) - n + 1)
		}
		bias := make([]float32, m)
		for i := range bias {
			bias[i] = float32(rng.NormFloat64())
		}
		for _, mode := range []string{"accumulate", "bias", "bias+relu"} {
			want := append([]float32(nil), c...)
			for i := range m {
				for j := range n {
					s := float64(want[i*ldc+j])
					if mode != "accumulate" {
						s = float64(bias[i])
					}
					for kk := range k {
						s += float64(a[i*lda+kk]) * float64(b[offs[kk]+j])
					}
					if mode == "bias+relu" {
						s = math.Max(s, 0)
					}
					want[i*ldc+j] = float32(s)
				}
			}
			got := append([]float32(nil), c...)
			var ok bool
			if mode == "accumulate" {
				ok = SgemmRows(m, n, k, a, lda, b, offs, got, ldc)
			} else {
				ok = SgemmRowsBias(m, n, k, a, lda, b, offs, got, ldc, bias, mode == "bias+relu")
			}
			if !ok {
				t.Fatal("SgemmRows reports false where HasSgemmRows is true")
			}
			for i, w := range want {
				if math.Abs(float64(got[i]-w)) > 1e-4*math.Max(1, math.Abs(float64(w))) {
					t.Fatalf("%v %s: C[%d,%d] = %v, want %v", sh, mode, i/ldc, i%ldc, got[i], w)
				}
			}
		}
	}
}

// TestSgemmRowsRefusesBadShapes: a shape the kernel cannot take or an
// offset outside B is a programming error and panics before any write.
func TestSgemmRowsRefusesBadShapes(t *testing.T) {
	if !HasSgemmRows() {
		t.Skip("no AVX-512 kernel in this build or on this CPU")
	}
	for name, f := range map[string]func(){
		"m not a multiple of 8": func() {
			SgemmRows(4, 32, 1, make([]float32, 4), 1, make([]float32, 32), []int{0}, make([]float32, 128), 32)
		},
		"n not a multiple of 32": func() {
			SgemmRows(8, 16, 1, make([]float32, 8), 1, make([]float32, 32), []int{0}, make([]float32, 128), 16)
		},
		"offset outside B": func() {
			SgemmRows(8, 32, 1, make([]float32, 8), 1, make([]float32, 32), []int{1}, make([]float32, 256), 32)
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
