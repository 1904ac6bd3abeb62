package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/implicit-ml/implicit/train/experiments"
	"github.com/implicit-ml/implicit/train/report"
)

// TestBadInputs: every bad command line ends with one line saying what is
// wrong — a usage error (exit 2) for what the user typed, a runtime error
// (exit 1) for what the machine lacks — never a stack trace, never a run
// that silently ignores a flag or overwrites another run. OUT is a fresh
// folder, FILE a file, RUN the folder of a toy run, BADRUN one with a
// corrupt manifest, NODATA a missing data folder.
func TestBadInputs(t *testing.T) {
	const usage, runtime = true, false
	for _, c := range []struct {
		args  []string
		usage bool
		want  string
	}{
		{[]string{"-batch", "-1"}, usage, "-batch must be positive"},
		{[]string{"-batch", "0"}, usage, "-batch must be positive"},
		{[]string{"-quick", "-batch", "100000000", "-out", "OUT"}, usage, "larger than the training set"},
		{[]string{"-experiment", "toy", "-quick", "-batch", "5000", "-out", "OUT"}, usage, "larger than the training set"},
		{[]string{"-experiment", "lp", "-quick", "-batch", "100000", "-out", "OUT"}, usage, "larger than the training set"},
		{[]string{"-hidden", "100000000"}, usage, "-hidden 100000000 is too large"},
		{[]string{"-hidden", "0"}, usage, "-hidden must be positive"},
		{[]string{"-tol", "0"}, usage, "-tol must be positive"},
		{[]string{"-tol", "-1e-3"}, usage, "-tol must be positive"},
		{[]string{"-tol", "NaN"}, usage, "-tol must be positive"},
		{[]string{"-tol", "1e-9"}, usage, "float32"},
		{[]string{"-lr", "-1"}, usage, "-lr must be positive"},
		{[]string{"-lr", "NaN"}, usage, "-lr must be positive"},
		{[]string{"-lr", "0"}, usage, "-lr must be positive"},
		{[]string{"-lr", "Inf"}, usage, "lr"},
		{[]string{"-epochs", "-2"}, usage, "-epochs must be positive"},
		{[]string{"-max-iter", "0"}, usage, "-max-iter must be positive"},
		{[]string{"-max-iter", "-3"}, usage, "-max-iter must be positive"},
		{[]string{"-clip", "-1"}, usage, "clip"},
		{[]string{"-clip", "NaN"}, usage, "clip"},
		{[]string{"-experiment", "toy", "-radius", "NaN"}, usage, "radius"},
		{[]string{"-experiment", "toy", "-radius", "0.7"}, usage, "radius"},
		{[]string{"-radius", "0.1"}, usage, "-radius"},
		{[]string{"-experiment", "nope"}, usage, "unknown experiment"},
		{[]string{"-bogus"}, usage, "flag provided but not defined"},
		{[]string{"-epochs", "1.5"}, usage, "invalid value"},
		{[]string{"-seed", "-1"}, usage, "invalid value"},
		{[]string{"-seeds", "1,x"}, usage, `"x" is not a seed`},
		{[]string{"-seeds", "3-1"}, usage, "not a range"},
		{[]string{"-seeds", "1-500"}, usage, "at most 100 seeds"},
		{[]string{"-seeds", "1,2,1"}, usage, "seed 1 is listed twice"},
		{[]string{"-seed", "2", "-seeds", "1,2"}, usage, "-seed and -seeds are exclusive"},
		{[]string{"-seeds", "1,2", "-epochs", "-1"}, usage, "-epochs must be positive"},
		{[]string{"-quick=maybe"}, usage, "invalid"},
		{[]string{"-dtype", "int8"}, usage, "-dtype"},
		{[]string{"-solver", "newton"}, usage, "solver"},
		{[]string{"-backward", "magic"}, usage, "backward"},
		{[]string{"-adjoint", "cg"}, usage, "adjoint"},
		{[]string{"-schedule", "linear"}, usage, "schedule"},
		{[]string{"-optimizer", "lbfgs"}, usage, "optimizer"},
		{[]string{"-progress", "sometimes"}, usage, "progress"},
		{[]string{"-resume"}, usage, "-resume needs -out"},
		{[]string{"-resume", "-out", "OUT"}, usage, "holds no run to continue"},
		{[]string{"-dataset", "cifar", "-out", "OUT"}, usage, "dataset"},
		{[]string{"extra"}, usage, "unexpected arguments"},
		{[]string{"-problem", "nosuch"}, usage, "-problem"},
		{[]string{"-experiment", "toy", "-problem", "x"}, usage, "-problem"},
		{[]string{"-experiment", "toy", "-dataset", "mnist"}, usage, "-dataset"},
		{[]string{"-experiment", "lp", "-dataset", "fashion"}, usage, "-dataset"},
		{[]string{"-experiment", "reason", "-problem", "long"}, usage, "-problem"},
		{[]string{"-experiment", "pde", "-problem", "heat"}, usage, "pde takes navier-stokes, darcy"},
		{[]string{"-experiment", "deblur", "-problem", "box"}, usage, "-problem"},
		{[]string{"-experiment", "ablation", "-problem", "toy"}, usage, "-problem"},
		{[]string{"-out", "FILE"}, usage, "is a file, not a folder"},
		{[]string{"-quick", "-out", "RUN"}, usage, "already holds a run of toy"},
		{[]string{"-experiment", "toy", "-quick", "-epochs", "3", "-out", "RUN", "-resume"}, usage, "epochs: 40, now 3"},
		{[]string{"-quick", "-out", "RUN", "-resume"}, usage, "experiment: toy, now classify"},
		{[]string{"-quick", "-out", "BADRUN", "-resume"}, runtime, "is not a run manifest"},
		{[]string{"-quick", "-dataset", "fashion", "-data", "NODATA", "-out", "OUT"}, runtime, "apt-get install dataset-fashion-mnist"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			for i, a := range c.args {
				c.args[i] = badInputPath(t, a)
			}
			var out, errb bytes.Buffer
			err := run(context.Background(), c.args, &out, &errb)
			if err == nil || experiments.UsageError(err) != c.usage || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v (usage error: %v), want a %s error mentioning %q", err, experiments.UsageError(err), map[bool]string{true: "usage", false: "runtime"}[c.usage], c.want)
			}
			if strings.Contains(err.Error(), "\n") || strings.Contains(errb.String(), "goroutine ") {
				t.Errorf("not a one-line message: %q (stderr %q)", err, errb.String())
			}
		})
	}
}

