package layers

import (
	"math/rand/v2"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/layertest"
)

func TestDenseGradients(t *testing.T) {
	for _, act := range []Activation{Identity, Tanh, ReLU, Sigmoid, Softplus, GELU} {
		t.Run(act.String(), func(t *testing.T) {
			layertest.CheckGrads(t, 1e-6, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
				rng := rand.New(rand.NewPCG(1, uint64(act)))
				s := NewScope(g, tensor.Float64, rng)
				x := layertest.Input(g, tensor.Float64, rng, "x", 5, 4)
				d := s.Dense("d", 4, 3, act, WithInit(GlorotUniform(2)))
				// A non-zero bias keeps ReLU's kinks away from the data.
				copy(d.B.Value().Data().([]float64), []float64{0.3, -0.2, 0.1})
				y, err := d.Fwd(x)
				if err != nil {
					return nil, nil, err
				}
				target := layertest.Input(g, tensor.Float64, rng, "target", 5, 3)
				loss, err := MSE(y, target)
				return loss, G.Nodes{x, d.W, d.B}, err
			})
		})
	}
}

func TestSoftmaxCrossEntropyGradientsAndMask(t *testing.T) {
	layertest.CheckGrads(t, 1e-6, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
		rng := rand.New(rand.NewPCG(2, 2))
		s := NewScope(g, tensor.Float64, rng)
		x := layertest.Input(g, tensor.Float64, rng, "x", 6, 4)
		d := s.Dense("d", 4, 5, Identity)
		y, err := d.Fwd(x)
		if err != nil {
			return nil, nil, err
		}
		loss, err := SoftmaxCrossEntropy(y, layertest.OneHot(g, tensor.Float64, rng, 6, 5, 4, 5))
		return loss, G.Nodes{x, d.W, d.B}, err
	})
	// Padding rows change neither the loss nor the other rows' gradients.
	g := G.NewGraph()
	rng := rand.New(rand.NewPCG(3, 3))
	logits := layertest.Input(g, tensor.Float64, rng, "logits", 3, 4)
	tg := G.NewTensor(g, tensor.Float64, 2, G.WithShape(3, 4), G.WithName("t"), G.WithValue(tensor.New(tensor.WithShape(3, 4), tensor.WithBacking([]float64{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0}))))
	loss, err := SoftmaxCrossEntropy(logits, tg)
	if err != nil {
		t.Fatal(err)
	}
	grads, err := G.Grad(loss, logits)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	gr := grads[0].Value().Data().([]float64)
	for j := 4; j < 8; j++ {
		if gr[j] != 0 {
			t.Fatalf("padding row has gradient %v", gr[4:8])
		}
	}
	x := logits.Value().Data().([]float64)
	want := (logSumExp(x[0:4]) - x[0] + logSumExp(x[8:12]) - x[10]) / 2
	if got := loss.Value().Data().(float64); got-want > 1e-12 || want-got > 1e-12 {
		t.Fatalf("loss %v, want %v (mean over the two real rows)", got, want)
	}
}

func TestDenseRejectsBadInput(t *testing.T) {
	g := G.NewGraph()
	rng := rand.New(rand.NewPCG(4, 4))
	s := NewScope(g, tensor.Float64, rng)
	d := s.Dense("d", 4, 3, Tanh)
	if _, err := d.Fwd(layertest.Input(g, tensor.Float64, rng, "x", 2, 5)); err == nil || !strings.Contains(err.Error(), "want (B, 4)") {
		t.Errorf("wrong input width: %v", err)
	}
	bad := s.Dense("bad", 0, 3, Tanh)
	if _, err := bad.Fwd(layertest.Input(g, tensor.Float64, rng, "x2", 2, 4)); err == nil {
		t.Error("zero-width layer built without error")
	}
	if s.Err() == nil {
		t.Error("scope did not record the construction error")
	}
	s2 := NewScope(g, tensor.Float64, rng)
	s2.Dense("same", 2, 2, Tanh)
	s2.Dense("same", 2, 2, Tanh)
	if s2.Err() == nil || !strings.Contains(s2.Err().Error(), "used twice") {
		t.Errorf("duplicate names: %v", s2.Err())
	}
	if NewScope(g, tensor.Int, rng).Err() == nil || NewScope(g, tensor.Float64, nil).Err() == nil {
		t.Error("bad dtype or nil rng accepted")
	}
}

