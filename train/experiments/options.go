package experiments

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/train"
)

// Options are the settings common to every experiment, as the command
// line gives them (the flags of cmd/train). A zero value means "the
// experiment's own default" (see Defaults); Resolve turns them into typed
// Settings.
type Options struct {
	Experiment string
	// Dataset is "mnist" or "fashion" for the image experiments.
	Dataset string
	// DataDir overrides where the dataset is looked for (or cached).
	DataDir string
	// Epochs, Batch, Hidden, LR: training settings.
	Epochs, Batch, Hidden int
	LR                    float64
	Seed                  uint64
	// Seeds, when set, runs the experiment once per seed, in sequence,
	// into the folders seed-N of Out, and writes one report there with
	// each figure's mean and spread over the seeds (see report.Combine).
	// Seed is then ignored.
	Seeds []uint64
	// Solver is picard, anderson or broyden.
	Solver string
	// Backward is ift, jfb, phantom or unrolled.
	Backward string
	// AdjointSolver solves IFT's linear system: anderson, picard or gmres.
	AdjointSolver string
	// Tol and MaxIter set the forward (and IFT) stopping rule.
	Tol     float64
	MaxIter int
	// Optimizer is adam (default) or sgd; Schedule constant, step or
	// cosine; Clip the global gradient-norm clip.
	Optimizer, Schedule string
	Clip                float64
	// Out is the output folder.
	Out string
	// Resume continues the checkpoints in Out.
	Resume   bool
	Progress train.ProgressMode
	// Dtype is float32 or float64.
	Dtype tensor.Dtype
	// Quick runs a reduced configuration for CI (≤ 2 minutes).
	Quick bool
	// WarmStart starts every implicit solve in training from the sample's
	// own fixed point of the previous epoch.
	WarmStart bool
	// Problem selects a variant of an experiment (Experiment.Problems).
	Problem string
	// Radius is the half-width of the neighbourhoods of the poles the toy
	// experiment leaves out.
	Radius float64
	// Shard, when active, trains only that shard's units into Out, a
	// folder every shard of the run shares; Merge then writes the report
	// (see Shard).
	Shard Shard
	// Stdout receives the table; Stderr progress and logs.
	Stdout, Stderr io.Writer
	// Command is the command line, recorded in the report.
	Command string

	// merge reads the units' results that shards wrote instead of
	// training (set by Merge); seedIndex is Seed's position in a
	// multi-seed run, which numbers its units.
	merge     bool
	seedIndex int
}

// Defaults are an experiment's own settings: what a zero Option means.
// Names are the command line's.
type Defaults struct {
	// Problems are the variants -problem accepts, the default first; nil
	// when the experiment has none (then -problem is a usage error).
	Problems []string
	// Datasets are the values -dataset accepts, the default first; nil
	// when the experiment reads no dataset flag.
	Datasets []string
	Epochs   int
	Batch    int
	// Hidden is the width -hidden sets; HiddenMeans says what it is
	// (hidden units, channels, embedding size…).
	Hidden      int
	HiddenMeans string
	LR          float64
	Schedule    string
	// Clip is the gradient-norm clip (0: none).
	Clip   float64
	Solver string
	// Backward names the default gradient mode; BackwardMode, when set,
	// is the value that name stands for in this experiment (the paper's
	// phantom gradient with its own steps and damping, say) — otherwise
	// the name's deq defaults.
	Backward     string
	BackwardMode deq.Backward
	Adjoint      string
	Tol          float64
	MaxIter      int
	Dtype        tensor.Dtype
	// Radius is the toy's; zero when the experiment takes no -radius.
	Radius float64
}

// Settings are Options resolved against an experiment's Defaults: every
// value typed and checked. Resolve is the only way to make them, so an
// experiment never meets a nil solver or an unknown name.
type Settings struct {
	// Options are the values as given (zero where defaulted), for what
	// Settings do not cover: the output folder, resume, progress, seed,
	// writers, and whether a value was given at all.
	Options
	Problem, Dataset      string
	Epochs, Batch, Hidden int
	LR, Clip              float64
	Schedule              train.Schedule
	Solver                deq.Solver
	Backward              deq.Backward
	// Stop is the forward stopping rule; an IFT Backward inherits it.
	Stop   deq.Stop
	Dtype  tensor.Dtype
	Radius float64
}

