package experiments

import (
	"context"
	"sort"

	"github.com/implicit-ml/implicit/train"
)

// Experiment is a workload: models, data and metrics wired together.
// Run trains and evaluates it under opts and writes its report.
type Experiment interface {
	Name() string
	// Summary says in one line what the experiment shows.
	Summary() string
	Run(ctx context.Context, opts Options) (*train.Report, error)
}

// All returns every experiment, by name. It builds fresh values each time:
// there is no global registry.
func All() map[string]Experiment {
	out := map[string]Experiment{}
	for _, e := range []Experiment{Classify{}, Toy{}, Reason{}, LP{}, Pde{}, Deblur{}, Ablation{}} {
		out[e.Name()] = e
	}
	return out
}

// Names returns the experiment names, sorted.
func Names() []string {
	var ns []string
	for n := range All() {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

// Run runs the named experiment; an unknown name is a usage error.
func Run(ctx context.Context, opts Options) (*train.Report, error) {
	e, ok := All()[opts.Experiment]
	if !ok {
		return nil, usagef("unknown experiment %q (want one of %v)", opts.Experiment, Names())
	}
	if err := opts.Validate(); err != nil {
		return nil, usagef("%v", err)
	}
	return e.Run(ctx, opts)
}
