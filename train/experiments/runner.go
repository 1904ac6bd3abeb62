package experiments

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/implicit-ml/implicit/train"
)

// comparison is one experiment's side-by-side run: the models, trained one
// after another on the same data in the same order, then evaluated.
type comparison struct {
	experiment, dataset string
	metric              train.Metric
	trainSet, testSet   train.Dataset
	// valSet, when set, is evaluated after every epoch (metrics.jsonl).
	valSet train.Dataset
	models []model
	fit    train.Config
	// ts are the test-time iteration counts of the curves.
	ts        []int
	probe     train.Probe
	evalBatch int
	notes     []string
	config    map[string]any
	// after, when set, adds experiment-specific figures to a model's row
	// once it is evaluated (the evaluator is at convergence, t = 0).
	after func(m model, ev *train.Evaluator, mr *train.ModelReport) error
	// evalView, when set, gives the model to evaluate on the test set (a
	// view of the trained one at other input sizes, sharing parameters).
	evalView func(m model) train.Model
	// finish, when set, writes extra files into the output folder (their
	// names are listed as notes) before the report is written.
	finish func(dir string, rep *train.Report) error
	// tolerateFailures records a model whose training or evaluation fails
	// (a diverging solver configuration) as failed instead of ending the
	// run: the ablation compares configurations, some of which diverge.
	tolerateFailures bool
	// start, when set, is when the run began (experiments that train in
	// phases before run); the report's wall time counts from it.
	start time.Time
}

// model is a train.Model with the report fields train cannot know.
type model interface {
	train.Model
	description() string
	paramCount() int
}

func (m *netModel) description() string { return m.desc }
func (m *netModel) paramCount() int     { return m.params }

// outDir resolves the output folder: -out, or runs/<experiment>-<time>.
func outDir(o Options) string {
	if o.Out != "" {
		return o.Out
	}
	return filepath.Join("runs", fmt.Sprintf("%s-%s", o.Experiment, time.Now().Format("20060102-150405")))
}

// run trains and evaluates every model, writes report.json, report.md,
// the plots, curves.csv and metrics.jsonl into the output folder, and
// prints the table.
func (c *comparison) run(ctx context.Context, o Options) (*train.Report, error) {
	start := c.start
	if start.IsZero() {
		start = time.Now()
	}
	dir := outDir(o)
	if err := os.MkdirAll(filepath.Join(dir, "checkpoints"), 0o755); err != nil {
		return nil, fmt.Errorf("experiments: %w", err)
	}
	logf := func(format string, args ...any) {
		if o.Stderr != nil {
			fmt.Fprintf(o.Stderr, format+"\n", args...)
		}
	}
	logf("%s on %s: writing to %s", c.experiment, c.dataset, dir)
	metrics, err := train.OpenMetrics(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		return nil, err
	}
	defer metrics.Close()

	rep := &train.Report{
		Experiment: c.experiment, Dataset: c.dataset, Seed: o.Seed, Quick: o.Quick,
		Metric:  train.MetricInfo{Name: c.metric.Name, HigherIsBetter: c.metric.HigherIsBetter},
		Command: o.Command, Machine: fmt.Sprintf("%d CPUs, %s, %s/%s", runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH),
		Config: c.config, Notes: c.notes,
	}
	for _, m := range c.models {
		mr, err := c.runModel(ctx, o, dir, m, metrics, logf)
		if err != nil && c.tolerateFailures && ctx.Err() == nil {
			// A configuration that diverges is a result of the comparison.
			logf("%s failed: %v", m.Name(), err)
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s failed (its metric is NaN in report.md, 0 in report.json; extra.failed = 1): %v", m.Name(), err))
			mr, err = &train.ModelReport{Name: m.Name(), Kind: m.Kind(), Params: m.paramCount(), Description: m.description(),
				TestMetric: math.NaN(), Extra: map[string]float64{"failed": 1}}, nil
		}
		if err != nil {
			return nil, err
		}
		rep.Models = append(rep.Models, *mr)
	}
	if c.finish != nil {
		if err := c.finish(dir, rep); err != nil {
			return nil, err
		}
	}
	rep.WallSeconds = time.Since(start).Seconds()
	rep.Created = time.Now().UTC().Format(time.RFC3339)
	if err := writeReport(dir, rep); err != nil {
		return nil, err
	}
	if o.Stdout != nil {
		printTable(o.Stdout, rep)
		fmt.Fprintf(o.Stdout, "\nreport: %s (also report.json, plots, metrics.jsonl, curves.csv)\n", filepath.Join(dir, "report.md"))
	}
	return rep, nil
}

