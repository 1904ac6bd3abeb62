package train

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// blobs is a tiny classification dataset: k Gaussian clusters in d dims.
type blobs struct {
	x       [][]float32
	label   []int
	classes int
}

func newBlobs(n, d, k int, seed uint64) *blobs {
	rng := rand.New(rand.NewPCG(seed, 1))
	centres := make([][]float64, k)
	for c := range centres {
		centres[c] = make([]float64, d)
		for j := range centres[c] {
			centres[c][j] = 2 * rng.NormFloat64()
		}
	}
	b := &blobs{classes: k}
	for i := 0; i < n; i++ {
		c := i % k
		x := make([]float32, d)
		for j := range x {
			x[j] = float32(centres[c][j] + 0.5*rng.NormFloat64())
		}
		b.x = append(b.x, x)
		b.label = append(b.label, c)
	}
	return b
}

func (b *blobs) Len() int           { return len(b.x) }
func (b *blobs) InputShape() []int  { return []int{len(b.x[0])} }
func (b *blobs) TargetShape() []int { return []int{b.classes} }
func (b *blobs) Sample(i int, x, y []float32) {
	copy(x, b.x[i])
	clear(y)
	y[b.label[i]] = 1
}

// linearModel is tanh(xW + b) trained by MSE on one-hot targets, written
// with raw Gorgonia ops (train must not depend on package layers).
type linearModel struct {
	in, out int
	dt      tensor.Dtype
	w, b    G.Value // shared across graphs
	seed    uint64
}

func (m *linearModel) Name() string { return "linear" }
func (m *linearModel) Kind() string { return KindExplicit }

func (m *linearModel) Build(g *G.ExprGraph, batch int, train bool) (*Net, error) {
	if m.w == nil {
		rng := rand.New(rand.NewPCG(m.seed, 2))
		w := make([]float64, m.in*m.out)
		for i := range w {
			w[i] = 0.1 * rng.NormFloat64()
		}
		if m.dt == tensor.Float32 {
			w32 := make([]float32, len(w))
			for i, v := range w {
				w32[i] = float32(v)
			}
			m.w = tensor.New(tensor.WithShape(m.in, m.out), tensor.WithBacking(w32))
		} else {
			m.w = tensor.New(tensor.WithShape(m.in, m.out), tensor.WithBacking(w))
		}
		m.b = tensor.New(tensor.WithShape(1, m.out), tensor.Of(m.dt))
	}
	x := G.NewMatrix(g, m.dt, G.WithShape(batch, m.in), G.WithName("x"))
	w := G.NewMatrix(g, m.dt, G.WithShape(m.in, m.out), G.WithName("W"), G.WithValue(m.w))
	b := G.NewMatrix(g, m.dt, G.WithShape(1, m.out), G.WithName("b"), G.WithValue(m.b))
	xw, err := G.Mul(x, w)
	if err != nil {
		return nil, err
	}
	pre, err := G.BroadcastAdd(xw, b, nil, []byte{0})
	if err != nil {
		return nil, err
	}
	out, err := G.Tanh(pre)
	if err != nil {
		return nil, err
	}
	net := &Net{X: x, Out: out}
	if train {
		y, loss, err := mseHead(g, out)
		if err != nil {
			return nil, err
		}
		net.Y, net.Loss, net.Params = y, loss, G.Nodes{w, b}
	}
	return net, nil
}

// mseHead adds a target node shaped like out and their mean squared error.
func mseHead(g *G.ExprGraph, out *G.Node) (y, loss *G.Node, err error) {
	y = G.NewMatrix(g, out.Dtype(), G.WithShape(out.Shape()...), G.WithName("y"))
	d, err := G.Sub(out, y)
	if err != nil {
		return nil, nil, err
	}
	sq, err := G.Square(d)
	if err != nil {
		return nil, nil, err
	}
	loss, err = G.Mean(sq)
	return y, loss, err
}

func newLinear(seed uint64) *linearModel {
	return &linearModel{in: 5, out: 3, dt: tensor.Float64, seed: seed}
}

