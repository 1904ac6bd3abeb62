package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"

	"github.com/implicit-ml/implicit/cmd/serve/internal/served"
	"github.com/implicit-ml/implicit/network"
	"github.com/implicit-ml/implicit/serve"
	"github.com/implicit-ml/implicit/train"
	"github.com/implicit-ml/implicit/train/experiments"
)

// TestMain lets a test run this command's main in a child process.
func TestMain(m *testing.M) {
	if os.Getenv("SERVE_TEST_MAIN") == "1" {
		os.Args = append([]string{"serve"}, strings.Fields(os.Getenv("SERVE_TEST_ARGS"))...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fakeClassifyRun writes a classify run folder (quick settings) whose
// implicit model's checkpoint holds its initial parameters.
func fakeClassifyRun(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	opts := experiments.Options{Experiment: "classify", Quick: true, Seed: 1, Out: dir}
	s, err := experiments.Resolve(experiments.Classify{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	man, _ := json.Marshal(experiments.Manifest{Experiment: "classify", Settings: s.Fingerprint(), Created: "test"})
	if err := os.MkdirAll(filepath.Join(dir, "checkpoints"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, experiments.ManifestFile), man, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := experiments.ClassifyModel("deq", 0, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Build(G.NewGraph(), 1, false); err != nil {
		t.Fatal(err)
	}
	c := &train.Checkpoint{Model: m.Name(), Done: true}
	for _, p := range m.(*network.Network).Scope().Params() {
		v, _ := p.Value().Data().([]float32)
		d := make([]float64, len(v))
		for i, x := range v {
			d[i] = float64(x)
		}
		c.Params = append(c.Params, train.SavedTensor{Name: p.Name(), Shape: p.Shape(), Dtype: p.Dtype().String(), Data: d})
	}
	if err := train.SaveCheckpoint(filepath.Join(dir, "checkpoints", m.Name()+".ckpt"), c); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBadCommandLines: each is a usage error naming the problem.
func TestBadCommandLines(t *testing.T) {
	run := fakeClassifyRun(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "-run is required"},
		{[]string{"-run", run, "-nope"}, "flag provided but not defined"},
		{[]string{"-run", run, "extra"}, "unexpected arguments"},
		{[]string{"-run", run, "-drain", "0s"}, "-drain"},
		{[]string{"-run", run, "-max-batch", "-2"}, "negative setting"},
		{[]string{"-run", t.TempDir()}, "holds no run"},
		{[]string{"-run", run, "-model", "nope"}, "has no model"},
		{[]string{"-run", run, "-model", "explicit-mlp"}, "has no checkpoint"},
		{[]string{"-run", run, "-addr", "not-an-address"}, "serve:"},
	} {
		err := run_(t, c.args)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
}

func run_(t *testing.T, args []string) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a command that starts serving stops at once
	return run(ctx, args, io.Discard, io.Discard, nil)
}

// TestServesARun: the command loads a run and answers predict, healthz
// and metrics requests; cancelling it drains and returns.
func TestServesARun(t *testing.T) {
	run := fakeClassifyRun(t)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var out bytes.Buffer
	go func() { done <- runLocked(ctx, []string{"-run", run, "-addr", "127.0.0.1:0"}, &out, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	body, _ := json.Marshal(serve.PredictRequest{Inputs: [][]float64{make([]float64, 784)}, Budget: &serve.Budget{Iterations: 3}})
	resp, err := http.Post("http://"+addr+"/v1/predict", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var pr serve.PredictResponse
	err = json.NewDecoder(resp.Body).Decode(&pr)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || pr.Model != "implicit-deq" || len(pr.Outputs[0]) != 10 || pr.Samples[0].Iterations != 3 {
		t.Fatalf("%d %v %+v", resp.StatusCode, err, pr)
	}
	for _, path := range []string{"/healthz", "/metrics"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || (path == "/metrics" && !strings.Contains(string(b), `serve_requests_total{code="200",handler="predict"} 1`)) {
			t.Errorf("%s: %d %.300s", path, resp.StatusCode, b)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "serving implicit-deq") || !strings.Contains(out.String(), "per-sample budgets true") || !strings.Contains(out.String(), "draining") {
		t.Errorf("output %q", out.String())
	}
	// Loaded without the server's solver, the model takes no budgets.
	l, err := experiments.LoadModel(run, experiments.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if served.Model(l).Budgeted {
		t.Error("a model whose layer does not solve with serve.Solver claims per-sample budgets")
	}
}

func runLocked(ctx context.Context, args []string, out io.Writer, ready chan<- string) error {
	return run(ctx, args, out, io.Discard, ready)
}
