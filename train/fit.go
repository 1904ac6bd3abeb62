package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"strconv"
	"time"

	"github.com/implicit-ml/implicit/internal/killpoint"
	G "gorgonia.org/gorgonia"
)

// Config configures Fit. Its zero value trains one epoch with Adam (lr
// 1e-3) in batches of 64, with a constant rate, no checkpoints and no
// progress output.
type Config struct {
	// Epochs is the number of passes over the data; zero means 1.
	Epochs int
	// BatchSize is the static batch size of the training graph; zero
	// means 64. The last partial batch of an epoch is padded with zero
	// rows (masked out of the loss), never dropped.
	BatchSize int
	// MaxSteps, when positive, ends training after this many steps.
	MaxSteps int
	// Optimizer configures the optimizer (Adam by default).
	Optimizer OptimizerConfig
	// Schedule sets the learning rate per step; nil means Constant.
	Schedule Schedule
	// Seed fixes the data order: epoch e visits the samples in the order
	// of a permutation drawn from (Seed, e).
	Seed uint64
	// LogEvery is the number of steps between metrics lines; zero means 50.
	LogEvery int
	// Checkpoint is the checkpoint file; empty disables checkpoints.
	Checkpoint string
	// CheckpointEvery is the number of steps between checkpoints; zero
	// means only at the end of each epoch (and on cancellation).
	CheckpointEvery int
	// Resume continues from Checkpoint when it exists. Without Resume an
	// existing checkpoint is an error: it is never overwritten.
	Resume bool
	// Fingerprint holds settings a resumed run must share (flags, data
	// size); the model's name, the batch size, the optimizer and the
	// parameter shapes are always checked.
	Fingerprint map[string]string
	// Metrics, when set, receives step and epoch records.
	Metrics *MetricsLog
	// Progress and ProgressOut control progress reporting (nothing when
	// ProgressOut is nil).
	Progress    ProgressMode
	ProgressOut io.Writer
	// Hooks run after every step, every epoch and at the end.
	Hooks []Hook
	// MonitorSpectralRadius estimates, after every epoch, the spectral
	// radius of the implicit layers' Jacobian at their fixed point and
	// logs it (epoch lines of metrics.jsonl). Models without implicit
	// layers ignore it.
	MonitorSpectralRadius bool
	// MaxNotConverged, when positive, ends training with an error when
	// the fraction of forward or backward samples that missed their
	// tolerance in an epoch exceeds it. Any non-zero fraction is written
	// to Warnings either way.
	MaxNotConverged float64
	// SkipNonConvergedBackward skips the optimizer step of any batch whose
	// backward solve did not converge (counted in Fitted.Skipped and the
	// metrics), rather than applying the inexact gradient.
	SkipNonConvergedBackward bool
	// Warnings receives warnings (nil: ProgressOut; both nil: none).
	Warnings io.Writer
	// Best, when set, keeps the parameters of the best training loss or
	// epoch metric and ends training with them (see Best).
	Best Best
}

// Hook is a named extension of the loop: metrics, checkpoints, early
// stopping. Any of its functions may be nil; an error ends training.
type Hook struct {
	Name  string
	Step  func(*State) error
	Epoch func(*State) error
	End   func(*State) error
}

// State is what hooks see.
type State struct {
	Model string
	// Epoch is the current epoch (0-based); Step counts steps taken.
	Epoch, Epochs int
	Step, Steps   int
	// Loss is the last batch's loss; EpochLoss the mean over the epoch.
	Loss, EpochLoss float64
	LR              float64
	// Net is the training graph's model.
	Net *Net
	// EpochMetric, set by an epoch hook (for instance a validation
	// metric), is written to the epoch's metrics line.
	EpochMetric *float64
	// Stop, set by a hook, ends training after the current step.
	Stop bool
}

