package layers_test

import (
	"fmt"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/layers"
)

// A dense tanh cell whose W = 0.5·I contracts its state by μ = 0.5 in the
// 2-norm, so an iterate z with residual ‖f(z) − z‖ = 1e-3 gives an output
// f(z) within μ/(1 − μ)·1e-3 = 1e-3 of the fixed point.
func ExampleDenseCell_Contraction() {
	s := layers.NewScope(G.NewGraph(), tensor.Float64, rand.New(rand.NewPCG(1, 2)))
	cell := s.DenseCell("cell", 3, layers.Tanh)
	w := cell.W.Value().Data().([]float64)
	clear(w)
	for i := range 3 {
		w[i*3+i] = 0.5
	}
	c, ok := cell.Contraction()
	fmt.Printf("bounded: %v, μ = %.2f in the %s-norm, bound for a residual of 1e-3: %.0e\n", ok, c.Mu, c.Norm, c.Bound(1e-3))
	// Output:
	// bounded: true, μ = 0.50 in the 2-norm, bound for a residual of 1e-3: 1e-03
}
