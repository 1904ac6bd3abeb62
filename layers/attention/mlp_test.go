package attention

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/internal/layertest"
	"github.com/implicit-ml/implicit/layers"
)

// TestNonlinearityValues compares φ and φ' of the kernels with their
// definitions at points spanning both tails, in both precisions.
func TestNonlinearityValues(t *testing.T) {
	xs := []float64{-12, -3.5, -1, -0.25, 0, 0.3, 1, 2.7, 9}
	ref := map[Nonlinearity]func(x float64) (y, dy float64){
		SiLU: func(x float64) (float64, float64) {
			s := 1 / (1 + math.Exp(-x))
			return x * s, s + x*s*(1-s)
		},
		GELU: func(x float64) (float64, float64) {
			// central difference of the tanh form for φ', to check the
			// kernel's closed form independently
			f := func(x float64) float64 { return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x))) }
			return f(x), (f(x+1e-6) - f(x-1e-6)) / 2e-6
		},
	}
	for a, f := range ref {
		y, d, tmp := make([]float64, len(xs)), make([]float64, len(xs)), make([]float64, len(xs))
		actEval(a, y, d, xs, tmp)
		y32, d32, tmp32, x32 := make([]float32, len(xs)), make([]float32, len(xs)), make([]float32, len(xs)), make([]float32, len(xs))
		for i, x := range xs {
			x32[i] = float32(x)
		}
		actEval(a, y32, d32, x32, tmp32)
		for i, x := range xs {
			wy, wd := f(x)
			if math.Abs(y[i]-wy) > 1e-14*math.Max(1, math.Abs(wy)) || math.Abs(d[i]-wd) > 1e-8 {
				t.Errorf("%v(%v) = %v, φ' %v; want %v, %v", a, x, y[i], d[i], wy, wd)
			}
			if math.Abs(float64(y32[i])-wy) > 1e-6*math.Max(1, math.Abs(wy)) || math.Abs(float64(d32[i])-wd) > 1e-6 {
				t.Errorf("float32 %v(%v) = %v, φ' %v; want %v, %v", a, x, y32[i], d32[i], wy, wd)
			}
		}
	}
}

// TestMLPGradients: the MLP in each form, against central differences
// in the input, the residual and every weight.
func TestMLPGradients(t *testing.T) {
	for _, act := range []Nonlinearity{SiLU, GELU} {
		for _, gated := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/gated=%v", act, gated), func(t *testing.T) {
				layertest.CheckGrads(t, gradTol, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
					rng := rand.New(rand.NewPCG(31, 31))
					s := layers.NewScope(g, tensor.Float64, rng)
					m := NewMLP(s, "mlp", MLPConfig{Dim: tsD, Hidden: tsF, Act: act, Gated: gated})
					randomize(rng, 0.3, m.Params()...) // pre-activations of order one, in both tails
					x := layertest.Input(g, tensor.Float64, rng, "x", tsB*tsT, tsD)
					res := layertest.Input(g, tensor.Float64, rng, "residual", tsB*tsT, tsD)
					y, err := m.Apply(x, res)
					if err != nil {
						return nil, nil, err
					}
					loss, err := mseTo(g, rng, y)
					return loss, append(G.Nodes{x, res}, m.Params()...), err
				})
			})
		}
	}
}

// TestMLPConfigErrors: an unknown nonlinearity and bad widths are
// construction errors.
func TestMLPConfigErrors(t *testing.T) {
	for _, cfg := range []MLPConfig{{Dim: 4, Act: Nonlinearity(7)}, {Dim: 0}, {Dim: 4, Hidden: -2}} {
		s := layers.NewScope(G.NewGraph(), tensor.Float64, rand.New(rand.NewPCG(32, 32)))
		if NewMLP(s, "mlp", cfg); s.Err() == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
}
