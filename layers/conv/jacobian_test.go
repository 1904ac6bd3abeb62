package conv

import (
	"fmt"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/internal/layertest"
	"github.com/implicit-ml/implicit/layers"
)

// TestConvCellJacobianVJP checks vᵀJ of the convolutional cells against
// the kernel's VJP, and the gradient of ‖vᵀJ‖² by finite differences.
func TestConvCellJacobianVJP(t *testing.T) {
	for _, hidden := range []int{0, 4} {
		t.Run(fmt.Sprint("hidden=", hidden), func(t *testing.T) {
			reps, err := layers.CheckJacobianVJP(func(g *G.ExprGraph) (layers.Cell, *G.Node, *G.Node) {
				rng := rand.New(rand.NewPCG(52, 52))
				s := layers.NewScope(g, tensor.Float64, rng)
				const b, n, c = 2, 5, 3
				if hidden > 0 {
					return NewConvCellHidden(s, "conv", c, hidden, []int{-1, 0, 1}, layers.Tanh), layertest.Input(g, tensor.Float64, rng, "z", b, n*c), layertest.Input(g, tensor.Float64, rng, "inj", b, n*hidden)
				}
				return NewConvCell(s, "conv", c, []int{-1, 0, 1}, layers.Tanh), layertest.Input(g, tensor.Float64, rng, "z", b, n*c), layertest.Input(g, tensor.Float64, rng, "inj", b, n*c)
			}, 1e-6)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range reps {
				t.Logf("%s: relative error %.2g", r.Name, r.RelErr)
			}
		})
	}
}
