package experiments

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/implicit-ml/implicit/internal/killpoint"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/network"
	"github.com/implicit-ml/implicit/train"
	"github.com/implicit-ml/implicit/train/report"
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
	after func(ctx context.Context, m model, ev *train.Evaluator, mr *report.ModelReport) error
	// evalView, when set, gives the model to evaluate on the test set (a
	// view of the trained one at other input sizes, sharing parameters).
	evalView func(m model) train.Model
	// finish, when set, writes extra files into the output folder (their
	// names are listed as notes) before the report is written.
	finish func(dir string, rep *report.Report) error
	// tolerateFailures records a model whose training or evaluation fails
	// (a diverging solver configuration) as failed instead of ending the
	// run: the ablation compares configurations, some of which diverge.
	tolerateFailures bool
	// continues says the models' training continues an earlier phase
	// (LP's second), so a flat loss is no sign of collapse.
	continues bool
	// modelNotes are notes the models' runs add (a collapse), appended to
	// the report's.
	modelNotes []string
	// pairs are the comparisons the experiment is about, as [challenger,
	// baseline] model names; nil means every implicit model against every
	// other model (see defaultPairs).
	pairs [][2]string
	// start, when set, is when the run began (experiments that train in
	// phases before run); the report's wall time counts from it.
	start time.Time
}

// testRadius records, for an implicit model evaluated at its solver's
// fixed points, the contraction of the learned operator there: the
// spectral radius of J_f(z*) over the test set's last batch
// (extra.test_spectral_radius). When that batch's solve found no fixed
// point (layers.ErrNoFixedPoint: it diverged), the radius is left out
// and the returned note says why; the model's test metric stands.
func testRadius(ev *train.Evaluator, m model, mr *report.ModelReport) (note string, err error) {
	f := ev.Net().SpectralRadius
	if f == nil || m.Kind() != train.KindImplicit {
		return "", nil
	}
	rho, err := f()
	if errors.Is(err, layers.ErrNoFixedPoint) {
		return fmt.Sprintf("%s: no spectral radius at the test fixed points (%v); extra.test_spectral_radius is left out, its test metric is that of the iterates its solver returned", m.Name(), err), nil
	}
	if err != nil {
		return "", fmt.Errorf("experiments: %s: the spectral radius at the test fixed points: %w", m.Name(), err)
	}
	if mr.Extra == nil {
		mr.Extra = map[string]float64{}
	}
	mr.Extra["test_spectral_radius"] = rho
	return "", nil
}

// defaultPairs sets every implicit model against every model of
// another kind.
func defaultPairs(models []model) [][2]string {
	var out [][2]string
	for _, a := range models {
		if a.Kind() != train.KindImplicit {
			continue
		}
		for _, b := range models {
			if b.Kind() != train.KindImplicit {
				out = append(out, [2]string{a.Name(), b.Name()})
			}
		}
	}
	return out
}

// model is a train.Model with the report fields train cannot know
// (*network.Network is one).
type model interface {
	train.Model
	Description() string
	Params() int
}