// Fitted describes a finished (or resumed-finished) training run.
type Fitted struct {
	Net              *Net
	Steps, Epochs    int
	Seconds          float64
	Samples          int
	SamplesPerSecond float64
	// PeakHeap is the peak live heap during training above its level
	// before the model was built (so the dataset is not counted), in bytes.
	PeakHeap uint64
	// FirstLoss and FinalLoss are the losses of the run's first and last
	// steps; FirstEpochLoss and LastEpochLoss the mean losses of its first
	// and last epochs, which a minibatch's noise does not swing (they
	// serve the check that training got anywhere).
	FirstLoss, FinalLoss          float64
	FirstEpochLoss, LastEpochLoss float64
	Solver                        SolverStats
	// Skipped counts optimizer steps skipped (SkipNonConvergedBackward).
	Skipped int
	// SpectralRadius is the last monitored spectral radius (0 if none).
	SpectralRadius float64
	// Resumed is true when the run continued a checkpoint; AlreadyDone
	// when the checkpoint was of a finished run and nothing was trained.
	Resumed, AlreadyDone bool
	// BestScore is the score of the parameters the run ended with when
	// Config.Best kept some (BestKept); Spikes counts the loss spikes it
	// undid.
	BestScore float64
	BestKept  bool
	Spikes    int
}

func (c Config) resolved() Config {
	if c.Epochs == 0 {
		c.Epochs = 1
	}
	if c.BatchSize == 0 {
		c.BatchSize = 64
	}
	if c.LogEvery == 0 {
		c.LogEvery = 50
	}
	if c.Schedule == nil {
		c.Schedule = Constant{}
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Epochs < 0:
		return fmt.Errorf("train: Epochs %d must be ≥ 0", c.Epochs)
	case c.BatchSize < 0:
		return fmt.Errorf("train: BatchSize %d must be positive", c.BatchSize)
	case c.MaxSteps < 0 || c.CheckpointEvery < 0 || c.LogEvery < 0:
		return fmt.Errorf("train: MaxSteps, CheckpointEvery and LogEvery must be ≥ 0")
	case c.Resume && c.Checkpoint == "":
		return fmt.Errorf("train: Resume needs a Checkpoint path")
	}
	return c.Best.validate()
}

// epochOrder is the order in which epoch e visits n samples.
func epochOrder(seed uint64, epoch, n int) []int {
	return rand.New(rand.NewPCG(seed, uint64(epoch)+epochStream)).Perm(n)
}

// Fit trains model on data. It builds the training graph, runs the
// optimizer over Epochs passes in a seed-determined order, logs, calls
// hooks and checkpoints; cancelling ctx saves a checkpoint of the last
// completed step (when enabled; not when ctx is cancelled inside a step of
// a model whose run-time state is over 1 MiB, which resumes from the last
// checkpoint written) and returns ctx's error. Resuming from a checkpoint
// continues exactly: the same loss curve as an uninterrupted run.
func Fit(ctx context.Context, model Model, data Dataset, cfg Config) (*Fitted, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.resolved()
	n := data.Len()
	if n == 0 {
		return nil, fmt.Errorf("train: the training set is empty")
	}
	heap := newHeapSampler() // before the graph: its buffers count
	sess, err := NewSession(model, cfg.BatchSize, cfg.Optimizer)
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	sess.SkipNonConvergedBackward = cfg.SkipNonConvergedBackward
	net, opt := sess.net, sess.opt
	perEpoch := (n + cfg.BatchSize - 1) / cfg.BatchSize
	total := cfg.Epochs * perEpoch
	if cfg.MaxSteps > 0 && cfg.MaxSteps < total {
		total = cfg.MaxSteps
	}
	fp := fingerprint(model, net, cfg, n)
	f := &fitter{model: model, data: data, cfg: cfg, net: net, sess: sess, opt: opt, heap: heap, perEpoch: perEpoch, total: total, fp: fp, baseLR: cfg.Optimizer.LR,
		keep: newKeeper(cfg.Best)}
	if f.baseLR == 0 {
		f.baseLR = 1e-3
	}
	if net.ResetSolverStats != nil {
		net.ResetSolverStats()
	}
	if done, err := f.resume(); err != nil || done != nil {
		return done, err
	}
	return f.loop(ctx)
}

