package experiments

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/network"
	"github.com/implicit-ml/implicit/train"
	"github.com/implicit-ml/implicit/train/report"
)

// deblurEval evaluates the trained models: the implicit ones at t =
// evalT and their curves, L on float64 copies, and the reconstructions
// of the grid.
type deblurEval struct {
	net   deblurNets
	st    deblurSettings
	dt    tensor.Dtype
	icfg  layers.ImplicitConfig
	test  *datasets.DeblurSet
	probe deblurProbeSet
	// handles are the cells of the implicit models' evaluation views.
	handles map[string]*deblurHandle
	// show holds each model's reconstructions of the first test images:
	// one entry, or (implicit) one per grid iteration count.
	show   map[string][][]float32
	curves map[string]*deblurCurves
	order  []string // implicit models, in training order
}

// view is the model the validation and test sets are evaluated on: an
// implicit model at t = evalT from y₀ = Aᵀx (the runner's test metric
// sets the iterations to 0 first: the fixed point).
func (e *deblurEval) view(m model) train.Model {
	r := e.net.recipes[m.Name()]
	if !r.implicit() {
		return m
	}
	v, h := e.net.build(r, e.dt, e.icfg, e.st.evalT, m.(*network.Network))
	e.handles[m.Name()] = h
	return v
}

func (e *deblurEval) after(ctx context.Context, m model, ev *train.Evaluator, mr *report.ModelReport) error {
	nm := m.(*network.Network)
	if err := learnedScalars(nm, mr); err != nil {
		return err
	}
	if !e.net.recipes[nm.Name()].implicit() {
		lip, err := e.lipschitz(ctx, nm)
		if err != nil {
			return err
		}
		mr.Lipschitz = lip
		y, err := ev.Predict32(e.test.X[:e.st.show*e.test.H*e.test.W], e.st.show)
		if err != nil {
			return err
		}
		e.show[nm.Name()] = [][]float32{y}
		return nil
	}
	if mr.Extra == nil {
		mr.Extra = map[string]float64{}
	}
	// The runner's test metric is the fixed point's; the headline is t =
	// evalT, read off the PSNR curve, which iterates the evaluation view's
	// cell over every test image (one pass instead of two).
	mr.Extra["psnr_fixed_point"], mr.Extra["psnr_fixed_point_std"] = mr.TestMetric, mr.TestMetricStd
	c, err := e.net.curves(ctx, nm, e.handles[nm.Name()], e.test, e.probe, e.icfg)
	if err != nil {
		return err
	}
	c.report(mr, e.st)
	mr.TestMetric, mr.TestMetricStd = c.psnr[e.st.evalT-1], c.std[e.st.evalT-1]
	mr.InferSamplesPerSecond = c.samplesPerSecond
	e.show[nm.Name()] = c.grid
	e.curves[nm.Name()] = c
	e.order = append(e.order, nm.Name())
	return nil
}

// learnedScalars records the trained scalars of m in mr.Extra, each the
// mean over the model's stages: sigma_d (the denoisers' noise levels σ_D),
// gamma (PGD's steps) and beta (HQS's weights e^ρ).
func learnedScalars(m *network.Network, mr *report.ModelReport) error {
	sums, counts := map[string]float64{}, map[string]int{}
	for _, p := range m.Scope().Params() {
		key, f := "", func(v float64) float64 { return v }
		switch name := p.Name(); {
		case strings.HasSuffix(name, ".sigma"):
			key = "sigma_d"
		case strings.HasSuffix(name, ".gamma"):
			key = "gamma"
		case strings.HasSuffix(name, ".logbeta"):
			key, f = "beta", math.Exp
		default:
			continue
		}
		v, err := layers.Floats64(p.Value())
		if err != nil {
			return err
		}
		sums[key] += f(v[0])
		counts[key]++
	}
	if mr.Extra == nil && len(sums) > 0 {
		mr.Extra = map[string]float64{}
	}
	for k, s := range sums {
		mr.Extra[k] = s / float64(counts[k])
	}
	return nil
}