func (c *comparison) runModel(ctx context.Context, o Options, dir string, m model, metrics *train.MetricsLog, logf func(string, ...any)) (*train.ModelReport, error) {
	logf("training %s (%s)", m.Name(), m.description())
	cfg := c.fit
	cfg.Checkpoint = filepath.Join(dir, "checkpoints", m.Name()+".ckpt")
	cfg.Resume = o.Resume
	cfg.Metrics = metrics
	cfg.Progress, cfg.ProgressOut = o.Progress, o.Stderr
	cfg.MonitorSpectralRadius = true

	// The evaluator is built before training so the validation hook can
	// use it; both graphs share the parameters.
	var em train.Model = m
	if c.evalView != nil {
		em = c.evalView(m)
	}
	ev, err := train.NewEvaluator(em, c.evalBatch)
	if err != nil {
		return nil, err
	}
	defer ev.Close()
	if c.valSet != nil {
		cfg.Hooks = append(cfg.Hooks, train.Validation(ev, c.valSet, c.metric))
	}
	fitted, err := train.Fit(ctx, m, c.trainSet, cfg)
	if err != nil {
		return nil, err
	}
	if fitted.AlreadyDone {
		logf("%s: finished in an earlier run; evaluating its checkpoint", m.Name())
	}
	mr := &train.ModelReport{
		Name: m.Name(), Kind: m.Kind(), Params: m.paramCount(), Description: m.description(),
		TrainSeconds: fitted.Seconds, TrainSamplesPerSecond: fitted.SamplesPerSecond,
		PeakHeapBytes: fitted.PeakHeap, Epochs: fitted.Epochs, Steps: fitted.Steps, FinalLoss: fitted.FinalLoss,
	}
	if ss := fitted.Solver; ss.ForwardCalls > 0 {
		mr.ForwardIterationsMean = ss.MeanForward()
		mr.BackwardIterationsMean = ss.MeanBackward()
		mr.NotConvergedFraction = ss.NotConvergedFraction()
		if mr.Extra == nil {
			mr.Extra = map[string]float64{}
		}
		mr.Extra["backward_not_converged_fraction"] = ss.BackwardNotConvergedFraction()
		if fitted.SpectralRadius > 0 {
			mr.Extra["spectral_radius"] = fitted.SpectralRadius
		}
	}
	ev.SetIterations(0)
	e, err := ev.Evaluate(c.testSet, c.metric)
	if err != nil {
		return nil, err
	}
	mr.TestMetric, mr.TestMetricStd, mr.InferSamplesPerSecond = e.Mean, e.Std, e.SamplesPerSecond
	if c.after != nil {
		if err := c.after(m, ev, mr); err != nil {
			return nil, err
		}
	}
	if c.probe.N > 0 { // at the setting after left, like the test metric
		l, err := ev.Lipschitz(c.probe)
		if err != nil {
			return nil, err
		}
		mr.Lipschitz = l.Max
		if c.probe.Mean {
			mr.Lipschitz = l.Mean
		}
	}
	logf("%s: test %s %.4f (%.1f s training, %.0f samples/s)", m.Name(), c.metric.Name, mr.TestMetric, fitted.Seconds, fitted.SamplesPerSecond)
	if m.Kind() == train.KindImplicit && len(c.ts) > 0 {
		logf("%s: evaluating %s and L_t at t = %v", m.Name(), c.metric.Name, c.ts)
		if mr.Curve, err = ev.Curve(c.testSet, c.metric, c.ts, c.probe); err != nil {
			return nil, err
		}
	}
	return mr, nil
}

