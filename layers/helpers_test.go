package layers

import (
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/internal/gradcheck"
)

// input returns a named input node of the given shape filled from rng.
func input(g *G.ExprGraph, dt tensor.Dtype, rng *rand.Rand, name string, shape ...int) *G.Node {
	n := tensor.Shape(shape).TotalSize()
	vals := make([]float64, n)
	for i := range vals {
		vals[i] = rng.NormFloat64()
	}
	return G.NewTensor(g, dt, len(shape), G.WithShape(shape...), G.WithName(name), G.WithValue(newTensor(dt, shape, vals)))
}

// oneHot returns a (B, K) one-hot target node; rows listed in pad are zero.
func oneHot(g *G.ExprGraph, dt tensor.Dtype, rng *rand.Rand, b, k int, pad ...int) *G.Node {
	vals := make([]float64, b*k)
	for r := 0; r < b; r++ {
		vals[r*k+rng.IntN(k)] = 1
	}
	for _, r := range pad {
		for j := 0; j < k; j++ {
			vals[r*k+j] = 0
		}
	}
	return G.NewTensor(g, dt, 2, G.WithShape(b, k), G.WithName("targets"), G.WithValue(newTensor(dt, tensor.Shape{b, k}, vals)))
}

// checkGrads runs gradcheck and fails the test for any relative error
// above tol.
func checkGrads(t *testing.T, tol float64, build func(g *G.ExprGraph) (*G.Node, G.Nodes, error)) []gradcheck.Report {
	t.Helper()
	reps, err := gradcheck.Check(build, 1e-5)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reps {
		if r.RelErr > tol || r.RelErr != r.RelErr {
			t.Errorf("%s: relative error %.3g > %.0g\nanalytic %.6g\nnumeric  %.6g", r.Name, r.RelErr, tol, head(r.Analytic), head(r.Numeric))
		} else {
			t.Logf("%s: relative error %.2g", r.Name, r.RelErr)
		}
	}
	return reps
}

func head(v []float64) []float64 {
	if len(v) > 6 {
		return v[:6]
	}
	return v
}