func TestElGhaouiProjection(t *testing.T) {
	g := G.NewGraph()
	rng := rand.New(rand.NewPCG(12, 12))
	s := NewScope(g, tensor.Float64, rng)
	c := s.ElGhaouiCell("eg", 16, ReLU, 0.9)
	w := c.W.Value().Data().([]float64)
	for i := range w {
		w[i] *= 10 // leave the feasible set, as an optimizer step might
	}
	if err := c.Project(); err != nil {
		t.Fatal(err)
	}
	// ‖W‖₁ (largest column sum) is ‖A‖∞ of A = Wᵀ.
	at := make([]float64, 16*16)
	for r := 0; r < 16; r++ {
		for col := 0; col < 16; col++ {
			at[col*16+r] = w[r*16+col]
		}
	}
	if n := deqInfNorm(at, 16); n > 0.9+1e-12 {
		t.Fatalf("‖A‖∞ = %v after projection, want ≤ 0.9", n)
	}
	if s.ElGhaouiCell("bad", 4, ReLU, 1.5); s.Err() == nil {
		t.Error("kappa ≥ 1 accepted")
	}
}

func deqInfNorm(a []float64, n int) float64 {
	m := 0.0
	for r := 0; r < n; r++ {
		sum := 0.0
		for _, v := range a[r*n : (r+1)*n] {
			if v < 0 {
				v = -v
			}
			sum += v
		}
		if sum > m {
			m = sum
		}
	}
	return m
}

func TestSpectralBound(t *testing.T) {
	g := G.NewGraph()
	rng := rand.New(rand.NewPCG(13, 13))
	s := NewScope(g, tensor.Float64, rng)
	d := s.Dense("d", 8, 5, Tanh, WithInit(GlorotUniform(5)), SpectralBound(0.7))
	w := d.W.Value().Data().([]float64)
	n, _ := deq.SpectralNorm(w, 8, 5, 500, rng)
	if n > 0.7*(1+1e-6) {
		t.Fatalf("‖W‖₂ = %v after construction, bound 0.7", n)
	}
	for i := range w { // an optimizer step that leaves the set
		w[i] *= 3
	}
	for i := 0; i < 5; i++ {
		if err := s.Project(); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := deq.SpectralNorm(w, 8, 5, 500, rng); n > 0.7*(1+1e-3) {
		t.Fatalf("‖W‖₂ = %v after projection, bound 0.7", n)
	}
	if s.Dense("bad", 2, 2, Tanh, SpectralBound(-1)); s.Err() == nil {
		t.Error("negative bound accepted")
	}
}

func TestMaskedMSE(t *testing.T) {
	layertest.CheckGrads(t, 1e-6, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
		rng := rand.New(rand.NewPCG(14, 14))
		s := NewScope(g, tensor.Float64, rng)
		x := layertest.Input(g, tensor.Float64, rng, "x", 5, 3)
		d := s.Dense("d", 3, 2, Tanh)
		y, err := d.Fwd(x)
		if err != nil {
			return nil, nil, err
		}
		mask := G.NewMatrix(g, tensor.Float64, G.WithShape(5, 1), G.WithName("mask"), G.WithValue(tensor.New(tensor.WithShape(5, 1), tensor.WithBacking([]float64{1, 1, 0, 1, 0}))))
		loss, err := MaskedMSE(y, layertest.Input(g, tensor.Float64, rng, "target", 5, 2), mask)
		return loss, G.Nodes{x, d.W, d.B}, err
	})
	// Masked rows change nothing; the value is the mean over real rows.
	g := G.NewGraph()
	p := G.NewMatrix(g, tensor.Float64, G.WithShape(3, 1), G.WithName("p"), G.WithValue(tensor.New(tensor.WithShape(3, 1), tensor.WithBacking([]float64{1, 2, 100}))))
	q := G.NewMatrix(g, tensor.Float64, G.WithShape(3, 1), G.WithName("q"), G.WithValue(tensor.New(tensor.WithShape(3, 1), tensor.WithBacking([]float64{0, 0, 0}))))
	m := G.NewMatrix(g, tensor.Float64, G.WithShape(3, 1), G.WithName("m"), G.WithValue(tensor.New(tensor.WithShape(3, 1), tensor.WithBacking([]float64{1, 1, 0}))))
	loss, err := MaskedMSE(p, q, m)
	if err != nil {
		t.Fatal(err)
	}
	if err := G.NewTapeMachine(g).RunAll(); err != nil {
		t.Fatal(err)
	}
	if v, _ := Scalar(loss); v != 2.5 {
		t.Fatalf("masked MSE %v, want 2.5", v)
	}
}
