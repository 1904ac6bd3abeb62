package layers_test

import (
	"fmt"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
)

// An explicit-plus-implicit classifier: the injection x·U is computed once
// by an explicit layer, the implicit layer solves z* = tanh(z*W + xU + b),
// and an explicit head reads the logits off z*.
func Example() {
	g := G.NewGraph()
	s := layers.NewScope(g, tensor.Float64, rand.New(rand.NewPCG(1, 2)))
	x := G.NewMatrix(g, tensor.Float64, G.WithShape(32, 784), G.WithName("x"), G.WithInit(G.Zeroes()))
	y := G.NewMatrix(g, tensor.Float64, G.WithShape(32, 10), G.WithName("y"), G.WithInit(G.Zeroes()))

	deqLayer := s.Implicit("deq", s.DenseCell("cell", 128, layers.Tanh), layers.ImplicitConfig{
		Forward:  deq.Anderson{},
		Backward: deq.IFT{},
	})
	model := layers.Sequential{
		s.Dense("inject", 784, 128, layers.Identity, layers.NoBias()),
		deqLayer,
		s.Dense("head", 128, 10, layers.Identity),
	}
	logits, err := model.Fwd(x)
	if err != nil {
		fmt.Println(err)
		return
	}
	loss, err := layers.SoftmaxCrossEntropy(logits, y)
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := G.Grad(loss, model.Params()...); err != nil {
		fmt.Println(err)
		return
	}
	vm := G.NewTapeMachine(g, G.BindDualValues(model.Params()...))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		fmt.Println(err)
		return
	}
	st := deqLayer.Stats()
	fmt.Println("parameters:", layers.CountParams(model.Params()))
	fmt.Println("forward:", st.ForwardStatus, "backward:", st.BackwardStatus)
	// Output:
	// parameters: 118154
	// forward: converged backward: converged
}

// Checking a layer's gradients against central finite differences, the
// test every differentiable piece of this project passes.
func ExampleCheckGradients() {
	reports, err := layers.CheckGradients(func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
		s := layers.NewScope(g, tensor.Float64, rand.New(rand.NewPCG(1, 2)))
		x := G.NewMatrix(g, tensor.Float64, G.WithShape(4, 3), G.WithName("x"), G.WithInit(G.Gaussian(0, 1)))
		d := s.Dense("fc", 3, 2, layers.Tanh)
		y, err := d.Fwd(x)
		if err != nil {
			return nil, nil, err
		}
		loss, err := G.Sum(y)
		return loss, append(G.Nodes{x}, d.Params()...), err
	}, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range reports {
		fmt.Printf("%s: relative error below 1e-7: %v\n", r.Name, r.RelErr < 1e-7)
	}
	// Output:
	// x: relative error below 1e-7: true
	// fc.W: relative error below 1e-7: true
	// fc.b: relative error below 1e-7: true
}

// A builder cell with a constant, f(z) = tanh(0.5·z·W + inj), written once
// with ConstLike and built in float32 and in float64.
func ExampleConstLike() {
	halfTanh := func(z, inj *G.Node, p G.Nodes) (*G.Node, error) {
		zw, err := G.Mul(z, p[0])
		if err != nil {
			return nil, err
		}
		half, err := G.Mul(zw, layers.ConstLike(zw, 0.5)) // G.NewConstant(0.5) would fail in float32
		if err != nil {
			return nil, err
		}
		pre, err := G.Add(half, inj)
		if err != nil {
			return nil, err
		}
		return G.Tanh(pre)
	}
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		g := G.NewGraph()
		s := layers.NewScope(g, dt, rand.New(rand.NewPCG(1, 2)))
		w := s.Param("cell.W", tensor.Shape{4, 4}, layers.GlorotUniform(0.5))
		x := G.NewMatrix(g, dt, G.WithShape(2, 4), G.WithName("x"), G.WithInit(G.Ones()))
		z, err := s.Implicit("deq", layers.NewCell(halfTanh, w), layers.ImplicitConfig{}).Fwd(x)
		if err != nil {
			fmt.Println(err)
			return
		}
		vm := G.NewTapeMachine(g)
		err = vm.RunAll()
		vm.Close()
		fmt.Println(dt, z.Dtype(), err)
	}
	// Output:
	// float32 float32 <nil>
	// float64 float64 <nil>
}
