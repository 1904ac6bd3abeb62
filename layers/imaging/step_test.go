package imaging

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/layers/conv"
)

// TestInitialStep: the cells start at the paper's steps by default and at
// InitialStep's γ when given one (PGD's γ, HQS's β = 1/γ), and refuse a
// step that is not positive and finite, or above 2 for PGD.
func TestInitialStep(t *testing.T) {
	a, err := NewBlur("shake", 12, 12)
	if err != nil {
		t.Fatal(err)
	}
	build := func(op string, opts ...CellOpt) (gamma, beta float64, err error) {
		s := layers.NewScope(G.NewGraph(), tensor.Float64, rand.New(rand.NewPCG(1, 2)))
		d := conv.NewResCNN(s, op+".D", 12, 12, 2, 2, layers.ReLU)
		if op == "hqs" {
			c := NewHQSCell(s, op, a, d, opts...)
			return math.NaN(), c.Beta(), c.Err()
		}
		c := NewPGDCell(s, op, a, d, opts...)
		if c.Err() != nil {
			return math.NaN(), math.NaN(), c.Err()
		}
		return c.Gamma.Value().Data().([]float64)[0], math.NaN(), nil
	}
	near := func(got, want float64) bool { return math.Abs(got-want) <= 1e-12*want }

	if g, _, err := build("pgd"); err != nil || g != DefaultPGDStep || DefaultPGDStep != 1 {
		t.Errorf("PGD's default γ = %v (%v), want the paper's 1", g, err)
	}
	if _, b, err := build("hqs"); err != nil || !near(b, DefaultHQSBeta) || DefaultHQSStep != 4 {
		t.Errorf("HQS's default β = %v (%v), want the paper's 1/4 (step 4)", b, err)
	}
	if g, _, err := build("pgd", InitialStep(0.125)); err != nil || g != 0.125 {
		t.Errorf("PGD with InitialStep(1/8): γ = %v (%v)", g, err)
	}
	if _, b, err := build("hqs", InitialStep(0.125)); err != nil || !near(b, 8) {
		t.Errorf("HQS with InitialStep(1/8): β = %v (%v), want 8", b, err)
	}
	if _, b, err := build("hqs", InitialStep(16)); err != nil || !near(b, 1.0/16) {
		t.Errorf("HQS with InitialStep(16): β = %v (%v), want 1/16", b, err)
	}
	for _, bad := range []float64{-1, math.NaN(), math.Inf(1), math.Inf(-1)} {
		for _, op := range []string{"pgd", "hqs"} {
			if _, _, err := build(op, InitialStep(bad)); err == nil {
				t.Errorf("%s accepted the initial step %v", op, bad)
			}
		}
	}
	if _, _, err := build("pgd", InitialStep(2.5)); err == nil {
		t.Error("PGD accepted the initial step 2.5 (its step is non-expansive only up to 2)")
	}
}