func readLosses(t *testing.T, path string) []float64 {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []float64
	for _, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
		var r Record
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("bad metrics line %q: %v", line, err)
		}
		out = append(out, r.Loss)
	}
	return out
}

func TestFitLearnsAndLogs(t *testing.T) {
	dir := t.TempDir()
	ml, err := OpenMetrics(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	data := newBlobs(203, 5, 3, 1) // 203: the last batch is partial
	m := newLinear(1)
	res, err := Fit(context.Background(), m, data, Config{Epochs: 5, BatchSize: 32, Optimizer: OptimizerConfig{LR: 0.05}, LogEvery: 5, Metrics: ml})
	if err != nil {
		t.Fatal(err)
	}
	ml.Close()
	if res.Steps != 5*7 || res.Samples != 5*203 {
		t.Errorf("steps %d samples %d, want 35 and 1015 (no sample dropped)", res.Steps, res.Samples)
	}
	losses := readLosses(t, filepath.Join(dir, "metrics.jsonl"))
	if len(losses) < 5 || !(losses[len(losses)-1] < losses[0]/2) {
		t.Errorf("loss did not fall: %v", losses)
	}
	ev, err := NewEvaluator(m, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Close()
	acc, err := ev.Evaluate(data, Accuracy())
	if err != nil {
		t.Fatal(err)
	}
	if acc.N != 203 || acc.Mean < 0.9 {
		t.Errorf("accuracy %.3f over %d samples, want ≥ 0.9 over all 203", acc.Mean, acc.N)
	}
}

func TestSameSeedSameLosses(t *testing.T) {
	var runs [2][]float64
	for i := range runs {
		dir := t.TempDir()
		ml, _ := OpenMetrics(filepath.Join(dir, "metrics.jsonl"))
		_, err := Fit(context.Background(), newLinear(2), newBlobs(100, 5, 3, 2), Config{Epochs: 3, BatchSize: 16, Seed: 7, LogEvery: 1, Metrics: ml})
		if err != nil {
			t.Fatal(err)
		}
		ml.Close()
		runs[i] = readLosses(t, filepath.Join(dir, "metrics.jsonl"))
	}
	if len(runs[0]) != len(runs[1]) {
		t.Fatalf("different lengths %d, %d", len(runs[0]), len(runs[1]))
	}
	for i := range runs[0] {
		if runs[0][i] != runs[1][i] {
			t.Fatalf("line %d: loss %v vs %v", i, runs[0][i], runs[1][i])
		}
	}
}

// TestResumeIsExact: train, cancel the
// context at a checkpoint boundary, resume, and get the same final
// parameters (bit for bit) and the same loss curve as an uninterrupted run.
func TestResumeIsExact(t *testing.T) {
	data := newBlobs(150, 5, 3, 3)
	cfg := Config{Epochs: 4, BatchSize: 16, Seed: 3, LogEvery: 1, CheckpointEvery: 7, Optimizer: OptimizerConfig{LR: 0.02}}

	full := newLinear(3)
	fdir := t.TempDir()
	ml, _ := OpenMetrics(filepath.Join(fdir, "metrics.jsonl"))
	c := cfg
	c.Metrics = ml
	if _, err := Fit(context.Background(), full, data, c); err != nil {
		t.Fatal(err)
	}
	ml.Close()

	dir := t.TempDir()
	ckpt := filepath.Join(dir, "linear.ckpt")
	ml, _ = OpenMetrics(filepath.Join(dir, "metrics.jsonl"))
	ctx, cancel := context.WithCancel(context.Background())
	c = cfg
	c.Checkpoint, c.Metrics = ckpt, ml
	c.Hooks = []Hook{{Name: "kill", Step: func(s *State) error {
		if s.Step == 21 { // a checkpoint boundary (every 7 steps)
			cancel()
		}
		return nil
	}}}
	_, err := Fit(ctx, newLinear(3), data, c)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run returned %v, want context.Canceled", err)
	}
	resumed := newLinear(3) // fresh weights: everything must come from the checkpoint
	c.Hooks, c.Resume = nil, true
	res, err := Fit(context.Background(), resumed, data, c)
	if err != nil {
		t.Fatal(err)
	}
	ml.Close()
	if !res.Resumed {
		t.Error("the run did not resume")
	}
	for _, pair := range [][2]G.Value{{full.w, resumed.w}, {full.b, resumed.b}} {
		a, b := pair[0].Data().([]float64), pair[1].Data().([]float64)
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("parameter differs after resume: %v vs %v", a[i], b[i])
			}
		}
	}
	want := readLosses(t, filepath.Join(fdir, "metrics.jsonl"))
	got := readLosses(t, filepath.Join(dir, "metrics.jsonl"))
	if len(want) != len(got) {
		t.Fatalf("metrics: %d lines resumed, %d uninterrupted", len(got), len(want))
	}
	for i := range want {
		if want[i] != got[i] {
			t.Fatalf("metrics line %d: loss %v resumed, %v uninterrupted", i, got[i], want[i])
		}
	}
	// Resuming a finished run trains nothing.
	again, err := Fit(context.Background(), newLinear(3), data, c)
	if err != nil || !again.AlreadyDone {
		t.Fatalf("resuming a finished run: %v, done %v", err, again != nil && again.AlreadyDone)
	}
}