// fingerprint is the configuration a resumed run must share.
func fingerprint(model Model, net *Net, cfg Config, n int) map[string]string {
	fp := map[string]string{
		"model":     model.Name(),
		"batch":     strconv.Itoa(cfg.BatchSize),
		"samples":   strconv.Itoa(n),
		"optimizer": cfg.Optimizer.Kind,
		"lr":        strconv.FormatFloat(cfg.Optimizer.LR, 'g', -1, 64),
		"epochs":    strconv.Itoa(cfg.Epochs),
		"max_steps": strconv.Itoa(cfg.MaxSteps),
		"seed":      strconv.FormatUint(cfg.Seed, 10),
		"schedule":  cfg.Schedule.String(),
		"params":    strconv.Itoa(len(net.Params)),
	}
	if cfg.Best.By != BestNone {
		fp["best"] = fmt.Sprintf("%+v", cfg.Best)
	}
	for k, v := range cfg.Fingerprint {
		fp[k] = v
	}
	return fp
}

// fitter is one training run in progress.
type fitter struct {
	model    Model
	data     Dataset
	cfg      Config
	net      *Net
	sess     *Session
	heap     *heapSampler
	opt      Optimizer
	perEpoch int
	total    int
	fp       map[string]string
	baseLR   float64

	epoch, inEpoch, step int
	seconds              float64
	samples              int
	peak                 uint64
	firstLoss, lastLoss  float64
	// The mean losses of the first and the last finished epoch.
	firstEpochLoss, lastEpochLoss float64
	prevSolver                    SolverStats // accumulated before a resume
	// doneSolver is the solver stats at the last completed step: what a
	// checkpoint written after an interrupted step records, since the
	// resumed run redoes that step's solves.
	doneSolver SolverStats
	// doneState is the model's run-time state (Net.State) at the last
	// completed step, kept while it is at most maxKeptState bytes
	// (stateKept): a step interrupted inside may already have advanced it
	// (the Jacobian penalty's random stream, warm starts), so a checkpoint
	// written then must not read it live. stateBig: too large to copy
	// every step; an interrupted step then writes no checkpoint and the
	// run resumes, just as exactly, from the last one written.
	doneState           []byte
	stateKept, stateBig bool
	resumed             bool
	// Running sums of the current log interval and epoch; checkpointed
	// so a resumed run logs exactly what an uninterrupted one would.
	intervalLoss   float64
	intervalSteps  int
	intervalSolver SolverStats
	epochLoss      float64
	epochSteps     int
	epochSolver    SolverStats // solver stats at the epoch's start
	radius         float64
	keep           *keeper
}

// resume restores the checkpoint when asked to. It returns a result when
// the checkpointed run had already finished.
func (f *fitter) resume() (*Fitted, error) {
	path := f.cfg.Checkpoint
	if path == "" {
		return nil, nil
	}
	c, err := LoadCheckpoint(path)
	switch {
	case errors.Is(err, ErrNoCheckpoint):
		// A run killed before this model's first checkpoint may have
		// logged records it will log again from the start.
		return nil, f.cfg.Metrics.Rewind(f.model.Name(), 0)
	case err != nil:
		return nil, err
	case !f.cfg.Resume:
		return nil, fmt.Errorf("train: %s already holds a checkpoint; pass -resume to continue it, or choose another -out folder (it is never overwritten)", path)
	}
	if err := c.checkFingerprint(path, f.fp); err != nil {
		return nil, err
	}
	if err := restoreParams(path, f.net.Params, c.Params); err != nil {
		return nil, err
	}
	if err := f.opt.Restore(c.Optimizer); err != nil {
		return nil, err
	}
	f.epoch, f.inEpoch, f.step = c.Epoch, c.StepInEpoch, c.Step
	f.seconds, f.samples, f.peak, f.firstLoss, f.lastLoss = c.TrainSeconds, c.Samples, c.PeakHeap, c.FirstLoss, c.LastLoss
	f.firstEpochLoss, f.lastEpochLoss = c.FirstEpochLoss, c.LastEpochLoss
	f.prevSolver, f.doneSolver = c.Solver, c.Solver
	f.intervalLoss, f.intervalSteps, f.intervalSolver = c.IntervalLoss, c.IntervalSteps, c.IntervalSolver
	f.epochLoss, f.epochSteps, f.epochSolver = c.EpochLoss, c.EpochSteps, c.EpochSolver
	f.sess.Skipped = c.Skipped
	f.radius = c.SpectralRadius
	if c.HasBest {
		if err := checkSaved(path, f.net.Params, c.Best); err != nil {
			return nil, fmt.Errorf("%w (its best parameters)", err)
		}
	}
	f.keep.best, f.keep.score, f.keep.has, f.keep.spikes = c.Best, c.BestScore, c.HasBest, c.Spikes
	if c.LRScale > 0 {
		f.keep.lrScale = c.LRScale
	}
	if f.net.SetState != nil && c.ModelState != nil {
		if err := f.net.SetState(c.ModelState); err != nil {
			return nil, fmt.Errorf("train: checkpoint %s: the model's state: %w", path, err)
		}
	}
	f.resumed = true
	if err := f.cfg.Metrics.Rewind(f.model.Name(), c.Step); err != nil {
		return nil, err
	}
	if c.Done {
		res := f.result()
		res.AlreadyDone = true
		return res, nil
	}
	return nil, nil
}

