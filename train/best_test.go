package train

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
)

// paramsOf copies a linear model's parameters.
func paramsOf(m *linearModel) []float64 {
	return append(slices.Clone(m.w.Data().([]float64)), m.b.Data().([]float64)...)
}

// initialised returns a linear model whose parameters exist before Fit.
func initialised(t *testing.T, seed uint64) *linearModel {
	t.Helper()
	m := newLinear(seed)
	if _, err := m.Build(G.NewGraph(), 1, false); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestBestLossKeepsTheBestStep trains full-batch at a rate that makes
// the loss oscillate and checks that the run ends with the parameters of
// its lowest loss: those the step with that loss started from.
func TestBestLossKeepsTheBestStep(t *testing.T) {
	data := newBlobs(60, 5, 3, 11)
	m := initialised(t, 11)
	before := [][]float64{paramsOf(m)} // before[k]: the parameters step k+1 starts from
	var losses []float64
	record := Hook{Name: "record", Step: func(s *State) error {
		losses = append(losses, s.Loss)
		before = append(before, paramsOf(m))
		return nil
	}}
	res, err := Fit(context.Background(), m, data, Config{Epochs: 40, BatchSize: 60, Optimizer: OptimizerConfig{LR: 0.8},
		Hooks: []Hook{record}, Best: Best{By: BestLoss}})
	if err != nil {
		t.Fatal(err)
	}
	k := 0
	for i, l := range losses {
		if l < losses[k] {
			k = i
		}
	}
	if k == len(losses)-1 {
		t.Fatalf("the loss fell monotonically (%v): the test needs a run whose last step is not its best", losses)
	}
	if !res.BestKept || res.BestScore != losses[k] {
		t.Errorf("best score %v (kept %v), want the lowest loss %v", res.BestScore, res.BestKept, losses[k])
	}
	if got := paramsOf(m); !slices.Equal(got, before[k]) {
		t.Errorf("the run ended with other parameters than those of its best step %d:\n%v\n%v", k+1, got, before[k])
	}
}

// TestSpikeRestoresTheBest counts every rise of the loss as a spike: the
// best parameters come back, so the next step's loss is the best loss
// (to rounding: each epoch sums the full batch in another order), and
// the rate decays by SpikeDecay at each spike.
func TestSpikeRestoresTheBest(t *testing.T) {
	data := newBlobs(60, 5, 3, 12)
	var losses, rates []float64
	record := Hook{Name: "record", Step: func(s *State) error {
		losses, rates = append(losses, s.Loss), append(rates, s.LR)
		return nil
	}}
	best := Best{By: BestLoss, SpikeFactor: 1.000001, SpikeDecay: 0.5}
	res, err := Fit(context.Background(), newLinear(12), data, Config{Epochs: 30, BatchSize: 60, Optimizer: OptimizerConfig{LR: 0.8},
		Hooks: []Hook{record}, Best: best})
	if err != nil {
		t.Fatal(err)
	}
	if res.Spikes == 0 {
		t.Fatalf("no spike in %v", losses)
	}
	low, spikes := losses[0], 0
	for i := 1; i < len(losses); i++ {
		if losses[i] > best.SpikeFactor*low {
			spikes++
			if i+1 < len(losses) && math.Abs(losses[i+1]-low) > 1e-12*low {
				t.Errorf("step %d spiked (%v > best %v) but step %d started elsewhere (loss %v)", i+1, losses[i], low, i+2, losses[i+1])
			}
			if i+1 < len(rates) && rates[i+1] != rates[i]*0.5 {
				t.Errorf("after the spike at step %d the rate is %v, want %v", i+1, rates[i+1], rates[i]*0.5)
			}
		}
		low = min(low, losses[i])
	}
	if spikes != res.Spikes {
		t.Errorf("Fitted.Spikes = %d, the losses show %d", res.Spikes, spikes)
	}
}

// TestBestMetricKeepsTheBestEpoch scores epochs by a metric that peaks
// at the second epoch: the run ends with that epoch's parameters.
func TestBestMetricKeepsTheBestEpoch(t *testing.T) {
	data := newBlobs(64, 5, 3, 13)
	m := newLinear(13)
	scores := []float64{0.3, 0.9, 0.5, 0.7}
	var atEpoch [][]float64
	metric := Hook{Name: "scripted", Epoch: func(s *State) error {
		v := scores[len(atEpoch)]
		s.EpochMetric = &v
		atEpoch = append(atEpoch, paramsOf(m))
		return nil
	}}
	res, err := Fit(context.Background(), m, data, Config{Epochs: 4, BatchSize: 16, Optimizer: OptimizerConfig{LR: 0.05},
		Hooks: []Hook{metric}, Best: Best{By: BestMetric, HigherIsBetter: true}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.BestKept || res.BestScore != 0.9 {
		t.Errorf("best score %v, want 0.9", res.BestScore)
	}
	if got := paramsOf(m); !slices.Equal(got, atEpoch[1]) {
		t.Errorf("the run ended with other parameters than those of epoch 2")
	}
}

// TestBestSurvivesResume interrupts a run with spikes and resumes it:
// the best parameters, their score and the decayed rate come back from
// the checkpoint, so the run ends exactly as an uninterrupted one.
func TestBestSurvivesResume(t *testing.T) {
	data := newBlobs(60, 5, 3, 14)
	cfg := Config{Epochs: 30, BatchSize: 60, Optimizer: OptimizerConfig{LR: 0.8}, CheckpointEvery: 1,
		Best: Best{By: BestLoss, SpikeFactor: 1.000001, SpikeDecay: 0.5}}
	full := newLinear(14)
	want, err := Fit(context.Background(), full, data, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := cfg
	c.Checkpoint = filepath.Join(t.TempDir(), "linear.ckpt")
	c.Hooks = []Hook{{Name: "kill", Step: func(s *State) error {
		if s.Step == 17 {
			cancel()
		}
		return nil
	}}}
	if _, err := Fit(ctx, newLinear(14), data, c); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	c.Hooks, c.Resume = nil, true
	resumed := newLinear(14)
	got, err := Fit(context.Background(), resumed, data, c)
	if err != nil {
		t.Fatal(err)
	}
	if got.BestScore != want.BestScore || got.Spikes != want.Spikes || !slices.Equal(paramsOf(resumed), paramsOf(full)) {
		t.Errorf("resumed: best %v, %d spikes; uninterrupted: best %v, %d spikes (parameters equal: %v)",
			got.BestScore, got.Spikes, want.BestScore, want.Spikes, slices.Equal(paramsOf(resumed), paramsOf(full)))
	}
}

func TestBestSettingsAreChecked(t *testing.T) {
	data := newBlobs(16, 5, 3, 1)
	for _, b := range []Best{
		{By: BestMetric, SpikeFactor: 5, SpikeDecay: 0.99},
		{By: BestLoss, SpikeFactor: 5},
		{By: BestLoss, SpikeFactor: 5, SpikeDecay: 1.5},
		{By: BestLoss, SpikeFactor: -1},
		{By: 7},
	} {
		_, err := Fit(context.Background(), newLinear(1), data, Config{Best: b})
		if err == nil || !strings.Contains(err.Error(), "Best") {
			t.Errorf("%+v: got %v, want an error naming Best", b, err)
		}
	}
}
