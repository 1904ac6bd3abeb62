package network_test

import (
	"context"
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/network"
	"github.com/implicit-ml/implicit/train"
)

// blobs is a toy two-class dataset: points near (1, 1) or (−1, −1).
type blobs struct{}

func (blobs) Len() int           { return 200 }
func (blobs) InputShape() []int  { return []int{2} }
func (blobs) TargetShape() []int { return []int{2} }
func (blobs) Sample(i int, x, y []float32) {
	c := float32(1 - 2*(i%2))
	x[0], x[1] = c+0.1*float32(i%7-3), c-0.1*float32(i%5-2)
	y[0], y[1] = float32(i%2), float32(1-i%2)
}

// A user-defined implicit classifier, trained and evaluated with the
// training loop.
func ExampleNew() {
	net := network.New(network.Spec{
		Name: "my-deq", Input: []int{2}, Target: []int{2}, Seed: 1,
		Body: func(s *layers.Scope, x *G.Node) (*G.Node, error) {
			return layers.Sequential{
				s.Dense("inject", 2, 16, layers.Identity, layers.NoBias()),
				s.Implicit("deq", s.DenseCell("cell", 16, layers.Tanh), layers.ImplicitConfig{Backward: deq.IFT{}}),
				s.Dense("head", 16, 2, layers.Identity),
			}.Fwd(x)
		},
		Loss: network.CrossEntropy,
	})
	if err := net.Err(); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := train.Fit(context.Background(), net, blobs{}, train.Config{Epochs: 5, BatchSize: 20, Seed: 1, Optimizer: train.OptimizerConfig{LR: 1e-2}}); err != nil {
		fmt.Println(err)
		return
	}
	ev, err := train.NewEvaluator(net, 100)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ev.Close()
	acc, err := ev.Evaluate(blobs{}, train.Accuracy())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(net.Kind(), net.Params(), "parameters, accuracy", acc.Mean)
	// Output:
	// implicit 338 parameters, accuracy 1
}

// A second model built on a model's parameters (a renamed view evaluated
// at another batch size) sees every change made to them.
func ExampleNetwork_Sharing() {
	body := func(s *layers.Scope, x *G.Node) (*G.Node, error) {
		return s.Dense("scale", 1, 1, layers.Identity, layers.NoBias()).Fwd(x)
	}
	net := network.New(network.Spec{Name: "scale", Input: []int{1}, Target: []int{1}, Body: body, Loss: network.MaskedMSE})
	wide := net.Spec()
	wide.Name = "scale-view"
	view := net.Sharing(wide)
	a, err := train.NewEvaluator(net, 4)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer a.Close()
	b, err := train.NewEvaluator(view, 8)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close()
	w := net.Scope().Params()[0].Value().Data().([]float32)
	w[0] = 3 // a change made through one model is seen by the other
	y, err := b.Predict([]float64{2}, 1)
	fmt.Println(y, err)
	// Output:
	// [6] <nil>
}
