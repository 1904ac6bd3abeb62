package attention

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

// Sizes of the small models of the gradient checks: B sequences of T
// tokens of width D in H heads (head width 4, so RoPE turns two pairs at
// different speeds), an MLP of width F. T is odd and B·T is not a
// multiple of anything the kernels split by, so no layout can be mixed
// up with another and still pass.
const tsB, tsT, tsD, tsH, tsF = 2, 5, 8, 2, 12

// gradTol is the relative error below which a finite-difference check
// passes: central differences with step 1e-5 on these smooth float64
// models agree to about 1e-9, a wrong gradient is off by 1e-2 or more.
const gradTol = 1e-6

// run builds nothing: it runs the graph of out once on a TapeMachine and
// returns a copy of out's value as float64s.
func run(t *testing.T, out *G.Node) []float64 {
	t.Helper()
	vm := G.NewTapeMachine(out.Graph())
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	v, err := layers.Floats64(out.Value())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// randomize replaces the values of the parameters with N(0, σ²) draws,
// so that gains are not all ones (a gain gradient that ignores the gain
// would otherwise pass).
func randomize(rng *rand.Rand, sigma float64, ps ...*G.Node) {
	for _, p := range ps {
		switch d := p.Value().Data().(type) {
		case []float64:
			for i := range d {
				d[i] += sigma * rng.NormFloat64()
			}
		case []float32:
			for i := range d {
				d[i] += float32(sigma * rng.NormFloat64())
			}
		}
	}
}

// idsNode is a (b, t) node of token ids drawn from [0, vocab).
func idsNode(g *G.ExprGraph, dt tensor.Dtype, rng *rand.Rand, b, t, vocab int) *G.Node {
	vals := make([]float64, b*t)
	for i := range vals {
		vals[i] = float64(rng.IntN(vocab))
	}
	return G.NewTensor(g, dt, 2, G.WithShape(b, t), G.WithName("ids"), G.WithValue(opkit.NewTensor(dt, tensor.Shape{b, t}, vals)))
}

// mseTo is the mean squared error of y against a random target of its
// shape: a loss whose gradient reaches every output entry with a
// different weight.
func mseTo(g *G.ExprGraph, rng *rand.Rand, y *G.Node) (*G.Node, error) {
	s := y.Shape()
	return layers.MSE(y, layertest.Input(g, y.Dtype(), rng, "target", s...))
}

// relMax is max|a − b| / max(max|b|, 1e-300).
func relMax(a, b []float64) float64 {
	var d, n float64
	for i := range a {
		d = math.Max(d, math.Abs(a[i]-b[i]))
		n = math.Max(n, math.Abs(b[i]))
	}
	return d / math.Max(n, 1e-300)
}
