// Command gobench is the Go side of `make bench-compare`: it trains and
// evaluates one of the classify experiment's models on MNIST exactly as
// bench/pytorch/bench.py does on the PyTorch side, and prints one JSON
// object with the throughputs and iteration counts.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/internal/linalg"
	"github.com/implicit-ml/implicit/train"
	"github.com/implicit-ml/implicit/train/experiments"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gobench:", err)
		os.Exit(1)
	}
}

func run() error {
	workload := flag.String("workload", "classify", "the workload whose model runs (classify)")
	model := flag.String("model", "mlp", "mlp, deq or unrolled")
	batch := flag.Int("batch", 64, "training batch size")
	steps := flag.Int("steps", 300, "timed training steps (after 10 warm-up steps)")
	hidden := flag.Int("hidden", 128, "hidden width")
	tol := flag.Float64("tol", 1e-4, "relative residual of the solves")
	maxIter := flag.Int("max-iter", 50, "iteration cap of the solves")
	unroll := flag.Int("unroll", 10, "depth of the unrolled twin")
	fixed := flag.Int("fixed", 0, "train the DEQ at exactly this many forward and adjoint iterations (no early stop)")
	inferIters := flag.Int("infer-iters", 10, "fixed iteration count of the DEQ at inference")
	adjoint := flag.String("adjoint", "picard", "IFT adjoint solver (picard: fixed-point iteration, as the PyTorch reference)")
	dtype := flag.String("dtype", "float32", "float32 or float64")
	data := flag.String("data", "", "MNIST folder (default: the module cache)")
	printData := flag.Bool("print-data", false, "print the MNIST folder and exit (for the PyTorch side)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the timed training steps to this file")
	warmup := flag.Int("warmup", 10, "untimed warm-up steps before the timed ones")
	paramsOut := flag.String("params-out", "", "write the initial parameters to this JSON file (bench.py --init reads it)")
	inferReps := flag.Int("infer-reps", 0, "inference repetitions (0: about 100,000 samples)")
	trace := flag.Int("trace", 0, "report the loss and solver iterations of each of the first N steps (warm-up included)")
	flag.Parse()
	if *printData {
		dir, err := datasets.MNISTDir(*data)
		if err != nil {
			return err
		}
		fmt.Println(dir)
		return nil
	}

	if *workload != "classify" {
		return fmt.Errorf("-workload %q: want classify", *workload)
	}
	dt := tensor.Float32
	if *dtype == "float64" {
		dt = tensor.Float64
	}
	m, err := classifyModel(*model, *unroll, *fixed, experiments.Options{
		Hidden: *hidden, Dtype: dt, Tol: *tol, MaxIter: *maxIter, AdjointSolver: *adjoint, Seed: 1,
	})
	if err != nil {
		return err
	}
	all, _, err := datasets.Load("mnist", *data)
	if err != nil {
		return err
	}
	mean, std := all.MeanStd()
	all.Standardize(mean, std)
	ds := all.Head(max(*steps**batch, 1000))

	sess, err := train.NewSession(m, *batch, train.OptimizerConfig{LR: 1e-3})
	if err != nil {
		return err
	}
	defer sess.Close()
	if *paramsOut != "" {
		if err := writeParams(*paramsOut, sess.Net().Params); err != nil {
			return err
		}
	}
	tt := timing{steps: *steps, warmup: *warmup, batch: *batch, trace: *trace, cpuProfile: *cpuProfile}
	trainSPS, loss, err := tt.train(sess, ds)
	if err != nil {
		return err
	}
	out := map[string]any{
		"side": "go", "model": *model, "train_samples_per_second": trainSPS,
		"final_loss": loss, "threads": runtime.GOMAXPROCS(0), "blas": linalg.Backend, "blas_kernel": linalg.Kernel(),
		"gemm_gflops": gemmGFLOPs(), "go": runtime.Version(),
		"dtype": dt.String(),
	}
	if *trace > 0 {
		out["trace"] = tt.rows
	}
	if f := sess.Net().SolverStats; f != nil {
		st := f()
		out["forward_iterations_mean"] = st.MeanForward()
		out["backward_iterations_mean"] = st.MeanBackward()
	}
	for _, b := range []int{64, 1000} {
		sps, err := timeInference(m, ds, b, *inferIters, *inferReps)
		if err != nil {
			return err
		}
		out[fmt.Sprintf("infer_samples_per_second_%d", b)] = sps
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

// timing is how training is timed: warmup untimed steps, then steps
// timed ones, profiled into cpuProfile when it is set; the first trace
// steps are recorded in rows.
type timing struct {
	steps, warmup, batch, trace int
	cpuProfile                  string
	rows                        []traceRow
}

// traceRow is one training step's loss and solver iterations, compared
// step by step with the PyTorch side's (bench.py --trace).
type traceRow struct {
	Step     int     `json:"step"`
	Loss     float64 `json:"loss"`
	Forward  int     `json:"forward_iterations"`
	Backward int     `json:"backward_iterations"`
}

// train runs the steps and returns the samples per second of the timed
// ones and the last loss.
func (tt *timing) train(sess *train.Session, ds train.Dataset) (float64, float64, error) {
	n := ds.Len()
	idx := make([]int, tt.batch)
	var t0 time.Time
	var loss float64
	net := sess.Net()
	for step := 0; step < tt.steps+tt.warmup; step++ {
		if step == tt.warmup {
			if net.ResetSolverStats != nil {
				net.ResetSolverStats()
			}
			if tt.cpuProfile != "" {
				stop, err := startProfile(tt.cpuProfile)
				if err != nil {
					return 0, 0, err
				}
				defer stop()
			}
			t0 = time.Now()
		}
		lo := (step * tt.batch) % (n - tt.batch)
		for i := range idx {
			idx[i] = lo + i
		}
		var before train.SolverStats
		if net.SolverStats != nil {
			before = net.SolverStats()
		}
		var err error
		if loss, err = sess.Step(ds, idx); err != nil {
			return 0, 0, err
		}
		if step < tt.trace {
			row := traceRow{Step: step, Loss: loss}
			if net.SolverStats != nil {
				d := net.SolverStats().Sub(before)
				row.Forward, row.Backward = d.ForwardIters, d.BackwardIters
			}
			tt.rows = append(tt.rows, row)
		}
	}
	return float64(tt.steps*tt.batch) / time.Since(t0).Seconds(), loss, nil
}

// startProfile starts a CPU profile into path and returns its stop.
func startProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// timeInference returns the inference samples per second at batch b, the
// implicit layers running iters iterations.
func timeInference(m train.Model, ds train.Dataset, b, iters, reps int) (float64, error) {
	ev, err := train.NewEvaluator(m, b)
	if err != nil {
		return 0, err
	}
	defer ev.Close()
	ev.SetIterations(iters)
	x := make([]float32, b*784)
	tgt := make([]float32, 10)
	for i := 0; i < b; i++ {
		ds.Sample(i, x[i*784:(i+1)*784], tgt)
	}
	for i := 0; i < 3; i++ {
		if _, err := ev.Predict32(x, b); err != nil {
			return 0, err
		}
	}
	if reps <= 0 {
		reps = max(3, 100000/b) // about a second: shorter runs varied by ±20%
	}
	t := time.Now()
	for i := 0; i < reps; i++ {
		if _, err := ev.Predict32(x, b); err != nil {
			return 0, err
		}
	}
	return float64(reps*b) / time.Since(t).Seconds(), nil
}

// gemmGFLOPs measures the 64×784×128 float32 GEMM of the BLAS in use.
func gemmGFLOPs() float64 {
	a := make([]float32, 64*784)
	b := make([]float32, 784*128)
	c := make([]float32, 64*128)
	for i := range a {
		a[i] = float32(i%7) * 0.1
	}
	for i := range b {
		b[i] = float32(i%5) * 0.1
	}
	for i := 0; i < 50; i++ {
		linalg.MatMul(c, a, b, 64, 784, 128)
	}
	const reps = 2000
	t := time.Now()
	for i := 0; i < reps; i++ {
		linalg.MatMul(c, a, b, 64, 784, 128)
	}
	return 2 * 64 * 784 * 128 * reps / time.Since(t).Seconds() / 1e9
}