// reshaped is m at other per-sample shapes, sharing its parameters: an
// evaluation view of a model trained on shorter sequences.
func reshaped(m model, in, out []int) *network.Network {
	n := m.(*network.Network)
	spec := n.Spec()
	spec.Input, spec.Target = in, out
	return n.Sharing(spec)
}

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
func (c *comparison) run(ctx context.Context, o Options) (*report.Report, error) {
	start := c.start
	if start.IsZero() {
		start = time.Now()
	}
	if c.fit.BatchSize > c.trainSet.Len() {
		return nil, usagef("-batch %d is larger than the training set (%d samples); use at most %d", c.fit.BatchSize, c.trainSet.Len(), c.trainSet.Len())
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
	if (o.Shard.Active() || o.merge) && c.finish != nil {
		// Such an experiment shards by seed and never gets here (shardsBySeed).
		return nil, fmt.Errorf("experiments: %s draws its figures from all its models together after training: its shards' units must be whole seeds, not models", c.experiment)
	}
	if o.Shard.Active() {
		return nil, c.runShard(ctx, o, dir, logf)
	}
	rep := &report.Report{
		Experiment: c.experiment, Dataset: c.dataset, Seed: o.Seed, Quick: o.Quick,
		Metric:  report.MetricInfo{Name: c.metric.Name, HigherIsBetter: c.metric.HigherIsBetter},
		Command: o.Command, Machine: fmt.Sprintf("%d CPUs, %s, %s/%s", runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH),
		Config: c.config, Notes: c.notes, Pairs: c.pairs,
	}
	if rep.Pairs == nil {
		rep.Pairs = defaultPairs(c.models)
	}
	if o.merge {
		if err := c.mergeRows(o, dir, rep); err != nil {
			return nil, err
		}
	} else if err := c.rows(ctx, o, dir, rep, logf); err != nil {
		return nil, err
	}
	rep.Notes = append(rep.Notes, c.modelNotes...)
	if c.finish != nil {
		if err := c.finish(dir, rep); err != nil {
			return nil, err
		}
	}
	if !o.merge { // a merge's is the units' sum, from mergeRows
		rep.WallSeconds = time.Since(start).Seconds()
	}
	rep.Created = time.Now().UTC().Format(time.RFC3339)
	if err := report.Write(dir, rep); err != nil {
		return nil, err
	}
	if o.Stdout != nil {
		report.PrintTable(o.Stdout, rep)
		fmt.Fprintf(o.Stdout, "\nreport: %s (also report.json, plots, metrics.jsonl, curves.csv)\n", filepath.Join(dir, "report.md"))
	}
	return rep, nil
}

// rows trains and evaluates every model, one after another, into rep,
// logging to metrics.jsonl.
func (c *comparison) rows(ctx context.Context, o Options, dir string, rep *report.Report, logf func(string, ...any)) error {
	metrics, err := train.OpenMetrics(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		return err
	}
	defer metrics.Close()
	for _, m := range c.models {
		mr, failure, err := c.row(ctx, o, dir, m, metrics, logf)
		if err != nil {
			return err
		}
		if failure != "" {
			rep.Notes = append(rep.Notes, failure)
		}
		rep.Models = append(rep.Models, *mr)
	}
	return nil
}

// row trains and evaluates m. In a grid that tolerates failures, a model
// whose training or evaluation fails is a failed row, with the note that
// says so.
func (c *comparison) row(ctx context.Context, o Options, dir string, m model, metrics *train.MetricsLog, logf func(string, ...any)) (*report.ModelReport, string, error) {
	mr, err := c.runModel(ctx, o, dir, m, metrics, logf)
	if err != nil && c.tolerateFailures && ctx.Err() == nil {
		// A configuration that diverges is a result of the comparison.
		logf("%s failed: %v", m.Name(), err)
		return &report.ModelReport{Name: m.Name(), Kind: m.Kind(), Params: m.Params(), Description: m.Description(),
				TestMetric: math.NaN(), Extra: map[string]float64{"failed": 1}},
			fmt.Sprintf("%s failed (its metric is NaN in report.md, 0 in report.json; extra.failed = 1): %v", m.Name(), err), nil
	}
	return mr, "", err
}

func (c *comparison) runModel(ctx context.Context, o Options, dir string, m model, metrics *train.MetricsLog, logf func(string, ...any)) (*report.ModelReport, error) {
	logf("training %s (%s)", m.Name(), m.Description())
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
	ev.SetContext(ctx)
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
	mr := &report.ModelReport{
		Name: m.Name(), Kind: m.Kind(), Params: m.Params(), Description: m.Description(),
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
	if fitted.BestKept { // train.Best chose the weights: their score and the spikes it undid
		if mr.Extra == nil {
			mr.Extra = map[string]float64{}
		}
		mr.Extra["best_score"], mr.Extra["spikes"] = fitted.BestScore, float64(fitted.Spikes)
	}
	ev.SetIterations(0)
	var before train.SolverStats
	if f := ev.Net().SolverStats; f != nil {
		before = f()
	}
	e, err := ev.Evaluate(c.testSet, c.metric)
	if err != nil {
		return nil, err
	}
	if f := ev.Net().SolverStats; f != nil && m.Kind() == train.KindImplicit {
		if mr.Extra == nil {
			mr.Extra = map[string]float64{}
		}
		mr.Extra["test_not_converged_fraction"] = f().Sub(before).NotConvergedFraction()
	}
	mr.TestMetric, mr.TestMetricStd, mr.InferSamplesPerSecond = e.Mean, e.Std, e.SamplesPerSecond
	note, err := testRadius(ev, m, mr)
	if err != nil {
		return nil, err
	}
	if note != "" {
		logf("warning: %s", note)
		c.modelNotes = append(c.modelNotes, note)
	}
	killpoint.At("eval:%s", m.Name())
	if why, err := collapsed(fitted, ev, c.testSet, !c.continues); err != nil {
		return nil, err
	} else if why != "" {
		logf("warning: %s: training collapsed: %s; lower -lr, clip the gradients (-clip) or try another seed", m.Name(), why)
		if mr.Extra == nil {
			mr.Extra = map[string]float64{}
		}
		mr.Extra["collapsed"] = 1
		c.modelNotes = append(c.modelNotes, fmt.Sprintf("%s: training collapsed (%s); extra.collapsed = 1. Its figures are those of a failed run, not of the model.", m.Name(), why))
	}
	if c.after != nil {
		if err := c.after(ctx, m, ev, mr); err != nil {
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
