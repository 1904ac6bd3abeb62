// Command train runs an experiment: it trains explicit and implicit models
// side by side and writes report.json, report.md, PNG plots, metrics.jsonl
// and curves.csv.
//
//	go run ./cmd/train                        # classify on MNIST, a few minutes
//	go run ./cmd/train -experiment classify -dataset fashion
//	go run ./cmd/train -quick                 # the reduced CI configuration
//	go run ./cmd/train -out runs/x -resume    # continue an interrupted run
//
// Run with -h for every flag.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/train"
	"github.com/implicit-ml/implicit/train/experiments"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	var stopped *experiments.Interrupted
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.As(err, &stopped):
		// A signal stopped the run after it saved its checkpoints; the
		// message says how to continue it. 130 is the shells' code for a
		// command ended by SIGINT.
		fmt.Fprintln(os.Stderr, err)
		os.Exit(130)
	case experiments.UsageError(err):
		fmt.Fprintln(os.Stderr, "usage error:", err)
		fmt.Fprintln(os.Stderr, "run 'go run ./cmd/train -h' for the flags")
		os.Exit(2)
	default:
		// Errors already name their package ("train: …", "datasets: …").
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// config is the typed command line.
type config struct {
	experiments.Options
	list  bool
	set   map[string]bool // flags given explicitly
	dtype string
	prog  string
	seeds string
	// cpuProfile is the file a CPU profile of the whole run goes to
	// (pprof format; empty: none).
	cpuProfile string
	// shard is -shard i/n, shards -shards n (the count with an index from
	// the scheduler's variables), merge the folder -merge writes the
	// report of; getenv reads the scheduler's variables.
	shard, merge string
	shards       int
	getenv       func(string) string
}

// Validate checks the values as given: an explicit zero or negative
// batch, tolerance, learning rate … is an error rather than "default".
func (c *config) Validate() error {
	positive := map[string]float64{
		"epochs": float64(c.Epochs), "batch": float64(c.Batch), "hidden": float64(c.Hidden),
		"lr": c.LR, "tol": c.Tol, "max-iter": float64(c.MaxIter), "radius": c.Radius,
	}
	for name, v := range positive {
		if c.set[name] && !(v > 0) {
			return fmt.Errorf("-%s must be positive, got %v", name, v)
		}
	}
	switch c.dtype {
	case "":
	case "float32":
		c.Dtype = tensor.Float32
	case "float64":
		c.Dtype = tensor.Float64
	default:
		return fmt.Errorf("-dtype %q: want float32 or float64", c.dtype)
	}
	p, err := train.ParseProgress(c.prog)
	if err != nil {
		return err
	}
	c.Progress = p
	if c.seeds != "" {
		if c.set["seed"] {
			return fmt.Errorf("-seed and -seeds are exclusive: -seeds %s runs each of its seeds", c.seeds)
		}
		if c.Seeds, err = experiments.ParseSeeds(c.seeds); err != nil {
			return err
		}
	}
	if c.Resume && c.Out == "" {
		return fmt.Errorf("-resume needs -out: the folder of the run to continue")
	}
	return c.validateShard()
}

// validateShard reads the shard from -shard, or else from the cluster
// scheduler's variables (experiments.ShardFromEnv); a sharded run needs
// the shared -out folder, and -merge takes no shard.
func (c *config) validateShard() error {
	if c.merge != "" {
		if c.shard != "" || c.shards != 0 {
			return fmt.Errorf("-merge writes the report of every shard's units; it takes no -shard or -shards")
		}
		return nil
	}
	if c.shard != "" {
		s, err := experiments.ParseShard(c.shard)
		if err != nil {
			return err
		}
		if c.shards != 0 && c.shards != s.Count {
			return fmt.Errorf("-shard %s and -shards %d disagree on the shard count", c.shard, c.shards)
		}
		c.Shard = s
	} else {
		s, ok, err := experiments.ShardFromEnv(c.getenv, c.shards)
		if err != nil {
			return err
		}
		if ok {
			c.Shard = s
		}
	}
	if c.Shard.Active() && c.Out == "" {
		return fmt.Errorf("shard %s needs -out: the folder every shard of the run shares", c.Shard)
	}
	return nil
}