// Optimizer returns the optimizer settings at learning rate lr with the
// resolved clip.
func (s Settings) Optimizer(lr float64) train.OptimizerConfig {
	return train.OptimizerConfig{Kind: s.Options.Optimizer, LR: lr, ClipNorm: s.Clip}
}

// Resolve checks o against the defaults of experiment e and returns the
// typed settings, or a usage error naming the flag and what it accepts.
func Resolve(e Experiment, o Options) (Settings, error) {
	if err := o.validate(); err != nil {
		return Settings{}, Usage(err)
	}
	name := e.Name()
	problem, err := choose(name, "problem", o.Problem, e.Problems())
	if err != nil {
		return Settings{}, err
	}
	d := e.Defaults(problem, o.Quick)
	dataset, err := choose(name, "dataset", o.Dataset, d.Datasets)
	if err != nil {
		return Settings{}, err
	}
	if o.Hidden > maxHidden {
		return Settings{}, usagef("-hidden %d is too large: at most %d (a square weight of that width alone needs %d GiB)", o.Hidden, maxHidden, maxHidden*maxHidden*8>>30)
	}
	if o.Radius != 0 && d.Radius == 0 {
		return Settings{}, usagef("-radius is the toy experiment's; %s does not use it", name)
	}
	o.Experiment = e.Name()
	o.Out = outDir(o)
	s := Settings{Options: o, Problem: problem, Dataset: dataset,
		Epochs: orInt(o.Epochs, d.Epochs), Batch: orInt(o.Batch, d.Batch), Hidden: orInt(o.Hidden, d.Hidden),
		LR: orFloat(o.LR, d.LR), Clip: orFloat(o.Clip, d.Clip), Radius: orFloat(o.Radius, d.Radius),
		Stop:  deq.Stop{Tol: orFloat(o.Tol, d.Tol), MaxIter: orInt(o.MaxIter, d.MaxIter)},
		Dtype: orDtype(o.Dtype, d.Dtype),
	}
	if s.Dtype == tensor.Float32 && s.Stop.Tol > 0 && s.Stop.Tol < float32Reach && s.Stop.Mode == deq.Relative {
		return Settings{}, usagef("-tol %g is below what float32 solves can reach (relative residuals of about %g); use -dtype float64 or a larger -tol", s.Stop.Tol, float32Reach)
	}
	if s.Schedule, err = train.ParseSchedule(orString(o.Schedule, d.Schedule)); err != nil {
		return Settings{}, Usage(err)
	}
	if s.Solver, err = ParseSolver(orString(o.Solver, d.Solver)); err != nil {
		return Settings{}, Usage(err)
	}
	backward := orString(o.Backward, d.Backward)
	if backward == d.Backward && d.BackwardMode != nil {
		s.Backward = d.BackwardMode
	} else if s.Backward, err = ParseBackward(backward, orString(o.AdjointSolver, d.Adjoint), s.Stop); err != nil {
		return Settings{}, Usage(err)
	}
	return s, nil
}

// maxHidden bounds -hidden: wider layers cannot be held in the memory of
// the machines this runs on (a square float64 weight of this width alone
// takes 32 GiB).
const maxHidden = 1 << 16

// float32Reach is about the smallest relative residual a float32 solve
// can meet: rounding leaves ‖F(z) − z‖/‖F(z)‖ near float32's epsilon.
const float32Reach = 1e-7

// choose returns the value of a flag that takes one of allowed (the
// default first), or a usage error.
func choose(experiment, flag, given string, allowed []string) (string, error) {
	switch {
	case given == "" && len(allowed) > 0:
		return allowed[0], nil
	case given == "":
		return "", nil
	case len(allowed) == 0:
		return "", usagef("-%s %q: the %s experiment has no -%s", flag, given, experiment, flag)
	case !slices.Contains(allowed, given):
		return "", usagef("-%s %q: %s takes %s", flag, given, experiment, strings.Join(allowed, ", "))
	}
	return given, nil
}

