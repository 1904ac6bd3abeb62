package train

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	G "gorgonia.org/gorgonia"

	"github.com/implicit-ml/implicit/deq"
)

// Metric scores a model's output sample by sample; the reported value is
// the mean over the test set (with its standard deviation).
type Metric struct {
	Name           string
	HigherIsBetter bool
	// Sample scores one sample's output against its target.
	Sample func(out, target []float32) float64
	// Reduce, when set, maps the mean of the sample scores to the
	// reported value (for instance a square root, for an RMS error from
	// squared errors); Std stays that of the sample scores.
	Reduce func(mean float64) float64
}

// RMSError scores samples by their squared error and reports the root of
// its mean (lower is better).
func RMSError() Metric {
	return Metric{Name: "RMS error", Sample: func(out, target []float32) float64 {
		var s float64
		for i := range out {
			d := float64(out[i]) - float64(target[i])
			s += d * d
		}
		return s / float64(len(out))
	}, Reduce: math.Sqrt}
}

// Accuracy scores 1 when the output's largest entry is at the target's
// (one-hot) largest entry, else 0.
func Accuracy() Metric {
	return Metric{Name: "accuracy", HigherIsBetter: true, Sample: func(out, target []float32) float64 {
		if argmax(out) == argmax(target) {
			return 1
		}
		return 0
	}}
}