// badInputPath replaces the placeholders of TestBadInputs's arguments.
func badInputPath(t *testing.T, a string) string {
	t.Helper()
	switch a {
	case "OUT":
		return t.TempDir()
	case "NODATA":
		return filepath.Join(t.TempDir(), "none")
	case "FILE":
		f := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	case "RUN", "BADRUN":
		dir := t.TempDir()
		manifest := `{"experiment": "toy", "settings": {"experiment": "toy", "epochs": "40"}, "created": "2026-12-03T00:00:00Z"}`
		if a == "BADRUN" {
			manifest = "{not json"
		}
		if err := os.WriteFile(filepath.Join(dir, experiments.ManifestFile), []byte(manifest), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return a
}

func TestHelpAndList(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, &out, &errb); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	for _, f := range []string{"-experiment", "-dataset", "-epochs", "-batch", "-hidden", "-lr", "-seed", "-solver", "-backward", "-tol", "-max-iter", "-out", "-resume", "-progress", "-dtype", "-quick"} {
		if !strings.Contains(errb.String(), f) {
			t.Errorf("-h does not document %s", f)
		}
	}
	// Each experiment's own defaults, not classify's for all of them.
	for _, d := range []string{"toy ", "1e-06", "phantom {Steps:3 Damping:0.8}", "shake,gaussian"} {
		if !strings.Contains(errb.String(), d) {
			t.Errorf("-h does not show the experiments' defaults (%q)", d)
		}
	}
	out.Reset()
	if err := run(context.Background(), []string{"-list"}, &out, &errb); err != nil || !strings.Contains(out.String(), "classify") || !strings.Contains(out.String(), "picard") {
		t.Fatalf("-list: %v %q", err, out.String())
	}
}

func TestMissingDatasetIsAClearError(t *testing.T) {
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"-quick", "-dataset", "fashion", "-data", filepath.Join(t.TempDir(), "none"), "-out", t.TempDir()}, &out, &errb)
	if err == nil || experiments.UsageError(err) || !strings.Contains(err.Error(), "apt-get install dataset-fashion-mnist") {
		t.Fatalf("missing Fashion-MNIST: %v", err)
	}
}