func parse(args []string, stderr io.Writer) (*config, error) {
	c := &config{set: map[string]bool{}, getenv: os.Getenv}
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &c.Options
	fs.StringVar(&o.Experiment, "experiment", "classify", "experiment to run: "+strings.Join(experiments.Names(), ", "))
	fs.BoolVar(&c.list, "list", false, "list the experiments and exit")
	fs.StringVar(&o.Dataset, "dataset", "", "dataset: mnist or fashion (image experiments; default mnist)")
	fs.StringVar(&o.DataDir, "data", "", "folder holding the dataset's IDX files (default: the Go module cache for MNIST, /usr/share/datasets/fashion-mnist for Fashion-MNIST)")
	fs.IntVar(&o.Epochs, "epochs", 0, "training epochs (default: the experiment's, see below)")
	fs.IntVar(&o.Batch, "batch", 0, "training batch size (default: the experiment's, see below)")
	fs.IntVar(&o.Hidden, "hidden", 0, "hidden width, channels or embedding size (default: the experiment's, see below)")
	fs.Float64Var(&o.LR, "lr", 0, "learning rate (default: the experiment's, see below)")
	fs.Uint64Var(&o.Seed, "seed", 1, "random seed: initialisation, data order and splits")
	fs.StringVar(&c.seeds, "seeds", "", "run once per seed, in sequence (a list such as 1,2,3 or a range such as 1-5), and report the mean ± std over seeds")
	fs.StringVar(&o.Solver, "solver", "", "forward fixed-point solver: picard, anderson or broyden (default: the experiment's, see below)")
	fs.StringVar(&o.Backward, "backward", "", "gradient mode: ift, jfb, phantom or unrolled (default: the experiment's, see below)")
	fs.StringVar(&o.AdjointSolver, "adjoint", "", "IFT adjoint solver: anderson, picard or gmres (default: the experiment's, see below)")
	fs.Float64Var(&o.Tol, "tol", 0, "relative residual at which solves stop (default: the experiment's, see below)")
	fs.IntVar(&o.MaxIter, "max-iter", 0, "iteration cap of the solves (default: the experiment's, see below)")
	fs.StringVar(&o.Optimizer, "optimizer", "adam", "optimizer: adam or sgd (with momentum 0.9)")
	fs.StringVar(&o.Schedule, "schedule", "", "learning-rate schedule: constant, step or cosine (default: the experiment's, see below)")
	fs.Float64Var(&o.Clip, "clip", 0, "clip the gradient's global norm to this value (default: the experiment's, see below; 0 there means none)")
	fs.StringVar(&o.Out, "out", "", "output folder (default runs/<experiment>-<timestamp>)")
	fs.BoolVar(&o.Resume, "resume", false, "continue the run in -out from its checkpoints")
	fs.StringVar(&c.prog, "progress", "auto", "progress display: auto (a bar on a terminal, a log line every few seconds otherwise), always or never")
	fs.StringVar(&c.dtype, "dtype", "", "element type: float32 or float64 (default: the experiment's, see below)")
	fs.BoolVar(&o.WarmStart, "warm-start", false, "start each training solve from the sample's fixed point of the previous epoch")
	fs.StringVar(&o.Problem, "problem", "", "variant of the experiment (see the problems below; experiments without variants take none)")
	fs.Float64Var(&o.Radius, "radius", 0, "toy: half-width of the neighbourhoods of the poles 0 and 1 left out of the data (default 0.02)")
	fs.BoolVar(&o.Quick, "quick", false, "run the reduced configuration (≤ 2 minutes, used by CI)")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file (read it with go tool pprof)")
	fs.StringVar(&c.shard, "shard", "", "train only shard i of n of the run's units (i/n; default: SLURM_ARRAY_TASK_ID of SLURM_ARRAY_TASK_COUNT, or JOB_COMPLETION_INDEX of -shards); every shard shares -out")
	fs.IntVar(&c.shards, "shards", 0, "the shard count, with the index from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job; default IMPLICIT_SHARDS)")
	fs.StringVar(&c.merge, "merge", "", "write the report of the sharded run in this folder once every shard is done (names any unit missing and the shard to rerun)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./cmd/train [flags]\n\nTrains explicit and implicit models side by side and writes report.json, report.md,\nPNG plots, metrics.jsonl and curves.csv into -out.\n\nflags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\neach experiment's own defaults (what a flag left out means; -quick reduces epochs and data):\n\n")
		experiments.WriteDefaults(stderr)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usageErr(err)
	}
	if fs.NArg() > 0 {
		return nil, usageErr(fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	fs.Visit(func(f *flag.Flag) { c.set[f.Name] = true })
	if err := c.Validate(); err != nil {
		return nil, usageErr(err)
	}
	o.Command = "go run ./cmd/train " + strings.Join(args, " ")
	return c, nil
}

// usageErr marks err as a usage error (exit status 2).
func usageErr(err error) error { return experiments.Usage(err) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parse(args, stderr)
	if err != nil {
		return err
	}
	if c.list {
		all := experiments.All()
		for _, n := range experiments.Names() {
			fmt.Fprintf(stdout, "%-10s %s\n", n, all[n].Summary())
		}
		fmt.Fprintln(stdout)
		return experiments.WriteDefaults(stdout)
	}
	c.Stdout, c.Stderr = stdout, stderr
	stopProfile, err := startCPUProfile(c.cpuProfile)
	if err != nil {
		return err
	}
	if c.merge != "" {
		_, err = experiments.Merge(ctx, c.merge, c.Options)
	} else {
		_, err = experiments.Run(ctx, c.Options)
	}
	return errors.Join(err, stopProfile())
}

// startCPUProfile starts a CPU profile into path (none when path is empty)
// and returns the function that ends it and closes the file.
func startCPUProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("-cpuprofile: %w", err)
		}
		return nil
	}, nil
}
