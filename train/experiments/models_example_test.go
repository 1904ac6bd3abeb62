package experiments_test

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/layers/imaging"
	"github.com/implicit-ml/implicit/network"
	"github.com/implicit-ml/implicit/train"
	"github.com/implicit-ml/implicit/train/experiments"
)

// The reason experiment's models outside it (bench/gobench builds them
// so): the looped cell as an implicit layer and an explicit stack of 4
// untied copies (4 times the cell's 1072 parameters), over strings of 32
// bits with 16 channels and a hidden layer of 32.
func ExampleReasonModel() {
	const n, ch, hid = 32, 16, 32
	icfg := layers.ImplicitConfig{Forward: deq.Picard{}, Backward: deq.IFT{Solver: deq.Picard{}}}
	loop := experiments.ReasonModel(network.Spec{Name: "loop", Kind: train.KindImplicit, Dtype: tensor.Float32, Seed: 1}, n, ch, hid,
		func(s *layers.Scope, inj *G.Node) (*G.Node, error) {
			return s.Implicit("loop", experiments.ReasonCell(s, "cell", ch, hid), icfg).Fwd(inj)
		})
	stack := experiments.ReasonModel(network.Spec{Name: "stack-4", Kind: train.KindExplicit, Dtype: tensor.Float32, Seed: 1}, n, ch, hid,
		func(s *layers.Scope, inj *G.Node) (*G.Node, error) {
			return experiments.ReasonStack(s, inj, ch, hid, 4)
		})
	for _, m := range []*network.Network{loop, stack} {
		net, err := m.Build(G.NewGraph(), 2, false)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(m.Name(), m.Kind(), net.Out.Shape(), m.Params())
	}
	// Output:
	// loop implicit (2, 32, 2) 1442
	// stack-4 explicit (2, 32, 2) 4658
}

// The deblurring experiment's models outside it: the denoiser once and
// the implicit PGD model (its parameters and the step γ) at the
// experiment's sizes, iterated 100 times from Aᵀx; an unknown operator
// is an error.
func ExampleDeblurModel() {
	a, err := imaging.NewBlur("shake", 28, 28)
	if err != nil {
		fmt.Println(err)
		return
	}
	icfg := layers.ImplicitConfig{Backward: deq.IFT{Solver: deq.Picard{}}}
	for _, op := range []string{"once", "pgd", "admm"} {
		m, err := experiments.DeblurModel("deblur-"+op, op, a, 0, tensor.Float32, 1, icfg, 100)
		if err != nil {
			fmt.Println(err)
			continue
		}
		net, err := m.Build(G.NewGraph(), 2, false)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(m.Name(), m.Kind(), net.Out.Shape(), m.Params())
	}
	// Output:
	// deblur-once explicit (2, 784) 7410
	// deblur-pgd implicit (2, 784) 7411
	// experiments: deblur model "admm": want once, pgd or hqs
}