func (f *fitter) solverStats() SolverStats {
	if f.net.SolverStats == nil {
		return f.prevSolver
	}
	return f.prevSolver.Add(f.net.SolverStats())
}

func (f *fitter) checkpoint(done bool) error {
	return f.checkpointWith(done, f.solverStats(), nil)
}

// maxKeptState is the largest model state the loop copies after every
// step (see fitter.doneState).
const maxKeptState = 1 << 20

// keepState records the model's state after a completed step, when
// checkpoints are on and the state is small enough.
func (f *fitter) keepState() error {
	if f.cfg.Checkpoint == "" || f.net.State == nil || f.stateBig {
		return nil
	}
	b, err := f.net.State()
	if err != nil {
		return fmt.Errorf("train: %s: saving the model's state: %w", f.model.Name(), err)
	}
	if len(b) > maxKeptState {
		f.stateBig, f.stateKept, f.doneState = true, false, nil
		return nil
	}
	f.doneState, f.stateKept = b, true
	return nil
}

// checkpointWith saves the run with the solver stats given and the
// model's state: state when not nil, else the live one.
func (f *fitter) checkpointWith(done bool, solver SolverStats, state []byte) error {
	if f.cfg.Checkpoint == "" {
		return nil
	}
	if state == nil && f.net.State != nil {
		var err error
		if state, err = f.net.State(); err != nil {
			return fmt.Errorf("train: %s: saving the model's state: %w", f.model.Name(), err)
		}
	}
	return SaveCheckpoint(f.cfg.Checkpoint, &Checkpoint{
		Model: f.model.Name(), Fingerprint: f.fp,
		Epoch: f.epoch, StepInEpoch: f.inEpoch, Step: f.step, Done: done,
		Params: saveParams(f.net.Params), Optimizer: f.opt.State(),
		TrainSeconds: f.seconds, PeakHeap: f.peak, Samples: f.samples, FirstLoss: f.firstLoss, LastLoss: f.lastLoss,
		FirstEpochLoss: f.firstEpochLoss, LastEpochLoss: f.lastEpochLoss,
		Solver:       solver,
		IntervalLoss: f.intervalLoss, IntervalSteps: f.intervalSteps, IntervalSolver: f.intervalSolver,
		EpochLoss: f.epochLoss, EpochSteps: f.epochSteps, EpochSolver: f.epochSolver, Skipped: f.sess.Skipped,
		SpectralRadius: f.radius, ModelState: state,
		Best: f.keep.best, BestScore: f.keep.score, HasBest: f.keep.has, LRScale: f.keep.lrScale, Spikes: f.keep.spikes,
	})
}

func (f *fitter) result() *Fitted {
	res := &Fitted{
		Net: f.net, Steps: f.step, Epochs: f.epoch, Seconds: f.seconds, Samples: f.samples,
		PeakHeap: f.peak, FirstLoss: f.firstLoss, FinalLoss: f.lastLoss, Solver: f.solverStats(), Resumed: f.resumed,
		FirstEpochLoss: f.firstEpochLoss, LastEpochLoss: f.lastEpochLoss,
		Skipped: f.sess.Skipped, SpectralRadius: f.radius, Spikes: f.keep.spikes,
	}
	if f.keep.has {
		res.BestScore, res.BestKept = f.keep.score, true
	}
	if f.seconds > 0 {
		res.SamplesPerSecond = float64(f.samples) / f.seconds
	}
	return res
}

