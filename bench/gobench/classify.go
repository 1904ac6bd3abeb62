package main

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/network"
	"github.com/implicit-ml/implicit/train"
	"github.com/implicit-ml/implicit/train/experiments"
)

// classifyModel returns the classify experiment's model kind ("mlp", "deq",
// "unrolled"). With fixed > 0 the DEQ trains at exactly fixed forward and
// fixed adjoint iterations (deq.Never: no early stop), which the
// experiment's options cannot express; its layers are the experiment's.
func classifyModel(kind string, unroll, fixed int, o experiments.Options) (train.Model, error) {
	if fixed <= 0 {
		return experiments.ClassifyModel(kind, unroll, o)
	}
	if kind != "deq" {
		return nil, fmt.Errorf("-fixed applies to the deq model, not %q", kind)
	}
	stop := deq.Stop{Tol: deq.Never, MaxIter: fixed}
	icfg := layers.ImplicitConfig{Forward: deq.Anderson{}, Stop: stop, Backward: deq.IFT{Solver: deq.Picard{}, Stop: stop}}
	h := o.Hidden
	return network.New(network.Spec{Name: fmt.Sprintf("implicit-deq-fixed-%d", fixed), Kind: train.KindImplicit,
		Dtype: o.Dtype, Seed: o.Seed, Input: []int{784}, Target: []int{10}, Loss: network.CrossEntropy,
		Body: func(sc *layers.Scope, x *G.Node) (*G.Node, error) {
			return layers.Sequential{
				sc.Dense("inject", 784, h, layers.Identity, layers.NoBias()),
				sc.Implicit("deq", sc.DenseCell("cell", h, layers.Tanh), icfg),
				sc.Dense("head", h, 10, layers.Identity),
			}.Fwd(x)
		}}), nil
}
