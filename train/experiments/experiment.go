package experiments

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/implicit-ml/implicit/train/report"
)

// Experiment is a workload: models, data and metrics wired together.
type Experiment interface {
	Name() string
	// Summary says in one line what the experiment shows.
	Summary() string
	// Problems lists the variants the experiment takes (-problem), the
	// default first; nil when it has none.
	Problems() []string
	// Defaults are the experiment's own settings for a problem (one of
	// Problems, or "" when there are none), in the full or the quick
	// configuration.
	Defaults(problem string, quick bool) Defaults
	// Run trains and evaluates it under s (from Resolve) and writes its
	// report.
	Run(ctx context.Context, s Settings) (*report.Report, error)
}

// All returns every experiment, by name. It builds fresh values each time:
// there is no global registry.
func All() map[string]Experiment {
	out := map[string]Experiment{}
	for _, e := range []Experiment{Classify{}, Toy{}, Reason{}, Recurrent{}, LP{}, PDE{}, Deblur{}, Ablation{}} {
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

// Run resolves opts for the named experiment, claims its output folder
// (see Manifest) and runs it; an unknown name, a bad option or a folder
// that belongs to another run is a usage error. A run stopped by ctx has
// saved its checkpoints, and the error says how to continue it.
func Run(ctx context.Context, opts Options) (*report.Report, error) {
	e, ok := All()[opts.Experiment]
	if !ok {
		return nil, usagef("unknown experiment %q (want one of %v)", opts.Experiment, Names())
	}
	if len(opts.Seeds) > 0 {
		return runSeeds(ctx, e, opts)
	}
	s, err := Resolve(e, opts)
	if err != nil {
		return nil, err
	}
	if err := claim(s, opts.Stderr); err != nil {
		return nil, err
	}
	if s.Shard.Active() && shardsBySeed(e) {
		return nil, runSeedUnit(ctx, e, s)
	}
	rep, err := e.Run(ctx, s)
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, &Interrupted{Dir: s.Out, Err: err, Shard: s.Shard}
	case err != nil && UsageError(err) && !s.Resume && !s.Shard.Active():
		releaseFolder(s.Out) // a corrected command may use the folder again
	}
	return rep, err
}

// Interrupted is the error of a run stopped by its context (a signal):
// its checkpoints are saved in Dir, and the same command with -resume
// continues it exactly.
type Interrupted struct {
	Dir string
	Err error
	// Shard is the shard that was stopped, when the run is sharded: it
	// continues with the same command, without -resume.
	Shard Shard
}

func (e *Interrupted) Error() string {
	if e.Shard.Active() {
		return fmt.Sprintf("interrupted; shard %s's finished units are saved in %s: run the same command again (requeue the task) to continue it (%v)", e.Shard, e.Dir, e.Err)
	}
	return fmt.Sprintf("interrupted; the run is saved in %s: continue it with the same flags and -out %s -resume (%v)", e.Dir, e.Dir, e.Err)
}

func (e *Interrupted) Unwrap() error { return e.Err }

// WriteDefaults writes a table of every experiment's own defaults (its
// default problem, full configuration): what -h and -list show.
func WriteDefaults(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "experiment\tepochs\tbatch\thidden\tlr\tschedule\tsolver\tbackward\tadjoint\ttol\tmax-iter\tdtype\tproblems\tdatasets")
	all := All()
	for _, n := range Names() {
		e := all[n]
		d := e.Defaults(first(e.Problems()), false)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d (%s)\t%g\t%s\t%s\t%s\t%s\t%g\t%d\t%v\t%s\t%s\n", n, d.Epochs, d.Batch, d.Hidden, d.HiddenMeans, d.LR,
			d.Schedule, orString(d.Solver, "-"), backwardLabel(d), orString(d.Adjoint, "-"), d.Tol, d.MaxIter, d.Dtype, list(e.Problems()), list(d.Datasets))
	}
	return tw.Flush()
}

// backwardLabel names the default gradient mode with its settings when
// they are not the name's deq defaults.
func backwardLabel(d Defaults) string {
	if d.BackwardMode == nil {
		return orString(d.Backward, "-")
	}
	return fmt.Sprintf("%s %+v", d.Backward, d.BackwardMode)
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func list(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ",")
}
