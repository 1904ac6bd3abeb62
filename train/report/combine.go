package report

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/implicit-ml/implicit/train"
)

// Combine merges the reports of one experiment run with several seeds
// (same models, same curve points) into one: every model's figures are
// the means over seeds with their standard deviations, each seed's own
// figures are kept, and each of the experiment's pairs is judged
// (Comparison). It refuses reports of different experiments, models or
// curves.
func Combine(reps []*Report) (*Report, error) {
	if len(reps) == 0 {
		return nil, fmt.Errorf("report: Combine needs at least one report")
	}
	first := reps[0]
	out := *first
	out.Models = nil
	out.Notes = slices.Clone(first.Notes)
	out.Seeds = nil
	out.WallSeconds = 0
	for _, r := range reps {
		if r.Experiment != first.Experiment || len(r.Models) != len(first.Models) {
			return nil, fmt.Errorf("report: the runs to combine differ: %s with %d models and %s with %d", first.Experiment, len(first.Models), r.Experiment, len(r.Models))
		}
		out.Seeds = append(out.Seeds, r.Seed)
		out.WallSeconds += r.WallSeconds
		for _, n := range r.Notes {
			if !slices.Contains(out.Notes, n) { // a seed's own remark (a collapse)
				out.Notes = append(out.Notes, fmt.Sprintf("seed %d: %s", r.Seed, n))
			}
		}
	}
	for i := range first.Models {
		runs := make([]ModelReport, len(reps))
		for k, r := range reps {
			runs[k] = r.Models[i]
			if runs[k].Name != first.Models[i].Name {
				return nil, fmt.Errorf("report: model %d is %s in one run and %s in another", i, first.Models[i].Name, runs[k].Name)
			}
		}
		m, err := combineModel(runs, out.Seeds)
		if err != nil {
			return nil, err
		}
		out.Models = append(out.Models, m)
	}
	out.Comparisons = judge(&out)
	return &out, nil
}

// combineModel is one model's figures over seeds.
func combineModel(runs []ModelReport, seeds []uint64) (ModelReport, error) {
	m := runs[0]
	m.Curve, m.Extra, m.Seeds = nil, nil, nil
	pick := func(f func(ModelReport) float64) []float64 {
		v := make([]float64, len(runs))
		for k, r := range runs {
			v[k] = f(r)
		}
		return v
	}
	m.TestMetric, m.TestMetricSeedStd = meanStd(pick(func(r ModelReport) float64 { return r.TestMetric }))
	m.TestMetricStd, _ = meanStd(pick(func(r ModelReport) float64 { return r.TestMetricStd }))
	m.Lipschitz, m.LipschitzSeedStd = meanStd(pick(func(r ModelReport) float64 { return r.Lipschitz }))
	m.TrainSeconds, _ = meanStd(pick(func(r ModelReport) float64 { return r.TrainSeconds }))
	m.TrainSamplesPerSecond, _ = meanStd(pick(func(r ModelReport) float64 { return r.TrainSamplesPerSecond }))
	m.InferSamplesPerSecond, _ = meanStd(pick(func(r ModelReport) float64 { return r.InferSamplesPerSecond }))
	m.ForwardIterationsMean, _ = meanStd(pick(func(r ModelReport) float64 { return r.ForwardIterationsMean }))
	m.BackwardIterationsMean, _ = meanStd(pick(func(r ModelReport) float64 { return r.BackwardIterationsMean }))
	m.NotConvergedFraction, _ = meanStd(pick(func(r ModelReport) float64 { return r.NotConvergedFraction }))
	m.FinalLoss, _ = meanStd(pick(func(r ModelReport) float64 { return r.FinalLoss }))
	for _, r := range runs {
		m.PeakHeapBytes = max(m.PeakHeapBytes, r.PeakHeapBytes)
	}
	var err error
	if m.Curve, err = combineCurves(runs); err != nil {
		return m, fmt.Errorf("report: %s: %w", m.Name, err)
	}
	m.Extra, m.ExtraSeedStd = combineExtras(runs)
	for k, r := range runs {
		m.Seeds = append(m.Seeds, SeedRun{Seed: seeds[k], TestMetric: r.TestMetric, TestMetricStd: r.TestMetricStd, Lipschitz: r.Lipschitz,
			FinalLoss: r.FinalLoss, TrainSeconds: r.TrainSeconds, Curve: r.Curve, Extra: r.Extra})
	}
	return m, nil
}