func (f *fitter) loop(ctx context.Context) (*Fitted, error) {
	cfg := f.cfg
	st := &State{Model: f.model.Name(), Epochs: cfg.Epochs, Steps: f.total, Net: f.net}
	prog := f.progress(st)
	if prog != nil {
		defer prog.Finish()
	}
	f.heap.peak = max(f.heap.peak, f.peak)
	if !f.resumed {
		f.intervalSolver = f.solverStats()
		f.epochSolver = f.solverStats()
	}
	if f.net.SetContext != nil {
		f.net.SetContext(ctx) // a cancellation stops a solve within an iteration
		defer f.net.SetContext(nil)
	}
	if err := f.keepState(); err != nil {
		return nil, err
	}
	for f.step < f.total && f.epoch < cfg.Epochs {
		order := epochOrder(cfg.Seed, f.epoch, f.data.Len())
		for f.inEpoch < f.perEpoch && f.step < f.total {
			if err := ctx.Err(); err != nil {
				return nil, f.stopped(err, false)
			}
			lo := f.inEpoch * cfg.BatchSize
			if err := f.stepOn(st, order[lo:min(lo+cfg.BatchSize, len(order))]); err != nil {
				if ctx.Err() != nil { // cancelled inside the step, which did not update the weights
					return nil, f.stopped(ctx.Err(), true)
				}
				return nil, err
			}
			prog.Add(1)
			if st.Stop {
				break
			}
		}
		if err := f.endEpoch(st); err != nil {
			return nil, err
		}
		if st.Stop {
			break
		}
	}
	// Fused ops reuse their buffers, so a run may trigger no collection
	// at all: measure what the trained model holds once, at the end.
	runtime.GC()
	f.peak = f.heap.sample()
	f.keep.restore(f.net.Params)
	if err := f.checkpoint(true); err != nil {
		return nil, err
	}
	if err := runHooks(cfg.Hooks, st, func(h Hook) func(*State) error { return h.End }); err != nil {
		return nil, err
	}
	return f.result(), nil
}

// stopped checkpoints the run at the last completed step after ctx was
// cancelled — inStep: inside a step, whose solves may have advanced the
// model's state, so the state kept after the last completed step is
// saved (or, when it was too large to keep, no checkpoint is written and
// the last one stands) — and returns the error saying so.
func (f *fitter) stopped(err error, inStep bool) error {
	var state []byte
	if inStep && f.cfg.Checkpoint != "" && f.net.State != nil {
		if !f.stateKept {
			return fmt.Errorf("train: %s stopped inside step %d (resuming from the last checkpoint): %w", f.model.Name(), f.step+1, err)
		}
		state = f.doneState
	}
	if cerr := f.checkpointWith(false, f.doneSolver, state); cerr != nil {
		return errors.Join(err, cerr)
	}
	return fmt.Errorf("train: %s stopped at step %d: %w", f.model.Name(), f.step, err)
}

// progress starts the progress display, if there is one.
func (f *fitter) progress(st *State) *Progress {
	if f.cfg.ProgressOut == nil {
		return nil
	}
	prog := NewProgress(f.cfg.ProgressOut, f.cfg.Progress, f.model.Name(), f.total)
	prog.done = f.step
	prog.Describe(func() string {
		s := fmt.Sprintf("epoch %d/%d loss %.4f", f.epoch+1, f.cfg.Epochs, st.Loss)
		if f.net.SolverStats != nil {
			s += fmt.Sprintf(" fwd %.1f it", f.net.SolverStats().MeanForward())
		}
		return s
	})
	return prog
}

