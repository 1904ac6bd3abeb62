package train

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
)

// TestRestoreParams: a trained model's checkpoint restores into a fresh
// model of the same kind, whose predictions are then the trained ones; a
// model of other shapes is refused with an error naming the file.
func TestRestoreParams(t *testing.T) {
	data := newBlobs(64, 5, 3, 2)
	ckpt := filepath.Join(t.TempDir(), "linear.ckpt")
	trained := newLinear(1)
	if _, err := Fit(context.Background(), trained, data, Config{Epochs: 2, BatchSize: 16, Checkpoint: ckpt, Optimizer: OptimizerConfig{LR: 0.05}}); err != nil {
		t.Fatal(err)
	}
	c, err := LoadCheckpoint(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	fresh := newLinear(99) // other initial values
	net, err := fresh.Build(G.NewGraph(), 4, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.RestoreParams(ckpt, net.Params); err != nil {
		t.Fatal(err)
	}
	x := []float64{0.1, -0.2, 0.3, 0.5, -1, 1, 0, 0.25, -0.5, 0.75}
	predict := func(m Model) []float64 {
		ev, err := NewEvaluator(m, 2)
		if err != nil {
			t.Fatal(err)
		}
		defer ev.Close()
		y, err := ev.Predict(x, 2)
		if err != nil {
			t.Fatal(err)
		}
		return y
	}
	want, got := predict(trained), predict(fresh)
	for i := range want {
		if want[i] != got[i] {
			t.Fatalf("restored model predicts %v, the trained one %v", got, want)
		}
	}
	wide := &linearModel{in: 6, out: 3, dt: fresh.dt, seed: 1}
	wnet, err := wide.Build(G.NewGraph(), 4, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.RestoreParams(ckpt, wnet.Params); err == nil || !strings.Contains(err.Error(), ckpt) {
		t.Errorf("a model of other shapes: %v", err)
	}
}
