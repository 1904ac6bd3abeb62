package report

import (
	"encoding/json"

	"github.com/implicit-ml/implicit/train"
)

// Report is the comparison every experiment writes as report.json. The
// fields of the contract (experiment, dataset, seed, quick, metric, models
// and, per model, name, kind, params, train_seconds,
// train_samples_per_second, peak_heap_bytes, test_metric,
// forward_iterations_mean, backward_iterations_mean, curve) may gain
// siblings but are never renamed.
type Report struct {
	Experiment string        `json:"experiment"`
	Dataset    string        `json:"dataset"`
	Seed       uint64        `json:"seed"`
	Quick      bool          `json:"quick"`
	Metric     MetricInfo    `json:"metric"`
	Models     []ModelReport `json:"models"`

	// Command is the command line that produced the report.
	Command string `json:"command,omitempty"`
	// Created is the RFC 3339 time the report was written.
	Created string `json:"created,omitempty"`
	// Machine describes where it ran (CPU count, Go version, OS/arch).
	Machine string `json:"machine,omitempty"`
	// WallSeconds is the duration of the whole run.
	WallSeconds float64 `json:"wall_seconds,omitempty"`
	// Config holds the experiment's settings.
	Config map[string]any `json:"config,omitempty"`
	// Notes are remarks the experiment wants a reader to see.
	Notes []string `json:"notes,omitempty"`
	// Pairs name the comparisons the experiment is about, as
	// [challenger, baseline] model names (an implicit model and its
	// equal-parameter explicit one); a combined report judges each.
	Pairs [][2]string `json:"pairs,omitempty"`
	// Seeds lists the seeds of a report that combines several runs (see
	// Combine); each model's figures are then means over them.
	Seeds []uint64 `json:"seeds,omitempty"`
	// Comparisons judge each pair of a combined report.
	Comparisons []Comparison `json:"comparisons,omitempty"`
}

// Comparison is the verdict on a pair of models over seeds: the
// challenger's mean metric minus the baseline's, oriented so that a
// positive Difference is better, with the spread sqrt(s₁² + s₂²) of the
// two seed standard deviations. Verdict is "beats" or "trails" only when
// |Difference| exceeds Spread, and "matches" otherwise.
type Comparison struct {
	Challenger string  `json:"challenger"`
	Baseline   string  `json:"baseline"`
	Difference float64 `json:"difference"`
	Spread     float64 `json:"spread"`
	Verdict    string  `json:"verdict"`
}

// MetricInfo names the task metric.
type MetricInfo struct {
	Name           string `json:"name"`
	HigherIsBetter bool   `json:"higher_is_better"`
}

// ModelReport is one model's row of the comparison.
//
// PeakHeapBytes is the peak live Go heap while the model trained (marked
// by the collections during training and one at its end), above the heap
// in use before the model was built: the graph, parameters, optimizer
// state and buffers count; the datasets and earlier models do not.
type ModelReport struct {
	Name                  string  `json:"name"`
	Kind                  string  `json:"kind"`
	Params                int     `json:"params"`
	TrainSeconds          float64 `json:"train_seconds"`
	TrainSamplesPerSecond float64 `json:"train_samples_per_second"`
	PeakHeapBytes         uint64  `json:"peak_heap_bytes"`
	TestMetric            float64 `json:"test_metric"`
	// TestMetricStd is the standard deviation of the per-sample test
	// metric, when the metric is a mean over samples.
	TestMetricStd float64 `json:"test_metric_std,omitempty"`

	// ForwardIterationsMean and BackwardIterationsMean are the mean solver
	// iterations per training step (implicit models only).
	ForwardIterationsMean  float64 `json:"forward_iterations_mean,omitempty"`
	BackwardIterationsMean float64 `json:"backward_iterations_mean,omitempty"`
	// Curve is metric and empirical Lipschitz constant against the
	// test-time iteration count t (implicit models only).
	Curve []train.CurvePoint `json:"curve,omitempty"`

	// Lipschitz is the empirical Lipschitz constant of the trained map as
	// evaluated (at convergence for implicit models); explicit baselines
	// are drawn as horizontal lines at this value.
	Lipschitz float64 `json:"lipschitz,omitempty"`
	// Description says what the model is, in a few words.
	Description string `json:"description,omitempty"`
	// Epochs, Steps and FinalLoss describe the training run.
	Epochs    int     `json:"epochs,omitempty"`
	Steps     int     `json:"steps,omitempty"`
	FinalLoss float64 `json:"final_loss,omitempty"`
	// InferSamplesPerSecond is the evaluation throughput on the test set.
	InferSamplesPerSecond float64 `json:"infer_samples_per_second,omitempty"`
	// NotConvergedFraction is the fraction of training samples whose
	// forward solve did not meet its tolerance (implicit models only).
	NotConvergedFraction float64 `json:"not_converged_fraction,omitempty"`
	// Extra holds experiment-specific figures.
	Extra map[string]float64 `json:"extra,omitempty"`

	// In a report that combines several seeds' runs the figures above are
	// means over seeds; TestMetricSeedStd, LipschitzSeedStd and
	// ExtraSeedStd are their standard deviations over seeds, and Seeds
	// holds each run's own figures.
	TestMetricSeedStd float64            `json:"test_metric_seed_std,omitempty"`
	LipschitzSeedStd  float64            `json:"lipschitz_seed_std,omitempty"`
	ExtraSeedStd      map[string]float64 `json:"extra_seed_std,omitempty"`
	Seeds             []SeedRun          `json:"seeds,omitempty"`
}

// SeedRun is one seed's figures of a model in a combined report.
type SeedRun struct {
	Seed          uint64             `json:"seed"`
	TestMetric    float64            `json:"test_metric"`
	TestMetricStd float64            `json:"test_metric_std,omitempty"`
	Lipschitz     float64            `json:"lipschitz,omitempty"`
	FinalLoss     float64            `json:"final_loss,omitempty"`
	TrainSeconds  float64            `json:"train_seconds"`
	Curve         []train.CurvePoint `json:"curve,omitempty"`
	Extra         map[string]float64 `json:"extra,omitempty"`
}

// MarshalJSON writes the report's fields, with forward_iterations_mean and
// backward_iterations_mean always present for implicit models (the
// report.json contract), even when one is zero (a JFB backward makes no
// backward iterations; unrolled training no forward ones).
func (m ModelReport) MarshalJSON() ([]byte, error) {
	type plain ModelReport
	if m.Kind != train.KindImplicit {
		return json.Marshal(plain(m))
	}
	return json.Marshal(struct {
		plain
		Forward  float64 `json:"forward_iterations_mean"`
		Backward float64 `json:"backward_iterations_mean"`
	}{plain(m), m.ForwardIterationsMean, m.BackwardIterationsMean})
}