// RelativeL2 scores ‖out − target‖ / ‖target‖ (lower is better).
func RelativeL2() Metric {
	return Metric{Name: "relative L2 error", Sample: func(out, target []float32) float64 {
		var d, n float64
		for i := range out {
			e := float64(out[i]) - float64(target[i])
			d += e * e
			n += float64(target[i]) * float64(target[i])
		}
		if n == 0 {
			return math.Sqrt(d)
		}
		return math.Sqrt(d / n)
	}}
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// Eval is a metric's mean and spread over a dataset.
type Eval struct {
	Mean, Std float64
	N         int
	// SamplesPerSecond is the inference throughput of the evaluation.
	SamplesPerSecond float64
}

// Evaluator runs a model's inference graph: built for its own batch size,
// without a backward pass, sharing the trained parameters.
type Evaluator struct {
	model Model
	r     *runner
	batch int
	out   []float32
}

// NewEvaluator builds and compiles model's inference graph for batches of
// the given size (zero means 500).
func NewEvaluator(model Model, batch int) (*Evaluator, error) {
	if batch == 0 {
		batch = 500
	}
	if batch < 0 {
		return nil, fmt.Errorf("train: evaluation batch %d must be positive", batch)
	}
	net, err := model.Build(G.NewGraph(), batch, false)
	if err != nil {
		return nil, fmt.Errorf("train: building the inference graph of %s: %w", model.Name(), err)
	}
	r, err := compile(net, false)
	if err != nil {
		return nil, err
	}
	return &Evaluator{model: model, r: r, batch: batch}, nil
}

// Close releases the machine.
func (e *Evaluator) Close() error { return e.r.vm.Close() }

// Net returns the inference graph's model.
func (e *Evaluator) Net() *Net { return e.r.net }

// SetContext bounds the evaluations that follow by ctx: a cancellation
// stops an implicit layer's solve within an iteration (nil removes it).
func (e *Evaluator) SetContext(ctx context.Context) {
	if f := e.r.net.SetContext; f != nil {
		f(ctx)
	}
}

// SetIterations fixes the test-time iteration count (0: solve); it is a
// no-op for models without implicit layers.
func (e *Evaluator) SetIterations(t int) {
	if e.r.net.SetIterations != nil {
		e.r.net.SetIterations(t)
	}
}

// Evaluate scores the model on every sample of ds; the last partial batch
// is padded and its padding ignored, so no sample is dropped.
func (e *Evaluator) Evaluate(ds Dataset, m Metric) (Eval, error) {
	n := ds.Len()
	if n == 0 {
		return Eval{}, fmt.Errorf("train: evaluating on an empty dataset")
	}
	if m.Sample == nil {
		return Eval{}, fmt.Errorf("train: metric %q has no Sample function", m.Name)
	}
	per := product(ds.TargetShape())
	target := make([]float32, per)
	x := make([]float32, product(ds.InputShape()))
	var sum, sum2 float64
	t0 := time.Now()
	idx := make([]int, 0, e.batch)
	for lo := 0; lo < n; lo += e.batch {
		idx = idx[:0]
		for i := lo; i < min(lo+e.batch, n); i++ {
			idx = append(idx, i)
		}
		if err := e.r.fill(ds, idx); err != nil {
			return Eval{}, err
		}
		if err := e.r.run(); err != nil {
			e.r.reset()
			return Eval{}, fmt.Errorf("train: evaluating %s: %w", e.model.Name(), err)
		}
		out, err := e.r.outputs(e.out, len(idx))
		e.r.reset()
		if err != nil {
			return Eval{}, err
		}
		e.out = out
		if len(out) != len(idx)*per {
			return Eval{}, fmt.Errorf("train: %s outputs %d values per sample, targets have %d", e.model.Name(), len(out)/len(idx), per)
		}
		for k, i := range idx {
			ds.Sample(i, x, target)
			s := m.Sample(out[k*per:(k+1)*per], target)
			sum += s
			sum2 += s * s
		}
	}
	mean := sum / float64(n)
	ev := Eval{
		Mean: mean, Std: math.Sqrt(math.Max(sum2/float64(n)-mean*mean, 0)), N: n,
		SamplesPerSecond: float64(n) / time.Since(t0).Seconds(),
	}
	if m.Reduce != nil {
		ev.Mean = m.Reduce(mean)
	}
	return ev, nil
}

// Predict runs the model on n flat input rows and returns n flat output
// rows, in batches of the evaluator's size.
func (e *Evaluator) Predict(x []float64, n int) ([]float64, error) {
	if n <= 0 || len(x)%n != 0 {
		return nil, fmt.Errorf("train: Predict got %d values for %d samples", len(x), n)
	}
	in := len(x) / n
	var out []float64
	for lo := 0; lo < n; lo += e.batch {
		k := min(e.batch, n-lo)
		if err := e.setInputs(x[lo*in:(lo+k)*in], k); err != nil {
			return nil, err
		}
		if err := e.r.run(); err != nil {
			e.r.reset()
			return nil, fmt.Errorf("train: predicting with %s: %w", e.model.Name(), err)
		}
		v := e.r.net.Out.Value()
		per := v.Shape().TotalSize() / e.batch
		switch d := v.Data().(type) {
		case []float64:
			out = append(out, d[:k*per]...)
		case []float32:
			for _, y := range d[:k*per] {
				out = append(out, float64(y))
			}
		}
		e.r.reset()
	}
	return out, nil
}

// Predict32 is Predict for float32 inputs and outputs, without the
// conversions: what a float32 model serving float32 data should call.
func (e *Evaluator) Predict32(x []float32, n int) ([]float32, error) {
	if n <= 0 || len(x)%n != 0 {
		return nil, fmt.Errorf("train: Predict32 got %d values for %d samples", len(x), n)
	}
	in := len(x) / n
	per := e.r.in.x.Shape().TotalSize() / e.batch
	if in != per {
		return nil, fmt.Errorf("train: inputs have %d values per sample, the model takes %d", in, per)
	}
	var out []float32
	for lo := 0; lo < n; lo += e.batch {
		k := min(e.batch, n-lo)
		switch d := e.r.in.x.Data().(type) {
		case []float32:
			copy(d, x[lo*in:(lo+k)*in])
			clear(d[k*in:])
		case []float64:
			for i, v := range x[lo*in : (lo+k)*in] {
				d[i] = float64(v)
			}
			clear(d[k*in:])
		}
		if err := e.r.run(); err != nil {
			e.r.reset()
			return nil, fmt.Errorf("train: predicting with %s: %w", e.model.Name(), err)
		}
		var err error
		if e.out, err = e.r.outputs(e.out, k); err != nil {
			e.r.reset()
			return nil, err
		}
		out = append(out, e.out...)
		e.r.reset()
	}
	return out, nil
}

// setInputs writes float64 rows into X without a float32 round trip, so
// float64 models see perturbations exactly.
func (e *Evaluator) setInputs(x []float64, k int) error {
	t := e.r.in.x
	per := t.Shape().TotalSize() / e.batch
	if len(x) != k*per {
		return fmt.Errorf("train: inputs have %d values per sample, the model takes %d", len(x)/k, per)
	}
	switch d := t.Data().(type) {
	case []float64:
		copy(d, x)
		clear(d[len(x):])
	case []float32:
		for i, v := range x {
			d[i] = float32(v)
		}
		clear(d[len(x):])
	}
	return nil
}

// Probe is a set of inputs and perturbations for the empirical Lipschitz
// constant: L = max over samples and perturbations of
// ‖y(x+δ) − y(x)‖ / ‖δ‖.
type Probe struct {
	// X holds N flat input rows.
	X []float64
	N int
	// Deltas are perturbations of all N rows at once (N rows each).
	Deltas [][]float64
	// Mean makes curves report the mean ratio over samples and
	// perturbations instead of the largest.
	Mean bool
}

// RandomProbe draws n samples of ds (the first n) and dirs random Gaussian
// directions per sample, each scaled to norm eps (zero means 1e-2).
func RandomProbe(ds Dataset, n, dirs int, eps float64, seed uint64) Probe {
	if eps == 0 {
		eps = 1e-2
	}
	n = min(n, ds.Len())
	in := product(ds.InputShape())
	x := make([]float32, in)
	y := make([]float32, product(ds.TargetShape()))
	p := Probe{X: make([]float64, 0, n*in), N: n}
	for i := 0; i < n; i++ {
		ds.Sample(i, x, y)
		for _, v := range x {
			p.X = append(p.X, float64(v))
		}
	}
	rng := rand.New(rand.NewPCG(seed, probeStream))
	for k := 0; k < dirs; k++ {
		d := make([]float64, n*in)
		for i := 0; i < n; i++ {
			row := d[i*in : (i+1)*in]
			s := 0.0
			for j := range row {
				row[j] = rng.NormFloat64()
				s += row[j] * row[j]
			}
			for j := range row {
				row[j] *= eps / math.Sqrt(s)
			}
		}
		p.Deltas = append(p.Deltas, d)
	}
	return p
}

// Lipschitz estimates the empirical Lipschitz constant of the model's map
// at the probe (with the current iteration setting).
func (e *Evaluator) Lipschitz(p Probe) (deq.LipschitzEstimate, error) {
	if p.N == 0 || len(p.X)%p.N != 0 {
		return deq.LipschitzEstimate{}, fmt.Errorf("train: empty or ragged Lipschitz probe")
	}
	in := len(p.X) / p.N
	y0, err := e.Predict(p.X, p.N)
	if err != nil {
		return deq.LipschitzEstimate{}, err
	}
	outDim := len(y0) / p.N
	return deq.Lipschitz(func(out, x []float64) error {
		y, err := e.Predict(x, p.N)
		if err != nil {
			return err
		}
		copy(out, y)
		return nil
	}, p.X, p.N, in, outDim, p.Deltas)
}

// Curve evaluates the metric and L_t at each test-time iteration count t
// (from z₀ = 0), then restores the solve setting.
func (e *Evaluator) Curve(ds Dataset, m Metric, ts []int, p Probe) ([]CurvePoint, error) {
	defer e.SetIterations(0)
	var curve []CurvePoint
	for _, t := range ts {
		if t < 1 {
			return nil, fmt.Errorf("train: iteration count %d must be ≥ 1", t)
		}
		e.SetIterations(t)
		ev, err := e.Evaluate(ds, m)
		if err != nil {
			return nil, err
		}
		pt := CurvePoint{T: t, Metric: ev.Mean, MetricStd: ev.Std}
		if p.N > 0 {
			l, err := e.Lipschitz(p)
			if err != nil {
				return nil, err
			}
			pt.Lipschitz = l.Max
			if p.Mean {
				pt.Lipschitz = l.Mean
			}
		}
		curve = append(curve, pt)
	}
	return curve, nil
}

// CurvePoint is the test metric and empirical Lipschitz constant L_t of
// the model's output after t iterations from z₀ = 0.
type CurvePoint struct {
	T         int     `json:"t"`
	Metric    float64 `json:"metric"`
	Lipschitz float64 `json:"lipschitz"`
	// MetricStd is the standard deviation of the per-sample metric, when
	// the metric is a mean over samples.
	MetricStd float64 `json:"metric_std,omitempty"`
	// MetricSeedStd and LipschitzSeedStd are the standard deviations over
	// seeds, in a report that combines several seeds' runs (Metric and
	// Lipschitz are then the means).
	MetricSeedStd    float64 `json:"metric_seed_std,omitempty"`
	LipschitzSeedStd float64 `json:"lipschitz_seed_std,omitempty"`
}

// IterationCounts returns 1, 2, …, dense up to 10, then roughly
// geometric steps up to max (inclusive).
func IterationCounts(maxT int) []int {
	var ts []int
	for t := 1; t <= maxT; {
		ts = append(ts, t)
		switch {
		case t < 10:
			t++
		default:
			t = int(math.Ceil(float64(t) * 1.25))
		}
	}
	if len(ts) > 0 && ts[len(ts)-1] != maxT {
		ts = append(ts, maxT)
	}
	return ts
}

// probeStream is the second word of the PCG seed of RandomProbe's samples
// and directions.
const probeStream = 0x51e7
