package deq_test

import (
	"fmt"
	"math"

	"github.com/implicit-ml/implicit/deq"
)

// Solve z = cos(z) for two independent samples, one per row, then the
// adjoint of the implicit function theorem at the solution.
func ExampleSolve() {
	f := func(out, z []float64) error {
		for i := range z {
			out[i] = math.Cos(z[i])
		}
		return nil
	}
	p := deq.Problem[float64]{F: f, Batch: 2, Dim: 1, Z0: []float64{0, 1}}
	r := deq.Solve(deq.Anderson{}, p, deq.Stop{Tol: 1e-12, Mode: deq.Absolute})
	if err := r.Err(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("z* = %.6f %.6f (%s)\n", r.Z[0], r.Z[1], r.Status)

	// dz*/dθ for F(z) = cos(z) + θ is 1/(1 + sin z*): the adjoint u of
	// g = 1 solves u = g + J_F(z*)ᵀu with J_F = −sin z*.
	zs := r.Z
	vjp := func(out, v []float64) error {
		for i := range v {
			out[i] = -math.Sin(zs[i]) * v[i]
		}
		return nil
	}
	u := deq.SolveAdjoint(deq.IFT{Stop: deq.Stop{Tol: 1e-12}}, deq.Adjoint[float64]{VJP: vjp, G: []float64{1, 1}, Batch: 2, Dim: 1})
	fmt.Printf("dz*/dθ = %.6f, exact %.6f\n", u.Z[0], 1/(1+math.Sin(zs[0])))
	// Output:
	// z* = 0.739085 0.739085 (converged)
	// dz*/dθ = 0.597510, exact 0.597510
}

// A map that is not contractive is reported, not panicked on.
func ExampleResult_Err() {
	f := func(out, z []float64) error {
		for i := range z {
			out[i] = 3*z[i] + 1
		}
		return nil
	}
	r := deq.Solve(deq.Picard{}, deq.Problem[float64]{F: f, Batch: 1, Dim: 1}, deq.Stop{})
	fmt.Println(r.Status)
	fmt.Println(r.Err() != nil)
	// Output:
	// diverged
	// true
}
