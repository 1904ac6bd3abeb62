package deq

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/implicit-ml/implicit/internal/linalg"
)

// batchedTanh is F(z) = tanh(zW + b) for a batch of rows, the classify
// DEQ's cell, with ‖W‖₂ ≈ rho.
func batchedTanh[T Float](batch, dim int, rho float64) Func[T] {
	rng := rand.New(rand.NewPCG(41, 42))
	w := make([]T, dim*dim)
	for i := range w {
		w[i] = T(rng.NormFloat64() * rho / (2 * math.Sqrt(float64(dim))))
	}
	b := make([]T, batch*dim)
	for i := range b {
		b[i] = T(rng.NormFloat64())
	}
	return func(out, z []T) error {
		linalg.MatMul(out, z, w, batch, dim, dim)
		for i := range out {
			out[i] = T(math.Tanh(float64(out[i] + b[i])))
		}
		return nil
	}
}

// BenchmarkSolvers reports the cost of each forward solver on the
// classify cell (batch 64, 128 units, ‖W‖₂ ≈ 1.6, whose tanh keeps it contractive, relative tol 1e-4),
// with iterations and allocations per solve.
func BenchmarkSolvers(b *testing.B) {
	for _, s := range []Solver{Picard{}, Anderson{}, Broyden{}} {
		for _, dt := range []string{"float32", "float64"} {
			b.Run(fmt.Sprintf("%s/%s", s.Name(), dt), func(b *testing.B) {
				var iters int
				f32, f64 := batchedTanh[float32](64, 128, 1.6), batchedTanh[float64](64, 128, 1.6)
				run := func() {
					if dt == "float32" {
						r := Solve(s, Problem[float32]{F: f32, Batch: 64, Dim: 128}, Stop{Tol: 1e-4, MaxIter: 200})
						iters = r.Stats.Iterations
					} else {
						r := Solve(s, Problem[float64]{F: f64, Batch: 64, Dim: 128}, Stop{Tol: 1e-4, MaxIter: 200})
						iters = r.Stats.Iterations
					}
				}
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					run()
				}
				b.ReportMetric(float64(iters), "iters")
			})
		}
	}
}

// BenchmarkAdjoint reports the IFT adjoint solve with each linear solver on
// the same cell's Jacobian.
func BenchmarkAdjoint(b *testing.B) {
	const batch, dim = 64, 128
	f := batchedTanh[float64](batch, dim, 1.6)
	z := Solve(Anderson{}, Problem[float64]{F: f, Batch: batch, Dim: dim}, Stop{Tol: 1e-10, MaxIter: 500}).Z
	// J_F(z)ᵀv by central differences is too slow; use the map's own
	// structure: J = diag(1 − F(z)²)·Wᵀ in rows, so build the VJP from F.
	fz := make([]float64, len(z))
	f(fz, z)
	rng := rand.New(rand.NewPCG(43, 44))
	w := make([]float64, dim*dim)
	for i := range w {
		w[i] = rng.NormFloat64() * 1.6 / (2 * math.Sqrt(dim))
	}
	tmp := make([]float64, len(z))
	vjp := func(out, v []float64) error {
		for i := range v {
			tmp[i] = v[i] * (1 - fz[i]*fz[i])
		}
		linalg.MatMulBT(out, tmp, w, batch, dim, dim)
		return nil
	}
	g := make([]float64, len(z))
	for i := range g {
		g[i] = rng.NormFloat64()
	}
	for _, s := range []LinearSolver{Picard{}, Anderson{}, GMRES{}} {
		b.Run(s.Name(), func(b *testing.B) {
			var iters int
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				r := SolveAdjoint[float64](IFT{Solver: s, Stop: Stop{Tol: 1e-6}}, Adjoint[float64]{VJP: vjp, G: g, Batch: batch, Dim: dim})
				iters = r.Stats.Iterations
			}
			b.ReportMetric(float64(iters), "iters")
		})
	}
}