// stepOn trains one step on the samples idx, then logs, runs the step
// hooks and checkpoints as configured.
func (f *fitter) stepOn(st *State, idx []int) error {
	cfg := f.cfg
	t0 := time.Now()
	loss, lr, err := f.trainStep(idx)
	if err != nil {
		return err
	}
	f.seconds += time.Since(t0).Seconds()
	f.samples += len(idx)
	f.peak = f.heap.sample()
	f.step++
	f.doneSolver = f.solverStats()
	if err := f.keepState(); err != nil {
		return err
	}
	killpoint.At("train:%s:%d", f.model.Name(), f.step)
	f.inEpoch++
	f.lastLoss = loss
	if f.step == 1 {
		f.firstLoss = loss
	}
	f.intervalLoss += loss
	f.intervalSteps++
	f.epochLoss += loss
	f.epochSteps++
	st.Epoch, st.Step, st.Loss, st.LR = f.epoch, f.step, loss, lr
	st.EpochLoss = f.epochLoss / float64(f.epochSteps)
	if f.step%cfg.LogEvery == 0 || f.step == f.total {
		now := f.solverStats()
		if err := cfg.Metrics.Write(f.record("step", f.intervalLoss/float64(f.intervalSteps), lr, f.intervalSolver, now)); err != nil {
			return err
		}
		f.intervalLoss, f.intervalSteps, f.intervalSolver = 0, 0, now
	}
	if err := runHooks(cfg.Hooks, st, func(h Hook) func(*State) error { return h.Step }); err != nil {
		return err
	}
	if cfg.CheckpointEvery > 0 && f.step%cfg.CheckpointEvery == 0 {
		return f.checkpoint(false)
	}
	return nil
}

// endEpoch closes an epoch (or the part of one a hook stopped): the epoch
// hooks, the epoch record with the solves' health, and a checkpoint.
func (f *fitter) endEpoch(st *State) error {
	if f.inEpoch >= f.perEpoch {
		f.epoch++
		f.inEpoch = 0
	}
	if f.epochSteps > 0 {
		st.EpochMetric = nil
		if err := runHooks(f.cfg.Hooks, st, func(h Hook) func(*State) error { return h.Epoch }); err != nil {
			return err
		}
		mean := f.epochLoss / float64(f.epochSteps)
		if f.firstEpochLoss == 0 {
			f.firstEpochLoss = mean
		}
		f.lastEpochLoss = mean
		rec := f.record("epoch", mean, st.LR, SolverStats{}, SolverStats{})
		rec.Epoch = f.epoch - 1
		if f.inEpoch != 0 { // stopped inside an epoch
			rec.Epoch = f.epoch
		}
		rec.Metric = st.EpochMetric
		f.keep.afterEpoch(f.net.Params, st.EpochMetric)
		if err := f.epochHealth(&rec); err != nil {
			return err
		}
		if err := f.cfg.Metrics.Write(rec); err != nil {
			return err
		}
		f.epochLoss, f.epochSteps = 0, 0
	}
	return f.checkpoint(false)
}

// runHooks runs one kind of hook (which picks it from a Hook) in order.
func runHooks(hooks []Hook, st *State, which func(Hook) func(*State) error) error {
	for _, h := range hooks {
		if fn := which(h); fn != nil {
			if err := fn(st); err != nil {
				return fmt.Errorf("train: hook %s: %w", h.Name, err)
			}
		}
	}
	return nil
}

