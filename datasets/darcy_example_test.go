package datasets_test

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/implicit-ml/implicit/datasets"
)

// Solve −∇·(a∇u) = 1 on a 5×5 grid (3×3 unknowns, h = 1/4) with a = 1
// for x ≤ 1/2 (rows 0 to 2) and a = 4 beyond: u is larger where a is
// small. The values agree with an exact rational solve of the same
// 9×9 system. Then the same problem with a budget of one iteration.
func ExampleSolveDarcy() {
	const s = 5
	a, f := make([]float64, s*s), make([]float64, s*s)
	for i := range s {
		for j := range s {
			a[i*s+j] = 1
			if i > s/2 {
				a[i*s+j] = 4
			}
			f[i*s+j] = 1
		}
	}
	u, _, err := datasets.SolveDarcy(a, f, s, 1e-10)
	if err != nil {
		fmt.Println(err)
		return
	}
	for i := range s {
		fmt.Printf("%.5f\n", u[i*s:(i+1)*s])
	}

	_, _, err = datasets.DarcyCG{MaxIter: 1}.Solve(a, f, s)
	fmt.Println(err)
	// Output:
	// [0.00000 0.00000 0.00000 0.00000 0.00000]
	// [0.00000 0.03593 0.04496 0.03593 0.00000]
	// [0.00000 0.03624 0.04550 0.03624 0.00000]
	// [0.00000 0.01425 0.01833 0.01425 0.00000]
	// [0.00000 0.00000 0.00000 0.00000 0.00000]
	// datasets: Darcy solver: 1 iterations reached, relative residual 3.85e-01 > tol 1e-10; raise MaxIter or loosen Tol
}

// Draw a coefficient field and a small data set; a model would train on
// set.Normalized(set.Norm()).
func ExampleGenerateDarcy() {
	cfg := datasets.DarcyConfig{S: 16}
	a, err := datasets.SampleDarcyCoefficient(cfg, rand.New(rand.NewPCG(1, 0)))
	if err != nil {
		fmt.Println(err)
		return
	}
	values := slices.Compact(slices.Sorted(slices.Values(a)))
	fmt.Println(len(a), values)

	set, err := datasets.GenerateDarcy(cfg, 1, 8)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(set.Len(), set.InputShape(), set.TargetShape())
	// Sample 0 of the set is the field drawn above.
	same := true
	for i, v := range a {
		same = same && set.A[i] == float32(v)
	}
	fmt.Println(same)
	// Output:
	// 256 [3 12]
	// 8 [1 16 16] [1 16 16]
	// true
}
