// Command gobench is the Go side of `make bench-compare`: it trains and
// evaluates one model of one workload (-workload classify, reason,
// deblur, lp, pde or darcy; see workload.go) exactly as its twin in bench/pytorch
// does on the PyTorch side, and prints one JSON object with the throughputs and
// iteration counts. -params-out writes the initial parameters and -trace
// the first steps' losses and iterations, which `bench/compare -check`
// holds against the twin's.
package main

import (
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/internal/linalg"
	"github.com/implicit-ml/implicit/train"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gobench:", err)
		os.Exit(1)
	}
}

// flags are the command line; each workload reads what it needs.
type flags struct {
	workload, model, adjoint, dtype, data       string
	batch, steps, warmup, hidden, maxIter       int
	unroll, fixed, inferIters, inferReps, trace int
	tol                                         float64
	fixedParams                                 []param     // constants the twin needs (setup sets them)
	inferModel                                  train.Model // the model inference runs, when not the trained one (setup sets it)
	dt                                          tensor.Dtype
}

func run() error {
	var f flags
	flag.StringVar(&f.workload, "workload", "classify", "the workload whose model runs: "+strings.Join(workloadNames(), ", "))
	flag.StringVar(&f.model, "model", "mlp", "the workload's model (classify: mlp, deq or unrolled; reason: deq, unrolled or explicit; deblur: once, pgd or hqs; lp: explicit or implicit; pde: deq, fno or fno++2; darcy: explicit or implicit)")
	flag.IntVar(&f.batch, "batch", 0, "training batch size (0: the workload's)")
	flag.IntVar(&f.steps, "steps", -1, "timed training steps after the warm-up steps (-1: the workload's)")
	flag.IntVar(&f.warmup, "warmup", 10, "untimed warm-up steps before the timed ones")
	flag.IntVar(&f.hidden, "hidden", 0, "hidden width (0: the workload's)")
	flag.Float64Var(&f.tol, "tol", 0, "relative residual of the solves (0: the workload's)")
	flag.IntVar(&f.maxIter, "max-iter", 0, "iteration cap of the solves (0: the workload's)")
	flag.IntVar(&f.unroll, "unroll", 10, "depth of classify's unrolled twin")
	flag.IntVar(&f.fixed, "fixed", 0, "train the implicit model at exactly this many forward and adjoint iterations (no early stop)")
	flag.IntVar(&f.inferIters, "infer-iters", 0, "fixed iteration count of implicit models at inference (0: the workload's)")
	flag.StringVar(&f.adjoint, "adjoint", "picard", "IFT adjoint solver (picard: fixed-point iteration, as the PyTorch twins)")
	flag.StringVar(&f.dtype, "dtype", "float32", "float32 or float64")
	flag.StringVar(&f.data, "data", "", "MNIST folder (default: the module cache)")
	printData := flag.Bool("print-data", false, "print the MNIST folder and exit (for the PyTorch side)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the timed training steps to this file")
	paramsOut := flag.String("params-out", "", "write the initial parameters to this JSON file (bench.py --init reads it)")
	flag.IntVar(&f.inferReps, "infer-reps", 0, "inference repetitions (0: the workload's number of samples)")
	flag.IntVar(&f.trace, "trace", 0, "report the loss and solver iterations of each of the first N steps (warm-up included)")
	flag.Parse()
	if *printData {
		dir, err := datasets.MNISTDir(f.data)
		if err != nil {
			return err
		}
		fmt.Println(dir)
		return nil
	}
	w, ok := workloads[f.workload]
	if !ok {
		return fmt.Errorf("-workload %q: want one of %s", f.workload, strings.Join(workloadNames(), ", "))
	}
	f.batch = cmp.Or(f.batch, w.batch)
	if f.steps < 0 {
		f.steps = w.steps
	}
	f.dt = tensor.Float32
	if f.dtype == "float64" {
		f.dt = tensor.Float64
	}
	m, ds, err := w.setup(&f)
	if err != nil {
		return err
	}
	sess, err := train.NewSession(m, f.batch, train.OptimizerConfig{LR: 1e-3})
	if err != nil {
		return err
	}
	defer sess.Close()
	if *paramsOut != "" {
		if err := writeParams(*paramsOut, sess.Net().Params, f.fixedParams); err != nil {
			return err
		}
	}
	im := m
	if f.inferModel != nil {
		im = f.inferModel
	}
	var pred []float32
	if f.trace > 0 { // the predictions at the initial weights, held against the twin's
		if pred, err = firstPredictions(im, ds, w.inferBatches[0], cmp.Or(f.inferIters, w.inferIters)); err != nil {
			return err
		}
	}
	tt := timing{steps: f.steps, warmup: f.warmup, batch: f.batch, trace: f.trace, cpuProfile: *cpuProfile}
	trainSPS, loss, err := tt.train(sess, ds)
	if err != nil {
		return err
	}
	out := map[string]any{
		"side": "go", "workload": f.workload, "model": f.model, "batch": f.batch, "steps": f.steps, "train_samples_per_second": trainSPS,
		"final_loss": loss, "threads": runtime.GOMAXPROCS(0), "blas": linalg.Backend, "blas_kernel": linalg.Kernel(),
		"gemm_gflops": gemmGFLOPs(), "go": runtime.Version(),
		"dtype": f.dt.String(),
	}
	if f.trace > 0 {
		out["trace"], out["infer_output"] = tt.rows, pred
	}
	if sf := sess.Net().SolverStats; sf != nil {
		st := sf()
		out["forward_iterations_mean"] = st.MeanForward()
		out["backward_iterations_mean"] = st.MeanBackward()
	}
	for _, b := range w.inferBatches {
		reps := f.inferReps
		if reps <= 0 {
			reps = max(3, w.inferSamples/b) // about a second: shorter runs varied by ±20%
		}
		sps, err := timeInference(im, ds, b, cmp.Or(f.inferIters, w.inferIters), reps)
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

// inference is an evaluator of a model at batch b whose input x holds
// the first b samples of a dataset.
type inference struct {
	ev *train.Evaluator
	x  []float32
	b  int
}

// newInference returns the evaluator of m at batch b, the implicit layers
// running iters iterations; Close it.
func newInference(m train.Model, ds train.Dataset, b, iters int) (*inference, error) {
	ev, err := train.NewEvaluator(m, b)
	if err != nil {
		return nil, err
	}
	ev.SetIterations(iters)
	in, tn := prod(ds.InputShape()), prod(ds.TargetShape())
	x := make([]float32, b*in)
	tgt := make([]float32, tn)
	for i := 0; i < b; i++ {
		ds.Sample(i%ds.Len(), x[i*in:(i+1)*in], tgt)
	}
	return &inference{ev: ev, x: x, b: b}, nil
}

func (in *inference) predict() ([]float32, error) { return in.ev.Predict32(in.x, in.b) }
func (in *inference) Close()                      { in.ev.Close() }

// firstPredictions returns m's predictions for the first b samples, the
// implicit layers running iters iterations.
func firstPredictions(m train.Model, ds train.Dataset, b, iters int) ([]float32, error) {
	in, err := newInference(m, ds, b, iters)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	pred, err := in.predict()
	return slices.Clone(pred), err
}

// timeInference returns the inference samples per second at batch b, the
// implicit layers running iters iterations.
func timeInference(m train.Model, ds train.Dataset, b, iters, reps int) (float64, error) {
	in, err := newInference(m, ds, b, iters)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	for i := 0; i < 3; i++ {
		if _, err := in.predict(); err != nil {
			return 0, err
		}
	}
	t := time.Now()
	for i := 0; i < reps; i++ {
		if _, err := in.predict(); err != nil {
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
