package fourier

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/internal/layertest"
	"github.com/implicit-ml/implicit/internal/opkit"
	"github.com/implicit-ml/implicit/layers"
)

// TestRelativeL2Loss checks the value (rows summed, masked rows left out)
// and the gradient by central differences, with and without a mask.
func TestRelativeL2Loss(t *testing.T) {
	mask := []float64{1, 0, 1}
	for _, masked := range []bool{true, false} {
		build := func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
			rng := rand.New(rand.NewPCG(81, 81))
			p := layertest.Input(g, tensor.Float64, rng, "pred", 3, 1, 2, 2)
			y := layertest.Input(g, tensor.Float64, rng, "target", 3, 1, 2, 2)
			var m *G.Node
			if masked {
				m = G.NewTensor(g, tensor.Float64, 2, G.WithShape(3, 1), G.WithName("mask"), G.WithValue(opkit.NewTensor(tensor.Float64, tensor.Shape{3, 1}, mask)))
			}
			loss, err := RelativeL2Loss(p, y, m)
			return loss, G.Nodes{p}, err
		}
		layertest.CheckGrads(t, 1e-7, build)
		g := G.NewGraph()
		loss, wrt, err := build(g)
		if err != nil {
			t.Fatal(err)
		}
		vm := G.NewTapeMachine(g)
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		p, _ := layers.Floats64(wrt[0].Value())
		y, _ := layers.Floats64(g.ByName("target")[0].Value())
		want := 0.0
		for r := range 3 {
			if masked && mask[r] == 0 {
				continue
			}
			var d, n float64
			for j := r * 4; j < (r+1)*4; j++ {
				d += (p[j] - y[j]) * (p[j] - y[j])
				n += y[j] * y[j]
			}
			want += math.Sqrt(d / n)
		}
		got, _ := layers.Scalar(loss)
		if math.Abs(got-want) > 1e-12 {
			t.Errorf("masked=%v: loss %g, want %g", masked, got, want)
		}
		vm.Close()
	}
	g := G.NewGraph()
	a := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 3), G.WithName("a"))
	if _, err := RelativeL2Loss(a, G.NewMatrix(g, tensor.Float64, G.WithShape(3, 2), G.WithName("b")), nil); err == nil {
		t.Error("shapes (2, 3) and (3, 2): no error")
	}
}
