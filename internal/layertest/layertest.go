// Package layertest holds the helpers the tests of package layers and of
// its model families share: seeded input nodes, one-hot targets, the
// finite-difference check with a tolerance, and vector comparisons. It
// imports no package of this module but gradcheck, so the tests of layers
// itself can use it.
package layertest

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/gradcheck"
	"github.com/implicit-ml/implicit/internal/opkit"
)

// Input returns a named input node of the given shape filled with
// standard normal values from rng.
func Input(g *G.ExprGraph, dt tensor.Dtype, rng *rand.Rand, name string, shape ...int) *G.Node {
	return G.NewTensor(g, dt, len(shape), G.WithShape(shape...), G.WithName(name),
		G.WithValue(opkit.NewTensor(dt, shape, RandVec(rng, tensor.Shape(shape).TotalSize()))))
}

// OneHot returns a (B, K) one-hot target node; the rows listed in pad are
// zero (padding rows).
func OneHot(g *G.ExprGraph, dt tensor.Dtype, rng *rand.Rand, b, k int, pad ...int) *G.Node {
	vals := make([]float64, b*k)
	for r := 0; r < b; r++ {
		vals[r*k+rng.IntN(k)] = 1
	}
	for _, r := range pad {
		for j := 0; j < k; j++ {
			vals[r*k+j] = 0
		}
	}
	return G.NewTensor(g, dt, 2, G.WithShape(b, k), G.WithName("targets"), G.WithValue(opkit.NewTensor(dt, tensor.Shape{b, k}, vals)))
}

// CheckGrads runs the central-difference check (step 1e-5) on the graph
// build makes and fails the test for any relative error above tol (or
// NaN); it returns the reports.
func CheckGrads(t *testing.T, tol float64, build func(g *G.ExprGraph) (*G.Node, G.Nodes, error)) []gradcheck.Report {
	t.Helper()
	reps, err := gradcheck.Check(build, 1e-5)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reps {
		if r.RelErr > tol || r.RelErr != r.RelErr {
			t.Errorf("%s: relative error %.3g > %.0g\nanalytic %.6g\nnumeric  %.6g", r.Name, r.RelErr, tol, Head(r.Analytic), Head(r.Numeric))
		} else {
			t.Logf("%s: relative error %.2g", r.Name, r.RelErr)
		}
	}
	return reps
}

// Head returns at most the first six values of v, for messages.
func Head(v []float64) []float64 {
	if len(v) > 6 {
		return v[:6]
	}
	return v
}

// RandVec returns n standard normal values from rng.
func RandVec(rng *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return v
}

// Dot is ⟨a, b⟩.
func Dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// Compare fails the test when got and want differ by more than 1e-12
// relative to want's largest entry (at least 1).
func Compare(t *testing.T, what string, got, want []float64) {
	t.Helper()
	var d, n float64
	for i := range got {
		d = math.Max(d, math.Abs(got[i]-want[i]))
		n = math.Max(n, math.Abs(want[i]))
	}
	if len(got) != len(want) || !(d <= 1e-12*math.Max(n, 1)) {
		t.Errorf("%s differs from the reference by %.3g (scale %.3g, lengths %d and %d)", what, d, n, len(got), len(want))
	}
}

// ScaleToSpectralNorm scales the matrix parameter w in place so that its
// spectral norm is target (estimated by 500 power-iteration steps from
// rng): a cell weight with a known Lipschitz constant.
func ScaleToSpectralNorm(w *G.Node, target float64, rng *rand.Rand) {
	shape := w.Shape()
	switch d := w.Value().Data().(type) {
	case []float64:
		n, _ := deq.SpectralNorm(d, shape[0], shape[1], 500, rng)
		for i := range d {
			d[i] *= target / n
		}
	case []float32:
		n, _ := deq.SpectralNorm(d, shape[0], shape[1], 500, rng)
		for i := range d {
			d[i] *= float32(target / n)
		}
	}
}

// RelDiff is the largest, over the gradients, of ‖a_i − b_i‖ /
// max(‖a_i‖, ‖b_i‖), and 1 for gradients of different lengths: an
// all-zero gradient on either side against a non-zero one counts as
// entirely wrong (only two all-zero gradients agree).
func RelDiff(a, b [][]float64) float64 {
	if len(a) != len(b) {
		return 1
	}
	worst := 0.0
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return 1
		}
		var d, na, nb float64
		for j := range a[i] {
			d += (a[i][j] - b[i][j]) * (a[i][j] - b[i][j])
			na += a[i][j] * a[i][j]
			nb += b[i][j] * b[i][j]
		}
		if den := math.Max(na, nb); den > 0 {
			worst = math.Max(worst, math.Sqrt(d/den))
		}
	}
	return worst
}

// CheckLispMachine builds the graph twice and fails the test unless the
// LispMachine's gradients of the loss (computed by each op's DoDiff)
// equal the TapeMachine's (from SymDiff) to a relative tol: an op whose
// DoDiff is missing or wrong gives the LispMachine zero or wrong
// gradients without an error. build returns the loss and the float64
// nodes to differentiate, in the same order both times.
func CheckLispMachine(t *testing.T, tol float64, build func(g *G.ExprGraph) (*G.Node, G.Nodes, error)) {
	t.Helper()
	grads := func(lisp bool) [][]float64 {
		g := G.NewGraph()
		loss, wrt, err := build(g)
		if err != nil {
			t.Fatal(err)
		}
		var vm G.VM
		if lisp {
			vm = G.NewLispMachine(g)
		} else {
			if _, err := G.Grad(loss, wrt...); err != nil {
				t.Fatal(err)
			}
			vm = G.NewTapeMachine(g)
		}
		defer vm.Close()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		out := make([][]float64, len(wrt))
		for i, n := range wrt {
			gv, err := n.Grad()
			if err != nil {
				t.Fatalf("%s: %v", n.Name(), err)
			}
			d, err := opkit.Data[float64](gv)
			if err != nil {
				t.Fatalf("%s: %v", n.Name(), err)
			}
			out[i] = append([]float64(nil), d...)
		}
		return out
	}
	if d := RelDiff(grads(true), grads(false)); !(d <= tol) {
		t.Errorf("LispMachine gradients differ from the TapeMachine's by %.3g relative (tol %.0g)", d, tol)
	}
}
