// Command compare is `make bench-compare`: it runs the Go benchmark
// (bench/gobench, one binary per Go build) and the PyTorch twins
// (bench/pytorch/bench.py, the per-sample port of the Go solver and, for
// implicit models, a batched TorchDEQ-style variant) alternately — each Go
// build, then each PyTorch variant, for each case, -pairs times — with the
// same batch size and thread count, and prints per case the median over
// pairs of training and inference throughput, solver iterations per step,
// time per iteration and the ratio of each Go build to the faster PyTorch
// variant, plus each side's GEMM ceiling and the machine's load.
//
// With -check it instead verifies that every twin computes what its Go
// model computes: both sides start from the Go side's initial weights
// (gobench -params-out, bench.py --init) and the first few training steps'
// losses and iteration counts are compared.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

// defaultCases are the cases compared when -cases is not given.
const defaultCases = "classify/mlp,classify/deq,classify/deq@10,classify/unrolled," +
	"reason/explicit,reason/deq,reason/deq@33,reason/unrolled," +
	"deblur/once,deblur/pgd,deblur/pgd@20,deblur/hqs,deblur/hqs@20," +
	"lp/explicit,lp/implicit," +
	"pde/fno,pde/fno++2,pde/deq,pde/deq@12,darcy/explicit,darcy/implicit,darcy/implicit@10"

func run(args []string, stdout, stderr io.Writer) error {
	c, err := parseConfig(args)
	if err != nil {
		return err
	}
	if c.check {
		return runCheck(c, stdout, stderr)
	}
	load, _ := os.ReadFile("/proc/loadavg")
	batch := "each workload's own"
	if c.batch > 0 {
		batch = strconv.Itoa(c.batch)
	}
	steps := "each workload's own"
	if c.steps >= 0 {
		steps = strconv.Itoa(c.steps)
	}
	fmt.Fprintf(stdout, "bench-compare: %d pairs, batch %s, %d threads each side, training steps per run: %s\n", c.pairs, batch, c.threads, steps)
	fmt.Fprintf(stdout, "machine: %d CPUs, load average before: %s", runtime.NumCPU(), load)
	if ct := os.Getenv("OPENBLAS_CORETYPE"); ct != "" {
		fmt.Fprintf(stdout, "OPENBLAS_CORETYPE=%s\n", ct)
	} else {
		fmt.Fprintln(stdout, "OPENBLAS_CORETYPE unset: OpenBLAS picks its kernel by CPU detection (reported below)")
	}
	fmt.Fprintln(stdout, "PyTorch: torch.set_num_threads(threads), torch.set_flush_denormal(True), OMP_WAIT_POLICY=PASSIVE, OMP_NUM_THREADS=threads")
	start := time.Now()
	all := map[string]map[string][]result{} // case → side → runs
	for _, cs := range c.cases {
		all[cs.String()] = map[string][]result{}
		for p := 0; p < c.pairs; p++ {
			for _, sd := range c.sides(cs) {
				r, err := sd.run(c, cs, nil)
				if err != nil {
					return fmt.Errorf("%s, %s: %w", sd.label, cs, err)
				}
				all[cs.String()][sd.label] = append(all[cs.String()][sd.label], r)
				fmt.Fprintf(stderr, "%s pair %d: %s %.0f training samples/s\n", cs, p+1, sd.label, r.num("train_samples_per_second"))
			}
		}
	}
	load, _ = os.ReadFile("/proc/loadavg")
	report(stdout, c, all)
	fmt.Fprintf(stdout, "\nwall time %.0f s; load average after: %s", time.Since(start).Seconds(), load)
	return nil
}

// config is the command line.
type config struct {
	pairs, steps, warmup, threads, batch, inferReps, trace int
	cases                                                  []benchCase
	gobench                                                []string
	python, script, data                                   string
	torchSolvers                                           []string
	check                                                  bool
	env                                                    []string
}

func parseConfig(args []string) (*config, error) {
	c := &config{}
	fs := newFlagSet(c)
	cases := fs.String("cases", defaultCases, "cases WORKLOAD/MODEL[@K] (@K: the fixed-iteration variant, K forward and K adjoint iterations)")
	gobench := fs.String("gobench", "", "the Go benchmark binaries, one per build, comma-separated (built by the Makefile)")
	solvers := fs.String("torch-solvers", "port,batched", "PyTorch forward solvers of implicit models: port (deq.Anderson's port), batched (TorchDEQ-style)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if c.pairs < 3 && !c.check {
		return nil, fmt.Errorf("-pairs %d: at least 3 pairs are needed for a median", c.pairs)
	}
	if *gobench == "" {
		return nil, fmt.Errorf("-gobench is required (make bench-compare builds it)")
	}
	c.gobench = strings.Split(*gobench, ",")
	c.torchSolvers = strings.Split(*solvers, ",")
	for _, s := range c.torchSolvers {
		if s != "port" && s != "batched" {
			return nil, fmt.Errorf("-torch-solvers: %q is neither port nor batched", s)
		}
	}
	var err error
	if c.cases, err = parseCases(*cases); err != nil {
		return nil, err
	}
	if c.data == "" {
		out, err := runJSONless(c.gobench[0], "-print-data")
		if err != nil {
			return nil, fmt.Errorf("locating MNIST: %w", err)
		}
		c.data = strings.TrimSpace(out)
	}
	if c.script, err = filepath.Abs("bench/pytorch/bench.py"); err != nil {
		return nil, err
	}
	c.env = append(os.Environ(),
		"GOMAXPROCS="+strconv.Itoa(c.threads),
		"OMP_NUM_THREADS="+strconv.Itoa(c.threads),
		"OMP_WAIT_POLICY=PASSIVE",
	)
	return c, nil
}
