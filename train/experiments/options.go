package experiments

import (
	"fmt"
	"io"
	"math"

	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/train"
)

// Options are the settings common to every experiment (the flags of
// cmd/train). Zero values mean the experiment's own defaults.
type Options struct {
	Experiment string
	// Dataset is "mnist" or "fashion" for image experiments.
	Dataset string
	// DataDir overrides where the dataset is looked for.
	DataDir string
	// Epochs, Batch, Hidden, LR: training settings; zero means the
	// experiment's default.
	Epochs, Batch, Hidden int
	LR                    float64
	Seed                  uint64
	// Solver is picard, anderson (default) or broyden.
	Solver string
	// Backward is ift (default), jfb, phantom or unrolled.
	Backward string
	// AdjointSolver solves IFT's linear system: anderson (default),
	// picard or gmres.
	AdjointSolver string
	// Tol and MaxIter set the forward (and IFT) stopping rule.
	Tol     float64
	MaxIter int
	// Optimizer is adam (default) or sgd; Schedule constant (default),
	// step or cosine; Clip the global gradient-norm clip (0: none).
	Optimizer, Schedule string
	Clip                float64
	// Out is the output folder.
	Out string
	// Resume continues the checkpoints in Out.
	Resume   bool
	Progress train.ProgressMode
	// Dtype is float32 or float64; zero means the experiment's default.
	Dtype tensor.Dtype
	// Quick runs a reduced configuration for CI (≤ 2 minutes).
	Quick bool
	// WarmStart starts every implicit solve in training from the sample's
	// own fixed point of the previous epoch.
	WarmStart bool
	// Problem selects a variant of an experiment (pde: darcy or
	// navier-stokes); empty means the experiment's default.
	Problem string
	// Radius is the half-width of the neighbourhoods of the poles the toy
	// experiment leaves out; zero means 0.02.
	Radius float64
	// Stdout receives the table; Stderr progress and logs.
	Stdout, Stderr io.Writer
	// Command is the command line, recorded in the report.
	Command string
}

// Validate rejects values no experiment can use.
func (o Options) Validate() error {
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
	case o.Clip < 0:
		return fmt.Errorf("clip %v must be ≥ 0", o.Clip)
	case o.Radius < 0 || o.Radius >= 0.5 || math.IsNaN(o.Radius):
		return fmt.Errorf("radius %v must be in [0, 0.5)", o.Radius)
	case o.Dtype != tensor.Float32 && o.Dtype != tensor.Float64 && o.Dtype != (tensor.Dtype{}):
		return fmt.Errorf("dtype %v: want float32 or float64", o.Dtype)
	}
	if _, err := ParseSolver(o.Solver); err != nil {
		return err
	}
	if _, err := ParseBackward(o.Backward, o.AdjointSolver, deq.Stop{}); err != nil {
		return err
	}
	if _, err := train.ParseSchedule(o.Schedule); err != nil {
		return err
	}
	if o.Optimizer != "" && o.Optimizer != "adam" && o.Optimizer != "sgd" {
		return fmt.Errorf("optimizer %q: want adam or sgd", o.Optimizer)
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

// dtype returns the element type asked for, or def.
func (o Options) dtype(def ...tensor.Dtype) tensor.Dtype {
	switch {
	case o.Dtype == tensor.Float64 || o.Dtype == tensor.Float32:
		return o.Dtype
	case len(def) > 0:
		return def[0]
	}
	return tensor.Float32
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
