package experiments

import (
	"bytes"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/train"
)

// TestResolveRejectsWhatAnExperimentDoesNotTake: a variant, dataset or
// option an experiment has no use for is a usage error naming the flag,
// never silently ignored.
func TestResolveRejectsWhatAnExperimentDoesNotTake(t *testing.T) {
	all := All()
	for _, c := range []struct {
		experiment string
		o          Options
		want       string
	}{
		{"classify", Options{Problem: "pde"}, "-problem"},
		{"toy", Options{Problem: "poles"}, "-problem"},
		{"reason", Options{Problem: "long"}, "-problem"},
		{"lp", Options{Problem: "paper2"}, "-problem"},
		{"pde", Options{Problem: "heat"}, "-problem"},
		{"deblur", Options{Problem: "box"}, "-problem"},
		{"ablation", Options{Problem: "toy"}, "-problem"},
		{"toy", Options{Dataset: "mnist"}, "-dataset"},
		{"lp", Options{Dataset: "fashion"}, "-dataset"},
		{"reason", Options{Dataset: "mnist"}, "-dataset"},
		{"classify", Options{Dataset: "cifar"}, "-dataset"},
		{"deblur", Options{Dataset: "cifar"}, "-dataset"},
		{"classify", Options{Radius: 0.1}, "-radius"},
		{"classify", Options{Solver: "newton"}, "solver"},
		{"toy", Options{Backward: "exact"}, "backward"},
		{"reason", Options{AdjointSolver: "cg"}, "adjoint"},
		{"lp", Options{Schedule: "linear"}, "schedule"},
		{"pde", Options{Optimizer: "lbfgs"}, "optimizer"},
		{"classify", Options{Epochs: -1}, "epochs"},
		{"classify", Options{Dtype: tensor.Int}, "dtype"},
	} {
		_, err := Resolve(all[c.experiment], c.o)
		if err == nil || !UsageError(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %+v: got %v, want a usage error about %s", c.experiment, c.o, err, c.want)
		}
	}
}

// TestResolveUsesEachExperimentsDefaults: a zero option means the
// experiment's own default, typed; a given one wins; the default gradient
// mode keeps the experiment's settings when it is named.
func TestResolveUsesEachExperimentsDefaults(t *testing.T) {
	all := All()
	for name, e := range all {
		for _, quick := range []bool{false, true} {
			s, err := Resolve(e, Options{Quick: quick})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			d := e.Defaults(s.Problem, quick)
			if s.Epochs != d.Epochs || s.Batch != d.Batch || s.Hidden != d.Hidden || s.LR != d.LR || s.Clip != d.Clip ||
				s.Stop.Tol != d.Tol || s.Stop.MaxIter != d.MaxIter || s.Dtype != d.Dtype || s.Schedule.String() != orString(d.Schedule, "constant") ||
				s.Solver == nil || s.Backward == nil || s.Schedule == nil {
				t.Errorf("%s (quick %v): settings %+v do not follow the defaults %+v", name, quick, s, d)
			}
		}
	}
	reason, _ := Resolve(all["reason"], Options{})
	if _, ok := reason.Solver.(deq.Picard); !ok || reason.Backward.(deq.IFT).Solver != (deq.Picard{}) || reason.Backward.(deq.IFT).Stop != reason.Stop {
		t.Errorf("reason: solver %v, backward %+v; want Picard with a Picard adjoint under the forward stop", reason.Solver, reason.Backward)
	}
	for _, given := range []string{"", "phantom"} {
		pde, _ := Resolve(all["pde"], Options{Backward: given})
		if pde.Backward != (deq.Phantom{Steps: 3, Damping: 0.8}) {
			t.Errorf("pde -backward %q: %+v, want the paper's phantom gradient", given, pde.Backward)
		}
	}
	classify, _ := Resolve(all["classify"], Options{Backward: "phantom", Epochs: 7, LR: 0.5, Dtype: tensor.Float64})
	if classify.Backward != (deq.Phantom{}) || classify.Epochs != 7 || classify.LR != 0.5 || classify.Dtype != tensor.Float64 {
		t.Errorf("classify with options given: %+v", classify)
	}
	if lp, _ := Resolve(all["lp"], Options{}); lp.Backward != (deq.Unrolled{}) {
		t.Errorf("lp: backward %v, want the paper's unrolled protocol", lp.Backward)
	}
	if ab, _ := Resolve(all["ablation"], Options{Problem: "pde"}); ab.Schedule != (train.Cosine{}) || ab.Hidden != 8 {
		t.Errorf("ablation -problem pde: %+v", ab)
	}
}

// TestWriteDefaults: the table -h and -list print has a row per
// experiment with its own defaults.
func TestWriteDefaults(t *testing.T) {
	var b bytes.Buffer
	if err := WriteDefaults(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"classify ", "toy ", "1e-06", "picard", "phantom {Steps:3 Damping:0.8}", "unrolled", "shake,gaussian", "mnist,fashion", "float64"} {
		if !strings.Contains(out, want) {
			t.Errorf("the defaults table lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "\n") != 1+len(All()) {
		t.Errorf("want a header and %d rows:\n%s", len(All()), out)
	}
}