func combineCurves(runs []ModelReport) ([]train.CurvePoint, error) {
	n := len(runs[0].Curve)
	for _, r := range runs {
		if len(r.Curve) != n {
			return nil, fmt.Errorf("curves of %d and %d points", n, len(r.Curve))
		}
	}
	out := make([]train.CurvePoint, n)
	for j := range out {
		ms, ls, ss := make([]float64, len(runs)), make([]float64, len(runs)), make([]float64, len(runs))
		for k, r := range runs {
			p := r.Curve[j]
			if p.T != runs[0].Curve[j].T {
				return nil, fmt.Errorf("curve point %d is at t = %d in one run and %d in another", j, runs[0].Curve[j].T, p.T)
			}
			ms[k], ls[k], ss[k] = p.Metric, p.Lipschitz, p.MetricStd
		}
		out[j].T = runs[0].Curve[j].T
		out[j].Metric, out[j].MetricSeedStd = meanStd(ms)
		out[j].Lipschitz, out[j].LipschitzSeedStd = meanStd(ls)
		out[j].MetricStd, _ = meanStd(ss)
	}
	return out, nil
}

// combineExtras averages each extra figure over the runs that have it.
func combineExtras(runs []ModelReport) (mean, std map[string]float64) {
	keys := map[string]bool{}
	for _, r := range runs {
		for k := range r.Extra {
			keys[k] = true
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	mean, std = map[string]float64{}, map[string]float64{}
	for k := range keys {
		var vs []float64
		for _, r := range runs {
			if v, ok := r.Extra[k]; ok {
				vs = append(vs, v)
			}
		}
		mean[k], std[k] = meanStd(vs)
	}
	return mean, std
}

// judge compares each pair of the combined report.
func judge(r *Report) []Comparison {
	byName := map[string]ModelReport{}
	for _, m := range r.Models {
		byName[m.Name] = m
	}
	var out []Comparison
	for _, p := range r.Pairs {
		a, okA := byName[p[0]]
		b, okB := byName[p[1]]
		if !okA || !okB {
			continue
		}
		d := a.TestMetric - b.TestMetric
		if !r.Metric.HigherIsBetter {
			d = -d
		}
		c := Comparison{Challenger: p[0], Baseline: p[1], Difference: d, Spread: math.Hypot(a.TestMetricSeedStd, b.TestMetricSeedStd)}
		switch {
		case len(r.Seeds) < 2:
			c.Verdict = "undecided (one seed)"
		case d > c.Spread:
			c.Verdict = "beats"
		case -d > c.Spread:
			c.Verdict = "trails"
		default:
			c.Verdict = "matches"
		}
		out = append(out, c)
	}
	return out
}

// Sentence states a comparison as the statistics allow: "X beats Y by
// d ± s", "X trails Y by d ± s" or "X matches Y (difference d ± s)".
func (c Comparison) Sentence(metric string) string {
	switch c.Verdict {
	case "beats", "trails":
		return fmt.Sprintf("%s %s %s by %s ± %s (%s)", c.Challenger, c.Verdict, c.Baseline, formatFigure(math.Abs(c.Difference)), FormatSpread(c.Spread), metric)
	}
	return fmt.Sprintf("%s %s %s (difference %s ± %s, %s)", c.Challenger, strings.Fields(c.Verdict)[0], c.Baseline, formatFigure(c.Difference), FormatSpread(c.Spread), metric)
}

// meanStd returns the mean and the sample standard deviation (n − 1; 0
// for one value).
func meanStd(v []float64) (mean, std float64) {
	if len(v) == 0 {
		return 0, 0
	}
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	if len(v) < 2 {
		return mean, 0
	}
	for _, x := range v {
		std += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(std / float64(len(v)-1))
}
