package experiments

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/train"
)

// fakeRun writes a run folder for opts without training: run.json, and
// a checkpoint of model name holding random parameter values, which it
// returns (in the order of the model's parameters).
func fakeRun(t *testing.T, opts Options, name string, mutate func(*train.Checkpoint)) (string, [][]float64) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	opts.Out = dir
	s, err := Resolve(All()[opts.Experiment], opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeManifest(dir, &Manifest{Experiment: s.Experiment, Settings: s.Fingerprint(), Created: "now"}); err != nil {
		t.Fatal(err)
	}
	models, err := servedModels(s)
	if err != nil {
		t.Fatal(err)
	}
	nm, _, err := pickModel(s.Experiment, models, name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nm.Build(G.NewGraph(), 1, false); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(opts.Seed, 77))
	c := &train.Checkpoint{Model: nm.Name(), Done: true, Fingerprint: map[string]string{"model": nm.Name(), "seed": "1", "dtype": s.Dtype.String()}}
	for _, p := range nm.Scope().Params() {
		switch d := p.Value().Data().(type) {
		case []float64:
			for i := range d {
				d[i] = float64(float32(rng.NormFloat64())) // exact in float32 models too
			}
		case []float32:
			for i := range d {
				d[i] = float32(rng.NormFloat64())
			}
		}
	}
	// Values a training run could have saved: projected into the model's
	// constraints, as after every optimizer step (a rebuild does not
	// project; loading gives exactly the checkpoint).
	if err := nm.Scope().Project(); err != nil {
		t.Fatal(err)
	}
	var values [][]float64
	for _, p := range nm.Scope().Params() {
		v, err := layers.Floats64(p.Value())
		if err != nil {
			t.Fatal(err)
		}
		values = append(values, v)
		c.Params = append(c.Params, train.SavedTensor{Name: p.Name(), Shape: p.Shape(), Dtype: p.Dtype().String(), Data: v})
	}
	if mutate != nil {
		mutate(c)
	}
	if err := train.SaveCheckpoint(filepath.Join(dir, "checkpoints", nm.Name()+".ckpt"), c); err != nil {
		t.Fatal(err)
	}
	return dir, values
}

// TestLoadModelEveryExperiment: for every experiment that can be served,
// a run folder's settings are resolved back from run.json, its implicit
// model is rebuilt, and the checkpoint's values are what its parameters
// hold; non-default flags (solver, backward, hidden, dtype) come back too.
func TestLoadModelEveryExperiment(t *testing.T) {
	cases := []Options{
		{Experiment: "classify"}, {Experiment: "toy"}, {Experiment: "reason"}, {Experiment: "pde"}, {Experiment: "lp"}, {Experiment: "deblur"},
		{Experiment: "classify", Solver: "broyden", Backward: "jfb", Hidden: 32, Dtype: tensor.Float64},
		{Experiment: "lp", Backward: "ift", Hidden: 8},
	}
	for _, o := range cases {
		o.Quick, o.Seed = true, 1
		t.Run(o.Experiment+"/"+o.Solver+o.Backward, func(t *testing.T) {
			dir, values := fakeRun(t, o, "", nil)
			var wrapped int
			l, err := LoadModel(dir, LoadOptions{Solver: func(s deq.Solver) deq.Solver { wrapped++; return s }})
			if err != nil {
				t.Fatal(err)
			}
			if wrapped != 1 || l.Model.Kind() != train.KindImplicit || len(l.Implicits) != 1 {
				t.Fatalf("model %s (%s) with %d implicit layers, solver wrapped %d times", l.Model.Name(), l.Model.Kind(), len(l.Implicits), wrapped)
			}
			want, _ := Resolve(All()[o.Experiment], Options{Experiment: o.Experiment, Quick: true, Seed: 1, Solver: o.Solver, Backward: o.Backward, Hidden: o.Hidden, Dtype: o.Dtype, Out: dir})
			if d := manifestDiffs(&Manifest{Settings: want.Fingerprint()}, &Manifest{Settings: l.Settings.Fingerprint()}); len(d) > 0 {
				t.Errorf("settings differ: %v", d)
			}
			for i, p := range l.Model.Scope().Params() {
				got, err := layers.Floats64(p.Value())
				if err != nil {
					t.Fatal(err)
				}
				for j := range got {
					if got[j] != values[i][j] {
						t.Fatalf("parameter %s[%d] = %v, the checkpoint holds %v", p.Name(), j, got[j], values[i][j])
					}
				}
			}
			if !l.Finished || len(l.Input) == 0 || len(l.Output) == 0 || l.Stop == (deq.Stop{}) {
				t.Errorf("loaded %+v", l)
			}
		})
	}
}