// writeReport writes report.json, report.md, the plots and curves.csv
// (each atomically enough: to a temporary name, then renamed).
func writeReport(dir string, rep *train.Report) error {
	js, err := json.MarshalIndent(sanitize(rep), "", "  ")
	if err != nil {
		return fmt.Errorf("experiments: %w", err)
	}
	if err := writeFile(filepath.Join(dir, "report.json"), func(w io.Writer) error {
		_, err := w.Write(append(js, '\n'))
		return err
	}); err != nil {
		return err
	}
	plots, err := train.WritePlots(dir, rep)
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "report.md"), func(w io.Writer) error {
		return train.WriteMarkdown(w, rep, plots)
	}); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "curves.csv"), func(w io.Writer) error {
		cw := csv.NewWriter(w)
		cw.Write([]string{"model", "t", "metric", "metric_std", "lipschitz"})
		for _, m := range rep.Models {
			for _, p := range m.Curve {
				cw.Write([]string{m.Name, strconv.Itoa(p.T), fmtF(p.Metric), fmtF(p.MetricStd), fmtF(p.Lipschitz)})
			}
		}
		cw.Flush()
		return cw.Error()
	})
}

func fmtF(v float64) string { return strconv.FormatFloat(v, 'g', 8, 64) }

func writeFile(path string, write func(io.Writer) error) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("experiments: %w", err)
	}
	if err := write(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("experiments: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("experiments: %w", err)
	}
	return os.Rename(tmp, path)
}

// printTable writes the side-by-side table.
func printTable(w io.Writer, rep *train.Report) {
	fmt.Fprintf(w, "\n%s on %s (seed %d%s)\n\n", rep.Experiment, rep.Dataset, rep.Seed, map[bool]string{true: ", quick", false: ""}[rep.Quick])
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "model\tkind\tparams\ttrain s\tsamples/s\tpeak heap MiB\tfwd it\tbwd it\tL (conv.)\ttest %s\t\n", rep.Metric.Name)
	for _, m := range rep.Models {
		it := func(v float64) string {
			if m.Kind == train.KindExplicit || v == 0 {
				return "-"
			}
			return fmt.Sprintf("%.1f", v)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f\t%.0f\t%.1f\t%s\t%s\t%.3g\t%.4f\t\n", m.Name, m.Kind, m.Params, m.TrainSeconds,
			m.TrainSamplesPerSecond, float64(m.PeakHeapBytes)/(1<<20), it(m.ForwardIterationsMean), it(m.BackwardIterationsMean), m.Lipschitz, m.TestMetric)
	}
	tw.Flush()
	for _, m := range rep.Models {
		if len(m.Curve) == 0 {
			continue
		}
		var parts []string
		for _, p := range m.Curve {
			parts = append(parts, fmt.Sprintf("t=%d: %.4f (L %.3g)", p.T, p.Metric, p.Lipschitz))
		}
		fmt.Fprintf(w, "\n%s, %s and L_t against test-time iterations:\n  %s\n", m.Name, rep.Metric.Name, strings.Join(parts, "\n  "))
	}
}

// sanitize replaces NaN and Inf (which JSON cannot hold) by zero in the
// report's numbers.
func sanitize(rep *train.Report) *train.Report {
	r := *rep
	r.Models = append([]train.ModelReport(nil), rep.Models...)
	for i := range r.Models {
		m := &r.Models[i]
		for _, f := range []*float64{&m.TrainSeconds, &m.TrainSamplesPerSecond, &m.TestMetric, &m.TestMetricStd, &m.ForwardIterationsMean, &m.BackwardIterationsMean, &m.Lipschitz, &m.FinalLoss, &m.InferSamplesPerSecond, &m.NotConvergedFraction} {
			*f = finite(*f)
		}
		m.Curve = append([]train.CurvePoint(nil), m.Curve...)
		for j := range m.Curve {
			p := &m.Curve[j]
			p.Metric, p.Lipschitz, p.MetricStd = finite(p.Metric), finite(p.Lipschitz), finite(p.MetricStd)
		}
	}
	return &r
}

func finite(v float64) float64 {
	if v-v != 0 {
		return 0
	}
	return v
}

// usageError marks errors in the user's choices: bad flag values, an
// unknown experiment or dataset. cmd/train exits with status 2 for them.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// Usage marks err as a usage error.
func Usage(err error) error { return usageError{err} }

// UsageError reports whether err is, or wraps, a usage error.
func UsageError(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

func usagef(format string, args ...any) error { return Usage(fmt.Errorf(format, args...)) }
