package experiments

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gorgonia.org/tensor"
)

// TestFingerprintHoldsEverySettingThatChangesResults: changing any flag
// that changes a run's results changes the fingerprint a resume checks,
// and the output folder or progress display does not.
func TestFingerprintHoldsEverySettingThatChangesResults(t *testing.T) {
	base := Options{Experiment: "classify", Seed: 1, Quick: true}
	ref, err := Resolve(Classify{}, base)
	if err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(*Options){
		"epochs": func(o *Options) { o.Epochs = 9 }, "batch": func(o *Options) { o.Batch = 32 },
		"hidden": func(o *Options) { o.Hidden = 64 }, "lr": func(o *Options) { o.LR = 0.5 },
		"clip": func(o *Options) { o.Clip = 0.01 }, "max-iter": func(o *Options) { o.MaxIter = 2 },
		"tol": func(o *Options) { o.Tol = 1e-3 }, "warm-start": func(o *Options) { o.WarmStart = true },
		"solver": func(o *Options) { o.Solver = "broyden" }, "backward": func(o *Options) { o.Backward = "jfb" },
		"adjoint": func(o *Options) { o.AdjointSolver = "gmres" }, "schedule": func(o *Options) { o.Schedule = "step" },
		"optimizer": func(o *Options) { o.Optimizer = "sgd" }, "dtype": func(o *Options) { o.Dtype = tensor.Float64 },
		"seed": func(o *Options) { o.Seed = 2 }, "quick": func(o *Options) { o.Quick = false },
		"dataset": func(o *Options) { o.Dataset = "fashion" },
	} {
		o := base
		change(&o)
		s, err := Resolve(Classify{}, o)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d := manifestDiffs(&Manifest{Experiment: "classify", Settings: ref.Fingerprint()}, &Manifest{Experiment: "classify", Settings: s.Fingerprint()}); len(d) == 0 {
			t.Errorf("-%s changes results but not the fingerprint", name)
		}
	}
	o := base
	o.Out, o.Progress = "elsewhere", 2
	s, _ := Resolve(Classify{}, o)
	if d := manifestDiffs(&Manifest{Experiment: "classify", Settings: ref.Fingerprint()}, &Manifest{Experiment: "classify", Settings: s.Fingerprint()}); len(d) != 0 {
		t.Errorf("the output folder or progress changed the fingerprint: %v", d)
	}
}

// TestRunFolderBelongsToOneRun: a fresh run claims an empty folder and
// writes its manifest; a second fresh run there, a run of another
// experiment, a resume with other settings and a resume of nothing are
// refused; a resume with the same settings is accepted; a failed start
// releases the folder.
func TestRunFolderBelongsToOneRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	toy, err := Resolve(Toy{}, Options{Out: dir, Quick: true, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := claimFolder(toy, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ManifestFile)); err != nil {
		t.Fatal("no manifest written")
	}
	stale := filepath.Join(dir, "report.json.tmp")
	os.WriteFile(stale, nil, 0o644)
	cls, _ := Resolve(Classify{}, Options{Out: dir, Quick: true, Seed: 1})
	other, _ := Resolve(Toy{}, Options{Out: dir, Quick: true, Seed: 2, Resume: true})
	same := toy
	same.Resume = true
	empty, _ := Resolve(Toy{}, Options{Out: t.TempDir(), Quick: true, Seed: 1, Resume: true})
	for _, c := range []struct {
		name string
		s    Settings
		want string
	}{
		{"again", toy, "already holds a run of toy"},
		{"another experiment", cls, "already holds a run of toy"},
		{"other settings", other, "seed: 1, now 2"},
		{"nothing to resume", empty, "holds no run"},
	} {
		if err := claimFolder(c.s, nil); err == nil || !UsageError(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a usage error mentioning %q", c.name, err, c.want)
		}
	}
	if err := claimFolder(same, nil); err != nil {
		t.Errorf("resume with the same settings: %v", err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("a stale report temporary survived the resume")
	}
	releaseFolder(dir)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Error("a folder with nothing trained was not released")
	}
}