func TestCheckpointErrors(t *testing.T) {
	data := newBlobs(40, 5, 3, 4)
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "linear.ckpt")
	cfg := Config{Epochs: 1, BatchSize: 8, Checkpoint: ckpt}
	if _, err := Fit(context.Background(), newLinear(4), data, cfg); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(ckpt)

	// An existing checkpoint is never overwritten without -resume.
	if _, err := Fit(context.Background(), newLinear(4), data, cfg); err == nil || !strings.Contains(err.Error(), "-resume") {
		t.Errorf("second run without resume: %v", err)
	}
	// Mismatched settings are named.
	c := cfg
	c.Resume, c.BatchSize = true, 4
	if _, err := Fit(context.Background(), newLinear(4), data, c); err == nil || !strings.Contains(err.Error(), "batch") {
		t.Errorf("mismatched batch: %v", err)
	}
	// A corrupt file is reported and left alone.
	bad := append([]byte(nil), good...)
	bad[len(bad)-10] ^= 0xff
	if err := os.WriteFile(ckpt, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	c = cfg
	c.Resume = true
	if _, err := Fit(context.Background(), newLinear(4), data, c); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("corrupt checkpoint: %v", err)
	}
	if now, _ := os.ReadFile(ckpt); !bytes.Equal(now, bad) {
		t.Error("the corrupt checkpoint was overwritten")
	}
	if err := os.WriteFile(ckpt, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCheckpoint(ckpt); err == nil || !strings.Contains(err.Error(), "bad header") {
		t.Errorf("garbage checkpoint: %v", err)
	}
	if _, err := LoadCheckpoint(filepath.Join(dir, "none")); !errors.Is(err, ErrNoCheckpoint) {
		t.Errorf("missing checkpoint: %v", err)
	}
}

func TestNaNLossStopsWithoutUpdating(t *testing.T) {
	data := newBlobs(16, 5, 3, 5)
	data.x[3][2] = float32(math.NaN())
	m := newLinear(5)
	_, _ = m.Build(G.NewGraph(), 1, false) // create the weights
	before := append([]float64(nil), m.w.Data().([]float64)...)
	_, err := Fit(context.Background(), m, data, Config{BatchSize: 16})
	if err == nil || !strings.Contains(err.Error(), "NaN") {
		t.Fatalf("NaN loss gave %v", err)
	}
	for i, v := range m.w.Data().([]float64) {
		if v != before[i] {
			t.Fatal("weights changed although the loss was NaN")
		}
	}
}

