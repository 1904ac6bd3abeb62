package layers_test

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/layers"
)

// FusedGELU's gradient is taken from its input, where GELU is not
// monotone (φ' < 0 at −2, > 0 at −0.5).
func ExampleFusedGELU() {
	g := G.NewGraph()
	x := G.NewVector(g, tensor.Float64, G.WithShape(3), G.WithName("x"), G.WithValue(tensor.New(tensor.WithBacking([]float64{-2, -0.5, 1}))))
	y, err := layers.FusedGELU(x)
	if err != nil {
		fmt.Println(err)
		return
	}
	sum, _ := G.Sum(y)
	if _, err := G.Grad(sum, x); err != nil {
		fmt.Println(err)
		return
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		fmt.Println(err)
		return
	}
	dx, _ := x.Grad()
	fmt.Printf("%.4f\n%.4f\n", y.Value().Data(), dx.Data())
	// Output:
	// [-0.0454 -0.1543 0.8412]
	// [-0.0861 0.1326 1.0830]
}
