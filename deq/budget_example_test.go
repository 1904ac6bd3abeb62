package deq_test

import (
	"fmt"
	"math"

	"github.com/implicit-ml/implicit/deq"
)

// Three samples of z = cos(z) in one batch, each with its own budget: a
// loose tolerance, exactly three plain iterations, a tight tolerance. Each
// sample leaves as soon as its budget is met — the callback could answer
// it there — while the others keep iterating.
func ExampleSolveBudgeted() {
	f := func(out, z []float64) error {
		for i := range z {
			out[i] = math.Cos(z[i])
		}
		return nil
	}
	p := deq.Problem[float64]{F: f, Batch: 3, Dim: 1}
	budgets := []deq.Budget{{Tol: 1e-2}, {Iterations: 3}, {Tol: 1e-10}}
	leave := func(d deq.Departure[float64]) {
		fmt.Printf("sample %d left after %d iterations (%s), z = %.6f, %d still iterating\n",
			d.Sample, d.Iterations, d.Status, d.Z[0], d.Remaining)
	}
	r := deq.SolveBudgeted(deq.Picard{}, p, deq.Stop{Mode: deq.Absolute, MaxIter: 100}, budgets, leave)
	fmt.Println("the batch took", r.Stats.Iterations, "evaluations")
	// Output:
	// sample 1 left after 3 iterations (converged), z = 0.540302, 2 still iterating
	// sample 0 left after 12 iterations (converged), z = 0.744237, 1 still iterating
	// sample 2 left after 59 iterations (converged), z = 0.739085, 0 still iterating
	// the batch took 59 evaluations
}