// TestLoadModelRefusals: every way a run folder can be unusable is a
// one-line error that names the problem.
func TestLoadModelRefusals(t *testing.T) {
	base := Options{Experiment: "toy", Quick: true, Seed: 1}
	check := func(t *testing.T, dir string, opts LoadOptions, want string) {
		t.Helper()
		_, err := LoadModel(dir, opts)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("error %v, want one line containing %q", err, want)
		}
	}
	t.Run("no run", func(t *testing.T) { check(t, t.TempDir(), LoadOptions{}, "holds no run") })
	t.Run("unknown model", func(t *testing.T) {
		dir, _ := fakeRun(t, base, "", nil)
		check(t, dir, LoadOptions{Model: "nope"}, "has no model \"nope\"")
	})
	t.Run("no checkpoint", func(t *testing.T) {
		dir, _ := fakeRun(t, base, "", nil)
		check(t, dir, LoadOptions{Model: "explicit-mlp-L5"}, "has no checkpoint of explicit-mlp-L5")
	})
	t.Run("corrupt", func(t *testing.T) {
		dir, _ := fakeRun(t, base, "", nil)
		ckpts, _ := filepath.Glob(filepath.Join(dir, "checkpoints", "*.ckpt"))
		raw, err := os.ReadFile(ckpts[0])
		if err != nil {
			t.Fatal(err)
		}
		raw[len(raw)-10] ^= 0xff
		if err := os.WriteFile(ckpts[0], raw, 0o644); err != nil {
			t.Fatal(err)
		}
		check(t, dir, LoadOptions{}, "corrupt")
	})
	t.Run("another seed", func(t *testing.T) {
		dir, _ := fakeRun(t, base, "", func(c *train.Checkpoint) { c.Fingerprint["seed"] = "2" })
		check(t, dir, LoadOptions{}, "another configuration")
	})
	t.Run("another model", func(t *testing.T) {
		dir, _ := fakeRun(t, base, "", func(c *train.Checkpoint) { c.Model = "explicit-mlp-L5" })
		check(t, dir, LoadOptions{}, "holds model \"explicit-mlp-L5\"")
	})
	t.Run("other shapes", func(t *testing.T) {
		dir, _ := fakeRun(t, base, "", func(c *train.Checkpoint) { c.Params[0].Shape = []int{3, 3}; c.Params[0].Data = make([]float64, 9) })
		check(t, dir, LoadOptions{}, "parameter 0")
	})
	t.Run("unreproducible settings", func(t *testing.T) {
		dir, _ := fakeRun(t, base, "", nil)
		man, err := readManifest(dir)
		if err != nil {
			t.Fatal(err)
		}
		man.Settings["solver"] = "deq.Newton{}"
		if err := os.Remove(filepath.Join(dir, ManifestFile)); err != nil {
			t.Fatal(err)
		}
		if err := writeManifest(dir, man); err != nil {
			t.Fatal(err)
		}
		check(t, dir, LoadOptions{}, "does not reproduce")
	})
	t.Run("seeds", func(t *testing.T) {
		dir := t.TempDir()
		s, _ := Resolve(Toy{}, Options{Seeds: []uint64{1, 2}, Quick: true, Out: dir})
		if err := writeManifest(dir, &Manifest{Experiment: "toy", Settings: s.Fingerprint()}); err != nil {
			t.Fatal(err)
		}
		check(t, dir, LoadOptions{}, "seed-N")
	})
	t.Run("ablation", func(t *testing.T) {
		dir := t.TempDir()
		s, _ := Resolve(Ablation{}, Options{Quick: true, Out: dir, Seed: 1})
		if err := writeManifest(dir, &Manifest{Experiment: "ablation", Settings: s.Fingerprint()}); err != nil {
			t.Fatal(err)
		}
		check(t, dir, LoadOptions{}, "not supported")
	})
}

// TestLoadedModelIsTheTrainedOne: a quick classify run, loaded back,
// scores exactly the test accuracy its report gives (the same models,
// parameters and solver settings), so the loader mirrors the run.
func TestLoadedModelIsTheTrainedOne(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a quick classify run")
	}
	dir := filepath.Join(t.TempDir(), "run")
	rep, err := Run(context.Background(), Options{Experiment: "classify", Quick: true, Seed: 1, Out: dir, Epochs: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, _, test, err := classifyData(Settings{Dataset: "mnist", Options: Options{Seed: 1}}, classifySizesFor(true))
	if err != nil {
		t.Fatal(err)
	}
	for _, mr := range rep.Models {
		l, err := LoadModel(dir, LoadOptions{Model: mr.Name})
		if err != nil {
			t.Fatal(err)
		}
		ev, err := train.NewEvaluator(l.Model, 500)
		if err != nil {
			t.Fatal(err)
		}
		e, err := ev.Evaluate(test, train.Accuracy())
		ev.Close()
		if err != nil {
			t.Fatal(err)
		}
		if e.Mean != mr.TestMetric {
			t.Errorf("%s: loaded model scores %v, the run reported %v", mr.Name, e.Mean, mr.TestMetric)
		}
	}
}
