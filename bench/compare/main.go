// Command compare is `make bench-compare`: it runs the Go benchmark
// (bench/gobench) and the PyTorch reference (bench/pytorch/bench.py)
// alternately — Go, PyTorch, Go, PyTorch … for each model — with the same
// batch size and thread count, and prints per model the median over pairs
// of training and inference throughput, the solver iterations, and the
// ratio Go/PyTorch, plus each side's GEMM ceiling and the machine's load.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

type result map[string]any

func (r result) num(k string) float64 {
	v, _ := r[k].(float64)
	return v
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	pairs := fs.Int("pairs", 3, "Go/PyTorch pairs per model (at least 3)")
	steps := fs.Int("steps", 300, "timed training steps per run")
	threads := fs.Int("threads", 2, "threads on both sides (GOMAXPROCS, torch.set_num_threads)")
	batch := fs.Int("batch", 64, "training batch size on both sides")
	models := fs.String("models", "mlp,deq,unrolled", "models to compare")
	gobench := fs.String("gobench", "", "the Go benchmark binary (built by the Makefile)")
	python := fs.String("python", "/usr/bin/python3", "Python with torch and numpy (Debian's python3-torch)")
	data := fs.String("data", "", "MNIST folder (default: the Go module cache)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *pairs < 3 {
		return fmt.Errorf("-pairs %d: at least 3 pairs are needed for a median", *pairs)
	}
	if *gobench == "" {
		return fmt.Errorf("-gobench is required (make bench-compare builds it)")
	}
	mnist := *data
	if mnist == "" {
		out, err := exec.Command(*gobench, "-print-data").Output()
		if err != nil {
			return fmt.Errorf("locating MNIST: %w", err)
		}
		mnist = strings.TrimSpace(string(out))
	}
	script, err := filepath.Abs("bench/pytorch/bench.py")
	if err != nil {
		return err
	}
	env := append(os.Environ(),
		"GOMAXPROCS="+strconv.Itoa(*threads),
		"OMP_NUM_THREADS="+strconv.Itoa(*threads),
		"OMP_WAIT_POLICY=PASSIVE",
	)
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(stdout, "bench-compare: %d pairs, batch %d, %d threads each side, %d training steps per run\n", *pairs, *batch, *threads, *steps)
	fmt.Fprintf(stdout, "machine: %d CPUs, load average before: %s", runtime.NumCPU(), load)
	if ct := os.Getenv("OPENBLAS_CORETYPE"); ct != "" {
		fmt.Fprintf(stdout, "OPENBLAS_CORETYPE=%s (as the machine sets it)\n", ct)
	} else {
		fmt.Fprintln(stdout, "OPENBLAS_CORETYPE unset: OpenBLAS picks its kernel by CPU detection (reported below)")
	}
	fmt.Fprintln(stdout, "PyTorch: torch.set_num_threads(threads), torch.set_flush_denormal(True), OMP_WAIT_POLICY=PASSIVE, OMP_NUM_THREADS=threads")
	start := time.Now()
	all := map[string][2][]result{}
	for _, m := range strings.Split(*models, ",") {
		for p := 0; p < *pairs; p++ {
			common := []string{"-model", m, "-batch", strconv.Itoa(*batch), "-steps", strconv.Itoa(*steps)}
			g, err := runJSON(env, *gobench, append(common, "-data", mnist)...)
			if err != nil {
				return fmt.Errorf("go side, %s: %w", m, err)
			}
			pyArgs := []string{script, "--model", m, "--batch", strconv.Itoa(*batch), "--steps", strconv.Itoa(*steps), "--threads", strconv.Itoa(*threads), "--data", mnist}
			t, err := runJSON(env, *python, pyArgs...)
			if err != nil {
				return fmt.Errorf("pytorch side, %s: %w (install it with `make bench-deps`)", m, err)
			}
			fmt.Fprintf(stderr, "%s pair %d: go %.0f, pytorch %.0f training samples/s\n", m, p+1, g.num("train_samples_per_second"), t.num("train_samples_per_second"))
			pair := all[m]
			pair[0] = append(pair[0], g)
			pair[1] = append(pair[1], t)
			all[m] = pair
		}
	}
	load, _ = os.ReadFile("/proc/loadavg")
	report(stdout, all, strings.Split(*models, ","))
	fmt.Fprintf(stdout, "\nwall time %.0f s; load average after: %s", time.Since(start).Seconds(), load)
	return nil
}

func runJSON(env []string, name string, args ...string) (result, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%v: %s", err, strings.TrimSpace(errb.String()))
	}
	var r result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return nil, fmt.Errorf("reading %q: %w", out.String(), err)
	}
	return r, nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func report(w io.Writer, all map[string][2][]result, models []string) {
	metrics := []struct{ key, label string }{
		{"train_samples_per_second", "train samples/s"},
		{"infer_samples_per_second_64", "infer samples/s (batch 64)"},
		{"infer_samples_per_second_1000", "infer samples/s (batch 1000)"},
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w)
	fmt.Fprintln(tw, "model\tmetric\tGo\tPyTorch\tGo/PyTorch\t")
	for _, m := range models {
		pair := all[m]
		for _, mt := range metrics {
			var gs, ts, rs []float64
			for i := range pair[0] {
				g, t := pair[0][i].num(mt.key), pair[1][i].num(mt.key)
				gs, ts = append(gs, g), append(ts, t)
				if t > 0 {
					rs = append(rs, g/t)
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.0f\t%.2fx\t\n", m, mt.label, median(gs), median(ts), median(rs))
		}
		if m == "deq" {
			for _, k := range []string{"forward_iterations_mean", "backward_iterations_mean"} {
				var gs, ts []float64
				for i := range pair[0] {
					gs, ts = append(gs, pair[0][i].num(k)), append(ts, pair[1][i].num(k))
				}
				fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.1f\t\t\n", m, strings.ReplaceAll(strings.TrimSuffix(k, "_mean"), "_", " "), median(gs), median(ts))
			}
		}
	}
	tw.Flush()
	var g, t result
	for _, m := range models {
		if len(all[m][0]) > 0 {
			g, t = all[m][0][0], all[m][1][0]
			break
		}
	}
	if g != nil {
		var gg, tg []float64
		for _, m := range models {
			for i := range all[m][0] {
				gg, tg = append(gg, all[m][0][i].num("gemm_gflops")), append(tg, all[m][1][i].num("gemm_gflops"))
			}
		}
		fmt.Fprintf(w, "\nmatmul ceiling (64×784×128 float32 GEMM, median): Go %.1f GFLOP/s (%v, kernel %v), PyTorch %.1f GFLOP/s (%v, kernel %v)\n",
			median(gg), g["blas"], g["blas_kernel"], median(tg), t["blas"], t["blas_kernel"])
		fmt.Fprintf(w, "versions: %v; torch %v\n", g["go"], t["torch"])
	}
}