// epochHealth fills the epoch record with the solves' health — the
// fractions of samples that missed their tolerance, the spectral radius —
// warns about failures and enforces MaxNotConverged.
func (f *fitter) epochHealth(rec *Record) error {
	now := f.solverStats()
	d := now.Sub(f.epochSolver)
	f.epochSolver = now
	rec.NotConverged, rec.BackwardNotConverged = d.NotConvergedFraction(), d.BackwardNotConvergedFraction()
	rec.ForwardIters, rec.BackwardIters = d.MeanForward(), d.MeanBackward()
	rec.Skipped = f.sess.Skipped
	if f.cfg.MonitorSpectralRadius && f.net.SpectralRadius != nil {
		rho, err := f.net.SpectralRadius()
		if err != nil {
			return err
		}
		rec.SpectralRadius, f.radius = rho, rho
	}
	w := f.cfg.Warnings
	if w == nil {
		w = f.cfg.ProgressOut
	}
	if w != nil && (rec.NotConverged > 0 || rec.BackwardNotConverged > 0) {
		fmt.Fprintf(w, "warning: %s epoch %d: %.2f%% of forward and %.2f%% of backward samples missed their tolerance (mean iterations %.1f / %.1f)",
			f.model.Name(), rec.Epoch+1, 100*rec.NotConverged, 100*rec.BackwardNotConverged, rec.ForwardIters, rec.BackwardIters)
		if rec.SpectralRadius > 0 {
			fmt.Fprintf(w, ", spectral radius %.3g", rec.SpectralRadius)
		}
		fmt.Fprintln(w, "; raise -max-iter, loosen -tol, lower -lr, or constrain the cell")
	}
	if m := f.cfg.MaxNotConverged; m > 0 && (rec.NotConverged > m || rec.BackwardNotConverged > m) {
		return fmt.Errorf("train: %s epoch %d: %.2f%% of forward and %.2f%% of backward samples missed their tolerance, more than the %.2f%% allowed; the implicit layer is losing its fixed point (raise -max-iter, lower -lr, or constrain the cell)",
			f.model.Name(), rec.Epoch+1, 100*rec.NotConverged, 100*rec.BackwardNotConverged, 100*m)
	}
	return nil
}

// trainStep runs one batch forward and backward and applies the optimizer
// at the scheduled rate.
func (f *fitter) trainStep(idx []int) (loss, lr float64, err error) {
	lr = f.cfg.Schedule.Rate(f.baseLR, f.step, f.total) * f.keep.lrScale
	f.opt.SetLearnRate(lr)
	f.keep.beforeStep(f.net.Params)
	loss, err = f.sess.Step(f.data, idx)
	if err != nil {
		return 0, 0, fmt.Errorf("%w (step %d)", err, f.step)
	}
	f.keep.afterStep(f.net.Params, loss, lr)
	return loss, lr, nil
}

func (f *fitter) record(event string, loss, lr float64, from, to SolverStats) Record {
	rec := Record{Model: f.model.Name(), Event: event, Epoch: f.epoch, Step: f.step, Loss: loss, LR: lr, Seconds: f.seconds}
	d := to.Sub(from)
	rec.ForwardIters, rec.BackwardIters, rec.NotConverged = d.MeanForward(), d.MeanBackward(), d.NotConvergedFraction()
	rec.BackwardNotConverged = d.BackwardNotConvergedFraction()
	return rec
}

// scalarValue reads a scalar node as float64.
func scalarValue(n *G.Node) (float64, error) {
	v := n.Value()
	if v == nil {
		return 0, fmt.Errorf("train: %s has no value", n.Name())
	}
	switch d := v.Data().(type) {
	case float64:
		return d, nil
	case float32:
		return float64(d), nil
	}
	return 0, fmt.Errorf("train: %s is not a scalar (%T)", n.Name(), v.Data())
}

// heapSampler tracks the peak live heap, as marked by each garbage
// collection during training and by one forced at the end, above its level
// before the model was built (so the data and earlier models do not count,
// the graph, parameters, optimizer state and buffers do): runtime/metrics,
// no stop-the-world. Sampling the heap's size instead would count garbage
// awaiting collection, which scales with the data held, not the model.
type heapSampler struct {
	s          []metrics.Sample
	base, peak uint64
}

func newHeapSampler() *heapSampler {
	// Two collections: Gorgonia's machines have finalizers, so garbage
	// models survive the first.
	runtime.GC()
	runtime.GC()
	h := &heapSampler{s: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	h.base = h.read()
	return h
}

func (h *heapSampler) read() uint64 {
	metrics.Read(h.s)
	if h.s[0].Value.Kind() == metrics.KindUint64 {
		return h.s[0].Value.Uint64()
	}
	return 0
}

// sample returns the peak so far of the live heap minus the baseline.
func (h *heapSampler) sample() uint64 {
	if v := h.read(); v > h.base && v-h.base > h.peak {
		h.peak = v - h.base
	}
	return h.peak
}

// epochStream offsets the second word of the PCG seed of each epoch's
// order (epoch + epochStream), away from the other streams of one seed
// (the 64-bit golden ratio).
const epochStream = 0x9e3779b97f4a7c15