// quickRun runs an experiment's -quick configuration the way CI does (no
// terminal) and returns the output folder and the combined output.
func quickRun(t *testing.T, experiment string, extra ...string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	var out bytes.Buffer
	args := append([]string{"-experiment", experiment, "-quick", "-out", dir}, extra...)
	if err := run(context.Background(), args, &out, &out); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out.String())
	}
	return dir, out.String()
}

// quickFiles are the files an experiment writes besides the common ones.
var quickFiles = map[string][]string{
	"toy":       {"toy_fit.png", "toy_pole0.png", "toy_pole1.png", "toy_lipschitz.png", "toy_lipschitz.csv"},
	"reason":    {"reason_accuracy_vs_t.png", "reason_position_accuracy_vs_t.png"},
	"recurrent": {"recurrent_accuracy_vs_r.png", "recurrent_lipschitz_vs_r.png"},
	"lp":        {"lp_lipschitz_by_part.csv", "lp_lipschitz_e4.png"},
	"pde":       {"pde_samples.png"},
	"deblur":    {"deblur_reconstructions.png", "deblur_curves.csv", "deblur_psnr_vs_t.png", "deblur_lipschitz_by_rank.png", "deblur_table.md"},
}

// TestQuickRuns runs every experiment's -quick configuration and checks the
// report contract, the files, and the non-terminal output.
func TestQuickRuns(t *testing.T) {
	for _, name := range experiments.Names() {
		t.Run(name, func(t *testing.T) {
			dir, output := quickRun(t, name)
			if strings.Contains(output, "\r") || len(output) > 20<<10 {
				t.Errorf("non-terminal output is %d bytes (carriage returns: %v); want < 20 KB and none", len(output), strings.Contains(output, "\r"))
			}
			files := append([]string{"report.json", "report.md", "metrics.jsonl", "curves.csv", "metric_vs_t.png", "lipschitz_vs_t.png"}, quickFiles[name]...)
			for _, f := range files {
				if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
					t.Errorf("%s missing or empty: %v", f, err)
				}
			}
			var rep map[string]any
			raw, _ := os.ReadFile(filepath.Join(dir, "report.json"))
			if err := json.Unmarshal(raw, &rep); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"experiment", "dataset", "seed", "quick", "metric", "models"} {
				if _, ok := rep[k]; !ok {
					t.Errorf("report.json lacks %q", k)
				}
			}
			models, _ := rep["models"].([]any)
			kinds := map[string]bool{}
			for _, m := range models {
				mm := m.(map[string]any)
				for _, k := range []string{"name", "kind", "params", "train_seconds", "train_samples_per_second", "peak_heap_bytes", "test_metric"} {
					if _, ok := mm[k]; !ok {
						t.Errorf("model %v lacks %q", mm["name"], k)
					}
				}
				kinds[mm["kind"].(string)] = true
				if mm["kind"] == "implicit" {
					for _, k := range []string{"forward_iterations_mean", "backward_iterations_mean", "curve"} {
						if _, ok := mm[k]; !ok {
							t.Errorf("implicit model %v lacks %q", mm["name"], k)
						}
					}
				}
			}
			if !kinds["implicit"] || !(kinds["explicit"] || kinds["unrolled"]) {
				t.Errorf("report compares kinds %v; want implicit models and an explicit or unrolled baseline", kinds)
			}
		})
	}
}

