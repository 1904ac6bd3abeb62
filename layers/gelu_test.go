package layers

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/internal/layertest"
)

// geluRef is the tanh-form GELU straight from its formula.
func geluRef(x float64) float64 {
	return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
}

// geluPoints are the arguments of the GELU tests: both tails, the kink
// region around −0.75 where φ' changes sign, and zero.
func geluPoints() []float64 {
	var xs []float64
	for x := -8.0; x <= 8; x += 0.0625 {
		xs = append(xs, x)
	}
	return append(xs, -0.7517916, 1e-9, -1e-9, 30, -30)
}

// TestGELUKernel checks EvalGELU in float64 against the formula and its
// derivative against central differences of the formula (the derivative
// is taken from the pre-activation, where GELU is not monotone), and the
// float32 kernel (vectorised tanh) against the float64 one.
func TestGELUKernel(t *testing.T) {
	xs := geluPoints()
	y, d := make([]float64, len(xs)), make([]float64, len(xs))
	EvalGELU(y, d, xs, make([]float64, len(xs)))
	const h = 1e-5
	for i, x := range xs {
		if e := math.Abs(y[i] - geluRef(x)); e > 1e-15*math.Max(1, math.Abs(x)) {
			t.Errorf("φ(%g) = %.17g, want %.17g", x, y[i], geluRef(x))
		}
		num := (geluRef(x+h) - geluRef(x-h)) / (2 * h)
		if e := math.Abs(d[i] - num); e > 1e-9 {
			t.Errorf("φ'(%g) = %.12g, central difference %.12g", x, d[i], num)
		}
		// The erf form (PyTorch's default) is within 5e-4 of this one.
		if e := math.Abs(y[i] - 0.5*x*(1+math.Erf(x/math.Sqrt2))); e > 5e-4 {
			t.Errorf("φ(%g) differs from x·Φ(x) by %.2g", x, e)
		}
	}
	x32 := make([]float32, len(xs))
	for i, x := range xs {
		x32[i] = float32(x)
	}
	y32, d32 := make([]float32, len(xs)), make([]float32, len(xs))
	EvalGELU(y32, d32, x32, make([]float32, len(xs)))
	for i := range xs {
		if e := math.Abs(float64(y32[i]) - y[i]); e > 2e-6*math.Max(1, math.Abs(xs[i])) {
			t.Errorf("float32 φ(%g) = %g, float64 %g", xs[i], y32[i], y[i])
		}
		if e := math.Abs(float64(d32[i]) - d[i]); e > 2e-6 {
			t.Errorf("float32 φ'(%g) = %g, float64 %g", xs[i], d32[i], d[i])
		}
	}
	// In place: y may be x.
	in := append([]float64(nil), xs...)
	EvalGELU(in, nil, in, make([]float64, len(xs)))
	for i := range xs {
		if in[i] != y[i] {
			t.Fatalf("in place φ(%g) = %g, want %g", xs[i], in[i], y[i])
		}
	}
	// The scratch may be y (the attention MLP's forward pass).
	out, dOut := make([]float64, len(xs)), make([]float64, len(xs))
	EvalGELU(out, dOut, xs, out)
	for i := range xs {
		if out[i] != y[i] || dOut[i] != d[i] {
			t.Fatalf("with y as scratch φ(%g) = %g, φ' %g; want %g, %g", xs[i], out[i], dOut[i], y[i], d[i])
		}
	}
}

// TestGELUOpGradient checks the op's gradient by central differences in
// float64, and its float32 values against float64.
func TestGELUOpGradient(t *testing.T) {
	layertest.CheckGrads(t, 1e-7, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
		rng := rand.New(rand.NewPCG(61, 61))
		x := layertest.Input(g, tensor.Float64, rng, "x", 3, 7)
		y, err := FusedGELU(x)
		if err != nil {
			return nil, nil, err
		}
		loss, err := MSE(y, layertest.Input(g, tensor.Float64, rng, "target", 3, 7))
		return loss, G.Nodes{x}, err
	})
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		g := G.NewGraph()
		x := layertest.Input(g, dt, rand.New(rand.NewPCG(62, 62)), "x", 4, 5)
		y, err := FusedGELU(x)
		if err != nil {
			t.Fatal(err)
		}
		vm := G.NewTapeMachine(g)
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		xv, _ := Floats64(x.Value())
		yv, _ := Floats64(y.Value())
		for i := range xv {
			if e := math.Abs(yv[i] - geluRef(xv[i])); e > 1e-6 {
				t.Errorf("%v: FusedGELU(%g) = %g, want %g", dt, xv[i], yv[i], geluRef(xv[i]))
			}
		}
		vm.Close()
	}
	if _, err := FusedGELU(G.NewMatrix(G.NewGraph(), tensor.Int, G.WithShape(2, 2), G.WithName("i"))); err == nil {
		t.Error("FusedGELU of an int matrix: no error")
	}
}