// lipschitz is L of an explicit model on its float64 copy.
func (e *deblurEval) lipschitz(ctx context.Context, m *network.Network) (float64, error) {
	ev, _, err := e.net.twin64(m, e.icfg, e.probe.n)
	if err != nil {
		return 0, err
	}
	defer ev.Close()
	ev.SetContext(ctx)
	l, err := ev.Lipschitz(train.Probe{N: e.probe.n, X: e.probe.x, Deltas: e.probe.deltas})
	if err != nil {
		return 0, err
	}
	return l.Max, nil
}

// report puts the curves into the model's row: PSNR(t) from y₀ = Aᵀx
// with L_t from y₀ = 0, L at t = evalT, the contraction and the curves'
// key points.
func (c *deblurCurves) report(mr *report.ModelReport, st deblurSettings) {
	mr.Curve = nil
	for _, t := range train.IterationCounts(st.maxT) {
		mr.Curve = append(mr.Curve, train.CurvePoint{T: t, Metric: c.psnr[t-1], MetricStd: c.std[t-1], Lipschitz: c.lip[t-1]})
	}
	mr.Lipschitz = c.lip[st.evalT-1]
	best, bestT := c.best()
	mr.Extra["psnr_best"], mr.Extra["psnr_best_t"] = best, float64(bestT)
	mr.Extra["psnr_t1"], mr.Extra["lipschitz_t1"] = c.psnr[0], c.lip[0]
	mr.Extra["psnr_from_zero_t_max"] = c.psnrZero[st.maxT-1]
	mr.Extra["contraction_rate"], mr.Extra["last_step"] = c.rate, c.step
	mr.Extra["spectral_radius_t"], mr.Extra["spectral_radius_t_mean"] = c.radius, c.radiusMean
}

// best returns the best mean PSNR from y₀ = Aᵀx and the t reaching it.
func (c *deblurCurves) best() (float64, int) {
	i := 0
	for t, v := range c.psnr {
		if v > c.psnr[i] {
			i = t
		}
	}
	return c.psnr[i], i + 1
}

// summary states an implicit model's curves' key points.
func (c *deblurCurves) summary(name string, st deblurSettings) string {
	T := st.maxT
	best, bestT := c.best()
	rises := "rises"
	for t := 1; t < T; t++ {
		if c.lip[t] < c.lip[t-1]*(1-1e-9) {
			rises = fmt.Sprintf("falls first at t = %d", t+1)
			break
		}
	}
	return fmt.Sprintf("%s: PSNR from y₀ = Aᵀx %.2f dB at t = 1, best %.2f dB at t = %d, %.2f dB at t = %d (%.3f dB below the best); L_t from y₀ = 0 %.3g at t = 1, %.3g at t = 10, %.3g at t = %d (L_t %s); contraction near t = %d: rate %.4f per step, spectral radius of J_G %.3f (mean %.3f), last relative step %.2g.",
		name, c.psnr[0], best, bestT, c.psnr[T-1], T, best-c.psnr[T-1], c.lip[0], c.lip[min(10, T)-1], c.lip[T-1], T, rises, T, c.rate, c.radius, c.radiusMean, c.step)
}

func (e *deblurEval) finish(dir string, rep *report.Report) error {
	for _, name := range e.order {
		rep.Notes = append(rep.Notes, e.curves[name].summary(name, e.st))
	}
	if err := e.writeCurves(dir); err != nil {
		return err
	}
	if err := e.writeTable(filepath.Join(dir, "deblur_table.md"), rep); err != nil {
		return err
	}
	rep.Notes = append(rep.Notes, fmt.Sprintf("deblur_table.md: the paper's table (models, parameters, train time, PSNR at t = %d and at the fixed point); deblur_curves.csv: PSNR(t) (mean, std) from y₀ = Aᵀx and L_t from y₀ = 0 for every implicit model, with L_t per probe frequency; deblur_psnr_vs_t.png and deblur_lipschitz_by_rank.png draw them; deblur_reconstructions.png: rows are test images, columns labelled.", e.st.evalT))
	return e.writeGrid(filepath.Join(dir, "deblur_reconstructions.png"))
}

// deblurPSNR is the metric: PSNR per image, mean over images.
func deblurPSNR() train.Metric {
	return train.Metric{Name: "PSNR (dB)", HigherIsBetter: true, Sample: func(out, target []float32) float64 {
		return psnr(out, target)
	}}
}
