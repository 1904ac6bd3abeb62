package conv

import (
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/layers"
)

// TestRebuildLeavesBoundedConvAlone: building another graph of a bounded
// convolution (an inference graph after training) neither rescales its
// trained weights nor draws from the model's random source.
func TestRebuildLeavesBoundedConvAlone(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	s := layers.NewScope(G.NewGraph(), tensor.Float64, rng)
	c := NewConv2D(s, "c", cvH, cvW, 2, cvC, 3, layers.Tanh, ConvBound(0.5))
	if s.Err() != nil {
		t.Fatal(s.Err())
	}
	w := c.W.Value().Data().([]float64)
	for i := range w { // a training step moved W past its bound
		w[i] *= 3
	}
	want := append([]float64(nil), w...)
	control := rand.New(rand.NewPCG(8, 9))
	NewConv2D(layers.NewScope(G.NewGraph(), tensor.Float64, control), "c", cvH, cvW, 2, cvC, 3, layers.Tanh, ConvBound(0.5))

	r := s.Rebind(G.NewGraph())
	c2 := NewConv2D(r, "c", cvH, cvW, 2, cvC, 3, layers.Tanh, ConvBound(0.5))
	if r.Err() != nil {
		t.Fatal(r.Err())
	}
	for i, v := range c2.W.Value().Data().([]float64) {
		if v != want[i] {
			t.Fatalf("rebuilding changed W[%d]: %v → %v", i, want[i], v)
		}
	}
	if rng.Uint64() != control.Uint64() {
		t.Errorf("rebuilding drew from the model's random source")
	}
}