// validate rejects values no experiment can use.
func (o Options) validate() error {
	switch {
	case o.Epochs < 0:
		return fmt.Errorf("epochs %d must be ≥ 0", o.Epochs)
	case o.Batch < 0:
		return fmt.Errorf("batch %d must be positive", o.Batch)
	case o.Hidden < 0:
		return fmt.Errorf("hidden %d must be positive", o.Hidden)
	case o.LR < 0 || math.IsNaN(o.LR) || math.IsInf(o.LR, 0):
		return fmt.Errorf("lr %v must be positive", o.LR)
	case o.Tol < 0 || math.IsNaN(o.Tol) || math.IsInf(o.Tol, 0):
		return fmt.Errorf("tol %v must be positive", o.Tol)
	case o.MaxIter < 0:
		return fmt.Errorf("max-iter %d must be positive", o.MaxIter)
	case o.Clip < 0 || math.IsNaN(o.Clip) || math.IsInf(o.Clip, 0):
		return fmt.Errorf("clip %v must be ≥ 0 and finite", o.Clip)
	case o.Radius < 0 || o.Radius >= 0.5 || math.IsNaN(o.Radius):
		return fmt.Errorf("radius %v must be in [0, 0.5)", o.Radius)
	case o.Dtype != tensor.Float32 && o.Dtype != tensor.Float64 && o.Dtype != (tensor.Dtype{}):
		return fmt.Errorf("dtype %v: want float32 or float64", o.Dtype)
	case o.Optimizer != "" && o.Optimizer != "adam" && o.Optimizer != "sgd":
		return fmt.Errorf("optimizer %q: want adam or sgd", o.Optimizer)
	case len(o.Seeds) > maxSeeds:
		return fmt.Errorf("seeds: %d seeds, at most %d", len(o.Seeds), maxSeeds)
	}
	for i, s := range o.Seeds {
		if slices.Contains(o.Seeds[:i], s) {
			return fmt.Errorf("seeds: seed %d is listed twice", s)
		}
	}
	return nil
}

// orInt returns v, or def when v is zero.
func orInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// orString returns v, or def when v is empty.
func orString(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// orFloat returns v, or def when v is zero.
func orFloat(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}

// ParseSolver returns the forward solver named s.
func ParseSolver(s string) (deq.Solver, error) {
	switch s {
	case "", "anderson":
		return deq.Anderson{}, nil
	case "picard":
		return deq.Picard{}, nil
	case "broyden":
		return deq.Broyden{}, nil
	}
	return nil, fmt.Errorf("solver %q: want picard, anderson or broyden", s)
}

// ParseBackward returns the gradient mode named s (with IFT's linear
// solver named adj) and the adjoint stopping rule stop.
func ParseBackward(s, adj string, stop deq.Stop) (deq.Backward, error) {
	var lin deq.LinearSolver
	switch adj {
	case "", "anderson":
		lin = deq.Anderson{}
	case "picard":
		lin = deq.Picard{}
	case "gmres":
		lin = deq.GMRES{}
	default:
		return nil, fmt.Errorf("adjoint solver %q: want anderson, picard or gmres", adj)
	}
	switch s {
	case "", "ift":
		return deq.IFT{Solver: lin, Stop: stop}, nil
	case "jfb":
		return deq.JFB{}, nil
	case "phantom":
		return deq.Phantom{}, nil
	case "unrolled":
		return deq.Unrolled{}, nil
	}
	return nil, fmt.Errorf("backward %q: want ift, jfb, phantom or unrolled", s)
}

// orDtype returns v, or def when v is the zero Dtype.
func orDtype(v, def tensor.Dtype) tensor.Dtype {
	if v == (tensor.Dtype{}) {
		return def
	}
	return v
}
