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

// TestRMSNormMatchesDefinition compares the op with x/√(mean(x²)+ε)⊙g
// in float64, and float32 with float64.
func TestRMSNormMatchesDefinition(t *testing.T) {
	const eps = 0.01 // large enough to matter in rows of small values
	var outs [2][]float64
	for i, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		rng := rand.New(rand.NewPCG(21, 21))
		g := G.NewGraph()
		s := layers.NewScope(g, dt, rng)
		n := NewRMSNorm(s, "n", tsD, eps)
		randomize(rng, 0.5, n.Gain)
		x := layertest.Input(g, dt, rng, "x", tsB*tsT, tsD)
		y, err := n.Fwd(x)
		if err != nil {
			t.Fatal(err)
		}
		outs[i] = run(t, y)
		if i > 0 {
			continue
		}
		xv, gv := x.Value().Data().([]float64), n.Gain.Value().Data().([]float64)
		want := make([]float64, len(xv))
		for r := range tsB * tsT {
			ms := 0.0
			for _, v := range xv[r*tsD : (r+1)*tsD] {
				ms += v * v / tsD
			}
			for j := range tsD {
				want[r*tsD+j] = xv[r*tsD+j] / math.Sqrt(ms+eps) * gv[j]
			}
		}
		layertest.Compare(t, "RMSNorm", outs[0], want)
	}
	if e := relMax(outs[1], outs[0]); !(e < 1e-6) {
		t.Errorf("float32 differs from float64 by %.3g relative", e)
	}
}

// TestRMSNormGradients: ∂x and ∂gain against central differences, for a
// gain away from ones and an ε that matters.
func TestRMSNormGradients(t *testing.T) {
	for _, eps := range []float64{0, 0.3} {
		t.Run(fmt.Sprint("eps=", eps), func(t *testing.T) {
			layertest.CheckGrads(t, gradTol, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
				rng := rand.New(rand.NewPCG(22, 22))
				s := layers.NewScope(g, tensor.Float64, rng)
				n := NewRMSNorm(s, "n", tsD, eps)
				randomize(rng, 0.5, n.Gain)
				x := layertest.Input(g, tensor.Float64, rng, "x", tsB*tsT, tsD)
				y, err := n.Fwd(x)
				if err != nil {
					return nil, nil, err
				}
				loss, err := mseTo(g, rng, y)
				return loss, G.Nodes{x, n.Gain}, err
			})
		})
	}
}
