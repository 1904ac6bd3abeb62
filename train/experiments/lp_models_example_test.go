package experiments_test

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/network"
	"github.com/implicit-ml/implicit/train/experiments"
)

// The LP experiment's networks outside it (bench/gobench builds them so):
// the explicit and the implicit network of width 16 for 10×50 LPs, the
// implicit one trained unrolled for 6 iterations as the default recipe
// does; an unknown problem is an error.
func ExampleLPImplicitModel() {
	lay := datasets.NewLPLayout(10, 50)
	ex, err := experiments.LPExplicitModel("fast", 16, lay, tensor.Float32, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	im, err := experiments.LPImplicitModel("fast", 16, lay, tensor.Float32, 1, layers.ImplicitConfig{Backward: deq.Unrolled{Steps: 6}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, spec := range []network.Spec{ex, im} {
		m := network.New(spec)
		net, err := m.Build(G.NewGraph(), 2, false)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(m.Name(), m.Kind(), net.Out.Shape(), m.Params())
	}
	_, err = experiments.LPExplicitModel("slow", 16, lay, tensor.Float32, 1)
	fmt.Println(err)
	// Output:
	// explicit-gnn-e16 explicit (2, 50) 5777
	// implicit-gnn-e16 implicit (2, 50) 5842
	// experiments: LP problem "slow": want fast or paper
}
