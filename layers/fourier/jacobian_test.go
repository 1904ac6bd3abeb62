package fourier

import (
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/internal/layertest"
	"github.com/implicit-ml/implicit/layers"
)

// TestFNOCellJacobianVJP checks the Fourier cell's vᵀJ, which goes through
// the transposed spectral op (differentiated with respect to its input
// and K's weights), against the kernel's VJP, and the gradient of ‖vᵀJ‖²
// by finite differences.
func TestFNOCellJacobianVJP(t *testing.T) {
	for _, act := range []layers.Activation{layers.Tanh, layers.Softplus} {
		t.Run(act.String(), func(t *testing.T) {
			reps, err := layers.CheckJacobianVJP(func(g *G.ExprGraph) (layers.Cell, *G.Node, *G.Node) {
				rng := rand.New(rand.NewPCG(53, 53))
				s := layers.NewScope(g, tensor.Float64, rng)
				n := fnoS * fnoS * fnoC
				return NewFNOCell(s, "cell", fnoS, fnoC, fnoM, act), layertest.Input(g, tensor.Float64, rng, "z", fnoB, n), layertest.Input(g, tensor.Float64, rng, "inj", fnoB, n)
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
