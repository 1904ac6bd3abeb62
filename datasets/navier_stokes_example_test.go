package datasets_test

import (
	"fmt"
	"math"

	"github.com/implicit-ml/implicit/datasets"
)

// Generate a few steady flows, check one against the steady equations,
// and find the forcing perturbation that moves its vorticity by a given
// δω: the direction the Lipschitz probe needs. A model would train on
// set.Normalized(set.Norm()).
func ExampleGenerateNavierStokes() {
	cfg := datasets.NavierStokesConfig{S: 16}
	set, err := datasets.GenerateNavierStokes(cfg, 1, 4)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(set.Len(), set.InputShape(), set.TargetShape())
	fmt.Println("rejected:", set.Stats.Rejected())

	g := set.Grid()
	r, err := g.Residual(set.Forcing(0), set.Vorticity(0))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("steady to 1e-8:", r <= 1e-8)

	// δω = 0.01·cos(x − 2y); the steady state for f + ε·δf is then
	// ω + ε·δω + O(ε²).
	s := set.S
	dw := make([]float64, s*s)
	for i := range s {
		for j := range s {
			x, y := 2*math.Pi*float64(i)/float64(s), 2*math.Pi*float64(j)/float64(s)
			dw[i*s+j] = 0.01 * math.Cos(x-2*y)
		}
	}
	df, err := set.ForcingPerturbation(0, dw)
	if err != nil {
		fmt.Println(err)
		return
	}
	const eps = 0.01
	f := append([]float64(nil), set.Forcing(0)...)
	for i := range f {
		f[i] += eps * df[i]
	}
	w, _, err := g.Solve(f, set.Vorticity(0))
	if err != nil {
		fmt.Println(err)
		return
	}
	var e, n float64
	for i, v := range set.Vorticity(0) {
		d := (w[i]-v)/eps - dw[i]
		e, n = e+d*d, n+dw[i]*dw[i]
	}
	fmt.Printf("‖(ω(f+εδf) − ω)/ε − δω‖/‖δω‖ < 1e-3: %v\n", math.Sqrt(e/n) < 1e-3)
	// Output:
	// 4 [2 16 16] [1 16 16]
	// rejected: 0
	// steady to 1e-8: true
	// ‖(ω(f+εδf) − ω)/ε − δω‖/‖δω‖ < 1e-3: true
}
