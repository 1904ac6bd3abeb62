package main

import "flag"

// newFlagSet binds the numeric and path flags to c; parseConfig adds the
// ones that need parsing.
func newFlagSet(c *config) *flag.FlagSet {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.IntVar(&c.pairs, "pairs", 3, "runs of every side per case (at least 3)")
	fs.IntVar(&c.steps, "steps", -1, "timed training steps per run (-1: each workload's own)")
	fs.IntVar(&c.warmup, "warmup", 10, "untimed warm-up steps per run")
	fs.IntVar(&c.threads, "threads", 2, "threads on both sides (GOMAXPROCS, torch.set_num_threads)")
	fs.IntVar(&c.batch, "batch", 0, "training batch size on both sides (0: each workload's own)")
	fs.IntVar(&c.inferReps, "infer-reps", 0, "inference repetitions per batch size (0: about 100,000 samples)")
	fs.IntVar(&c.trace, "trace", 3, "-check: training steps compared")
	fs.StringVar(&c.python, "python", "/usr/bin/python3", "Python with torch and numpy (Debian's python3-torch)")
	fs.StringVar(&c.data, "data", "", "MNIST folder (default: the Go module cache)")
	fs.BoolVar(&c.check, "check", false, "verify the twins instead of timing them: same initial weights, same losses and iterations")
	return fs
}
