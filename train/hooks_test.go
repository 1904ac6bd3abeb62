package train

import (
	"context"
	"testing"
)

func TestValidationAndEarlyStopping(t *testing.T) {
	data := newBlobs(64, 5, 3, 6)
	m := newLinear(6)
	ev, err := NewEvaluator(m, 32)
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Close()
	epochs := 0
	// A metric that never improves after the first epoch stops training
	// after patience epochs.
	never := Hook{Name: "constant", Epoch: func(s *State) error {
		epochs++
		v := 0.5
		s.EpochMetric = &v
		return nil
	}}
	res, err := Fit(context.Background(), m, data, Config{Epochs: 20, BatchSize: 16, Hooks: []Hook{never, EarlyStopping(2, true)}})
	if err != nil {
		t.Fatal(err)
	}
	if epochs != 3 || res.Epochs != 3 {
		t.Fatalf("ran %d epochs (fit says %d), want 3: the first sets the best, two more without improvement stop", epochs, res.Epochs)
	}
	var got []float64
	record := Hook{Name: "record", Epoch: func(s *State) error {
		got = append(got, *s.EpochMetric)
		return nil
	}}
	m2 := newLinear(7)
	ev2, err := NewEvaluator(m2, 32)
	if err != nil {
		t.Fatal(err)
	}
	defer ev2.Close()
	if _, err := Fit(context.Background(), m2, data, Config{Epochs: 2, BatchSize: 16, Optimizer: OptimizerConfig{LR: 0.05}, Hooks: []Hook{Validation(ev2, data, Accuracy()), record}}); err != nil {
		t.Fatal(err)
	}
	// The evaluator shares the trained parameters: its accuracy after
	// training is the last validation figure.
	final, err := ev2.Evaluate(data, Accuracy())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1] != final.Mean || final.Mean < 0.5 {
		t.Fatalf("validation metrics %v, final accuracy %v", got, final.Mean)
	}
}
