package attention

import (
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/layers"
)

// TestRebuildKeepsTrainedStateGain: the core cell rescales its state
// block to StateGain when it is created, never when another graph of a
// trained model is built (that rescaled the trained Wz back).
func TestRebuildKeepsTrainedStateGain(t *testing.T) {
	s := layers.NewScope(G.NewGraph(), tensor.Float64, rand.New(rand.NewPCG(61, 61)))
	c := NewCoreCell(s, "core", coreCfg())
	if s.Err() != nil {
		t.Fatal(s.Err())
	}
	wz := c.Wz.Value().Data().([]float64)
	for i := range wz { // training grew Wz
		wz[i] *= 2
	}
	want := append([]float64(nil), wz...)
	r := s.Rebind(G.NewGraph())
	c2 := NewCoreCell(r, "core", coreCfg())
	if r.Err() != nil {
		t.Fatal(r.Err())
	}
	for i, v := range c2.Wz.Value().Data().([]float64) {
		if v != want[i] {
			t.Fatalf("rebuilding changed Wz[%d]: %v → %v", i, want[i], v)
		}
	}
}
