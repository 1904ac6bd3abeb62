package layers

import (
	"math"
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

// checkCellKernel checks a cell's float64 kernel against the cell built in
// a graph (Eval equals f(z) there) and against central differences of
// Eval (⟨J_fᵀv, δ⟩ for random v, δ), at the values z and inj hold.
func checkCellKernel(t *testing.T, cell Cell, z, inj *G.Node, rng *rand.Rand) {
	t.Helper()
	fz, err := cell.Apply(z, G.Nodes{inj})
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(z.Graph())
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	want := append([]float64(nil), fz.Value().Data().([]float64)...)
	k, err := cell.Kernel64([]tensor.Shape{inj.Shape()})
	if err != nil {
		t.Fatal(err)
	}
	var params []G.Value
	for _, p := range kernelInputs(cell) {
		params = append(params, p.Value())
	}
	if err := k.Bind([]G.Value{inj.Value()}, params); err != nil {
		t.Fatal(err)
	}
	zv := z.Value().Data().([]float64)
	got := make([]float64, len(zv))
	if err := k.Eval(got, zv); err != nil {
		t.Fatal(err)
	}
	compare(t, "Eval", got, want)

	v, delta := spectralRand(rng, len(zv)), spectralRand(rng, len(zv))
	if err := k.Linearize(zv); err != nil {
		t.Fatal(err)
	}
	jtv := make([]float64, len(zv))
	if err := k.VJP(jtv, v); err != nil {
		t.Fatal(err)
	}
	const h = 1e-6
	at := func(sign float64) float64 {
		zp := make([]float64, len(zv))
		for i := range zp {
			zp[i] = zv[i] + sign*h*delta[i]
		}
		out := make([]float64, len(zv))
		if err := k.Eval(out, zp); err != nil {
			t.Fatal(err)
		}
		return spectralDot(v, out)
	}
	num, ana := (at(1)-at(-1))/(2*h), spectralDot(jtv, delta)
	if math.Abs(num-ana) > 1e-7*math.Abs(ana) {
		t.Errorf("⟨J_fᵀv, δ⟩ = %.10g, central difference %.10g", ana, num)
	}
}
