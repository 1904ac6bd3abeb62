package layers_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
)

// Anytime inference: a context bounds the implicit layer's solve. Without
// Controls.Anytime a solve the context interrupts fails the run; with it,
// the layer returns each sample's best iterate so far and Stats say how
// far the solve got. Here the deadline has passed before the run starts,
// so the solve stops after its first evaluation of the cell.
func ExampleImplicit_SetContext() {
	g := G.NewGraph()
	s := layers.NewScope(g, tensor.Float64, rand.New(rand.NewPCG(1, 2)))
	x := G.NewMatrix(g, tensor.Float64, G.WithShape(4, 16), G.WithName("x"), G.WithInit(G.Gaussian(0, 1)))
	deqLayer := s.Implicit("deq", s.DenseCell("cell", 16, layers.Tanh), layers.ImplicitConfig{
		Stop: deq.Stop{Tol: 1e-10, MaxIter: 1000},
	})
	if _, err := deqLayer.Fwd(x); err != nil {
		fmt.Println(err)
		return
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	deqLayer.SetContext(ctx)
	err := vm.RunAll()
	vm.Reset()
	// The machine's error keeps the message, not the error chain.
	fmt.Println("without Anytime, the deadline is an error:", err != nil && strings.Contains(err.Error(), context.DeadlineExceeded.Error()))

	deqLayer.SetControls(layers.Controls{Anytime: true})
	err = vm.RunAll()
	vm.Reset()
	st := deqLayer.Stats()
	fmt.Printf("with Anytime: error %v, %s after %d iteration(s)\n", err, st.ForwardStatus, st.Forward.Iterations)
	// Output:
	// without Anytime, the deadline is an error: true
	// with Anytime: error <nil>, interrupted after 1 iteration(s)
}