// TestSeeds runs two seeds and checks the combined report against the
// seeds' own: each seed's folder holds exactly the run -seed N gives, and
// the combined figures are their means and spreads.
func TestSeeds(t *testing.T) {
	dir, out := quickRun(t, "classify", "-seeds", "1,2", "-epochs", "1")
	one, _ := quickRun(t, "classify", "-seed", "2", "-epochs", "1")
	if a, b := reportJSON(t, filepath.Join(dir, "seed-2")), reportJSON(t, one); !reflect.DeepEqual(a, b) {
		t.Errorf("seed-2 of -seeds 1,2 differs from -seed 2:\n%v\n%v", a, b)
	}
	var reps [2]*report.Report
	for i := range reps {
		r, err := report.Read(filepath.Join(dir, fmt.Sprintf("seed-%d", i+1), "report.json"))
		if err != nil {
			t.Fatal(err)
		}
		reps[i] = r
	}
	c, err := report.Read(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Seeds, []uint64{1, 2}) || len(c.Comparisons) == 0 {
		t.Errorf("combined report: seeds %v, %d comparisons", c.Seeds, len(c.Comparisons))
	}
	for i, m := range c.Models {
		a, b := reps[0].Models[i].TestMetric, reps[1].Models[i].TestMetric
		if math.Abs(m.TestMetric-(a+b)/2) > 1e-12 || math.Abs(m.TestMetricSeedStd-math.Abs(a-b)/math.Sqrt2) > 1e-12 || len(m.Seeds) != 2 {
			t.Errorf("%s: %g ± %g from seeds %g, %g", m.Name, m.TestMetric, m.TestMetricSeedStd, a, b)
		}
	}
	if !strings.Contains(out, "mean ± std over seeds 1, 2") || !strings.Contains(out, "implicit-deq ") {
		t.Errorf("the table does not show the seeds:\n%s", out)
	}
}

// TestSameSeedSameMetrics: the same seed gives the same metrics, so runs
// can be compared and reproduced.
func TestSameSeedSameMetrics(t *testing.T) {
	losses := func(dir string) []float64 {
		raw, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		var out []float64
		for _, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
			var r struct{ Loss float64 }
			if err := json.Unmarshal(line, &r); err != nil {
				t.Fatal(err)
			}
			out = append(out, r.Loss)
		}
		return out
	}
	a, _ := quickRun(t, "classify", "-seed", "5", "-epochs", "1")
	b, _ := quickRun(t, "classify", "-seed", "5", "-epochs", "1")
	la, lb := losses(a), losses(b)
	if len(la) == 0 || len(la) != len(lb) {
		t.Fatalf("%d and %d metrics lines", len(la), len(lb))
	}
	for i := range la {
		if la[i] != lb[i] {
			t.Fatalf("line %d: loss %v vs %v", i, la[i], lb[i])
		}
	}
}

func TestResumeAndCorruptCheckpoint(t *testing.T) {
	dir, _ := quickRun(t, "classify")
	var out bytes.Buffer
	// Without -resume the finished run's checkpoints are not overwritten.
	err := run(context.Background(), []string{"-quick", "-out", dir}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "-resume") {
		t.Fatalf("rerun into a used folder: %v", err)
	}
	// With -resume the finished models are evaluated again, not retrained.
	out.Reset()
	if err := run(context.Background(), []string{"-quick", "-out", dir, "-resume"}, &out, &out); err != nil {
		t.Fatalf("resume: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "finished in an earlier run") {
		t.Errorf("resumed run retrained: %s", out.String())
	}
	// A corrupt checkpoint is named and left in place.
	ck := filepath.Join(dir, "checkpoints", "implicit-deq.ckpt")
	raw, _ := os.ReadFile(ck)
	raw[len(raw)/2] ^= 0x55
	os.WriteFile(ck, raw, 0o644)
	err = run(context.Background(), []string{"-quick", "-out", dir, "-resume"}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "corrupt") || !strings.Contains(err.Error(), "implicit-deq.ckpt") {
		t.Fatalf("corrupt checkpoint: %v", err)
	}
	if now, _ := os.ReadFile(ck); !bytes.Equal(now, raw) {
		t.Error("the corrupt checkpoint was overwritten")
	}
}

// TestExitStatus runs the real main in a subprocess: usage errors exit 2,
// -h exits 0.
func TestExitStatus(t *testing.T) {
	if os.Getenv("IMPLICIT_TRAIN_MAIN") == "1" {
		os.Args = append([]string{"train"}, strings.Fields(os.Getenv("IMPLICIT_TRAIN_ARGS"))...)
		main()
		os.Exit(0)
	}
	for args, want := range map[string]int{"-batch -1": 2, "-experiment nope": 2, "-h": 0, "-list": 0} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestExitStatus$")
		cmd.Env = append(os.Environ(), "IMPLICIT_TRAIN_MAIN=1", "IMPLICIT_TRAIN_ARGS="+args)
		out, err := cmd.CombinedOutput()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != want {
			t.Errorf("%q exited %d, want %d\n%s", args, code, want, out)
		}
		if strings.Contains(string(out), "panic") {
			t.Errorf("%q panicked:\n%s", args, out)
		}
	}
}