func TestAdamMatchesGorgonia(t *testing.T) {
	run := func(solver G.Solver) []float64 {
		g := G.NewGraph()
		rng := rand.New(rand.NewPCG(9, 9))
		w0 := make([]float64, 12)
		for i := range w0 {
			w0[i] = rng.NormFloat64()
		}
		w := G.NewMatrix(g, tensor.Float64, G.WithShape(3, 4), G.WithName("w"), G.WithValue(tensor.New(tensor.WithShape(3, 4), tensor.WithBacking(w0))))
		sq, _ := G.Square(w)
		c, _ := G.Sum(sq)
		th, _ := G.Tanh(w)
		s2, _ := G.Sum(th)
		loss, _ := G.Add(c, s2)
		if _, err := G.Grad(loss, w); err != nil {
			t.Fatal(err)
		}
		vm := G.NewTapeMachine(g, G.BindDualValues(w))
		defer vm.Close()
		for i := 0; i < 20; i++ {
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			if err := solver.Step(G.NodesToValueGrads(G.Nodes{w})); err != nil {
				t.Fatal(err)
			}
			vm.Reset()
		}
		return append([]float64(nil), w.Value().Data().([]float64)...)
	}
	ours, _ := OptimizerConfig{LR: 0.01}.New()
	want := run(G.NewAdamSolver(G.WithLearnRate(0.01)))
	got := run(ours)
	for i := range want {
		if math.Abs(want[i]-got[i]) > 1e-12 {
			t.Fatalf("after 20 steps: ours %v, Gorgonia's %v", got[i], want[i])
		}
	}
}

func TestSchedules(t *testing.T) {
	for _, c := range []struct {
		s         Schedule
		step, tot int
		want      float64
	}{
		{Constant{}, 50, 100, 1},
		{StepDecay{Every: 10, Gamma: 0.5}, 25, 100, 0.25},
		{Cosine{}, 0, 101, 1},
		{Cosine{}, 50, 101, 0.5},
		{Cosine{}, 100, 101, 0},
	} {
		if got := c.s.Rate(1, c.step, c.tot); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%v at %d/%d: %v, want %v", c.s, c.step, c.tot, got, c.want)
		}
	}
	if _, err := ParseSchedule("linear"); err == nil {
		t.Error("unknown schedule accepted")
	}
}

func TestProgressWithoutTerminalWritesLines(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgress(&buf, ProgressAuto, "job", 10)
	p.every = 0 // a line per update
	for i := 0; i < 10; i++ {
		p.Add(1)
	}
	p.Finish()
	if strings.Contains(buf.String(), "\r") || strings.Count(buf.String(), "\n") != 10 {
		t.Fatalf("non-terminal progress output %q", buf.String())
	}
	buf.Reset()
	NewProgress(&buf, ProgressNever, "job", 10).Add(5)
	if buf.Len() != 0 {
		t.Fatal("never mode wrote output")
	}
}

func TestIterationCounts(t *testing.T) {
	ts := IterationCounts(30)
	if ts[0] != 1 || ts[9] != 10 || ts[len(ts)-1] != 30 {
		t.Fatalf("IterationCounts(30) = %v", ts)
	}
	for i := 1; i < len(ts); i++ {
		if ts[i] <= ts[i-1] {
			t.Fatalf("not increasing: %v", ts)
		}
	}
}

func TestPredict32MatchesPredict(t *testing.T) {
	m := newLinear(8)
	m.dt = tensor.Float32
	data := newBlobs(37, 5, 3, 8)
	if _, err := Fit(context.Background(), m, data, Config{BatchSize: 8}); err != nil {
		t.Fatal(err)
	}
	ev, err := NewEvaluator(m, 16)
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Close()
	x32 := make([]float32, 0, 37*5)
	x64 := make([]float64, 0, 37*5)
	for _, row := range data.x {
		for _, v := range row {
			x32, x64 = append(x32, v), append(x64, float64(v))
		}
	}
	a, err := ev.Predict32(x32, 37)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ev.Predict(x64, 37)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 37*3 || len(b) != len(a) {
		t.Fatalf("lengths %d, %d", len(a), len(b))
	}
	for i := range a {
		if float64(a[i]) != b[i] {
			t.Fatalf("output %d: %v vs %v", i, a[i], b[i])
		}
	}
	if _, err := ev.Predict32(x32[:7], 2); err == nil {
		t.Error("ragged input accepted")
	}
}
