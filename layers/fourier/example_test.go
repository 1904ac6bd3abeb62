package fourier_test

import (
	"fmt"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/layers/fourier"
)

// The FNO-DEQ: a block of three Fourier layers iterated to its fixed
// point inside the frame, on 8×8 grids of a two-channel input.
func ExampleNewFrame() {
	g := G.NewGraph()
	s := layers.NewScope(g, tensor.Float64, rand.New(rand.NewPCG(1, 2)))
	cfg := fourier.FrameConfig{Size: 8, In: 2, Width: 4, Modes: 3, Hidden: 8}
	deq := s.Implicit("deq", fourier.NewFourierStack(s, "G", 3, cfg.Size, cfg.Width, cfg.Modes), layers.ImplicitConfig{})
	frame := fourier.NewFrame(s, "fno", cfg, deq)
	x := G.NewTensor(g, tensor.Float64, 4, G.WithShape(5, 2, 8, 8), G.WithName("x"), G.WithInit(G.Gaussian(0, 1)))
	y, err := frame.Fwd(x)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := run(g); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(y.Shape(), layers.CountParams(frame.Params()), deq.Stats().ForwardStatus)
	// Output: (5, 1, 8, 8) 2597 converged
}

// The explicit baselines: the FNO (one block on the lifted input) has the
// implicit model's parameters; FNO++ adds blocks that all see the input.
func ExampleNewUntied() {
	count := func(blocks int, inject bool) int {
		s := layers.NewScope(G.NewGraph(), tensor.Float32, rand.New(rand.NewPCG(1, 2)))
		cfg := fourier.FrameConfig{Size: 8, In: 2, Width: 4, Modes: 3, Hidden: 8}
		body := fourier.NewUntied(s, "G", blocks, 3, cfg.Size, cfg.Width, cfg.Modes, inject)
		return layers.CountParams(fourier.NewFrame(s, "fno", cfg, body).Params())
	}
	fmt.Println(count(1, false), count(2, true), count(4, true))
	// Output: 2597 4493 8285
}

// The relative L2 loss sums ‖pred − target‖/‖target‖ over the rows the
// mask keeps.
func ExampleRelativeL2Loss() {
	g := G.NewGraph()
	pred := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 2), G.WithName("pred"), G.WithValue(tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float64{1, 1, 3, 4}))))
	target := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 2), G.WithName("target"), G.WithValue(tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float64{1, 2, 0, 5}))))
	loss, err := fourier.RelativeL2Loss(pred, target, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := run(g); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%.4f\n", loss.Value().Data())
	// Output: 1.0797
}

// run runs the graph once.
func run(g *G.ExprGraph) error {
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	return vm.RunAll()
}
