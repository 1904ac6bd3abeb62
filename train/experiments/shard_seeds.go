package experiments

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/implicit-ml/implicit/train"
	"github.com/implicit-ml/implicit/train/report"
)

// shardsBySeed says whether e's training units are whole seeds rather
// than its models seed by seed. Only classify and ablation train models
// that are independent rows of one table; the other experiments draw
// figures from all their models together once they are trained (their
// comparisons' finish step), and LP and Navier–Stokes train a first phase
// that all their models continue, so their models cannot be trained
// apart. Their unit k is the seed at position k of -seeds (a run of one
// seed is one unit), run into its folder seed-N as -seeds runs it.
func shardsBySeed(e Experiment) bool {
	switch e.(type) {
	case Classify, Ablation:
		return false
	}
	return true
}

// runSeedUnits runs a shard's seeds of a multi-seed run whose units are
// whole seeds, in the run folder opts.Out it has claimed: the seed at
// position k when the shard owns k, into its folder seed-N exactly as a
// run of one process does. A seed whose report is written is skipped, one
// that had started continues from its checkpoints; no other shard's seed
// folder is read or written.
func runSeedUnits(ctx context.Context, opts Options) error {
	man, err := readManifest(opts.Out)
	if err != nil {
		return err
	}
	if man == nil {
		return fmt.Errorf("experiments: %s has no %s: a shard runs in a claimed folder", opts.Out, ManifestFile)
	}
	shard, mine := opts.Shard, []uint64{}
	for k, seed := range opts.Seeds {
		if !shard.Owns(k) {
			continue
		}
		mine = append(mine, seed)
		dir := filepath.Join(opts.Out, SeedFolder(seed))
		d, err := seedMismatch(dir, man, seed)
		if err != nil {
			return err
		}
		if d != "" {
			return fmt.Errorf("experiments: %s holds another run's seed (%s); remove it to run the seed again", dir, d)
		}
		logf(opts, "shard %s: unit %d, seed %d, into %s", shard, k, seed, dir)
		o := opts
		o.Shard, o.Resume = Shard{}, true // a killed shard's seed continues; a fresh one starts
		_, err = runOneSeed(ctx, o, seed)
		var stopped *Interrupted
		if errors.As(err, &stopped) {
			return &Interrupted{Dir: opts.Out, Err: stopped.Err, Shard: shard}
		}
		if err != nil {
			return fmt.Errorf("seed %d: %w", seed, err)
		}
	}
	if len(mine) == 0 {
		logf(opts, "shard %s: the run's units are its %d seeds, none of them this shard's; nothing to do", shard, len(opts.Seeds))
		return nil
	}
	logf(opts, "shard %s: seeds %s of %s done in %s; when every shard is done, merge them with -merge %s", shard, seedsString(mine), seedsString(opts.Seeds), opts.Out, opts.Out)
	return nil
}

// runSeedUnit runs the one unit of a single-seed sharded run whose units
// are whole seeds: shard 0 runs the experiment into the shared folder s.Out
// as one process would, continuing its checkpoints when it had started,
// and nothing when its report is written; the other shards have nothing
// to do.
func runSeedUnit(ctx context.Context, e Experiment, s Settings) error {
	shard := s.Shard
	switch {
	case !shard.Owns(0):
		logf(s.Options, "shard %s: %s with one seed is one unit, shard 0/%d's; nothing to do (give -seeds to spread seeds over shards)", shard, s.Experiment, shard.Count)
		return nil
	case report.Written(s.Out):
		logf(s.Options, "shard %s: unit 0 (seed %d) finished in an earlier run", shard, s.Seed)
		return nil
	}
	// Only this shard writes checkpoints here: a temporary among them is
	// a killed run's.
	if err := train.RemoveStaleTemps(filepath.Join(s.Out, "checkpoints")); err != nil {
		return err
	}
	s.Shard, s.Resume, s.Stdout = Shard{}, true, nil
	if _, err := e.Run(ctx, s); err != nil {
		if ctx.Err() != nil {
			return &Interrupted{Dir: s.Out, Err: err, Shard: shard}
		}
		return err
	}
	logf(s.Options, "shard %s: unit 0 (seed %d) done in %s; -merge %s checks it and prints its table", shard, s.Seed, s.Out, s.Out)
	return nil
}

// seedSettings are the settings of seed's own run in a multi-seed run of
// the given settings (Settings.Fingerprint).
func seedSettings(run map[string]string, seed uint64) map[string]string {
	out := map[string]string{}
	for k, v := range run {
		out[k] = v
	}
	delete(out, "seeds")
	out["seed"] = strconv.FormatUint(seed, 10)
	return out
}

// seedMismatch says how the run in dir, seed's folder of the sharded run
// man describes, differs from that seed's run of the same settings and
// code version; "" when it does not, or when dir holds no run.
func seedMismatch(dir string, man *Manifest, seed uint64) (string, error) {
	have, err := readManifest(dir)
	if err != nil || have == nil {
		return "", err
	}
	var d []string
	if diffs := manifestDiffs(have, &Manifest{Experiment: man.Experiment, Settings: seedSettings(man.Settings, seed)}); len(diffs) > 0 {
		d = append(d, "settings differ from run.json's: "+joinDiffs(diffs))
	}
	if have.Version != man.Version {
		d = append(d, fmt.Sprintf("code version %q, the run's is %q", have.Version, man.Version))
	}
	return joinDiffs(d), nil
}

// mergeSeedUnits writes the report of a sharded run whose units are whole
// seeds (man is its manifest): every seed's folder must hold a finished
// run of the run's settings and code version. The combined report is the
// one a run of one process writes from its seeds' reports; a missing,
// unfinished or mismatched seed is a *MergeError naming it and the shard
// to rerun, and nothing is written.
func mergeSeedUnits(dir string, man *Manifest, opts Options) (*report.Report, error) {
	if man.Settings["seeds"] == "" {
		return mergeSeedUnit(dir, man, opts)
	}
	list, err := ParseSeeds(man.Settings["seeds"])
	if err != nil {
		return nil, fmt.Errorf("experiments: %s/%s: %w", dir, ManifestFile, err)
	}
	var reps []*report.Report
	all := &MergeError{Dir: dir}
	for k, seed := range list {
		sd := filepath.Join(dir, SeedFolder(seed))
		what, rerun := fmt.Sprintf("unit %d (seed %d, in %s)", k, seed, sd), shardToRerun(k, man.Shards)
		d, err := seedMismatch(sd, man, seed)
		switch {
		case err != nil:
			all.Problems = append(all.Problems, fmt.Sprintf("%s: %v; remove it and rerun %s", what, err, rerun))
		case d != "":
			all.Problems = append(all.Problems, fmt.Sprintf("%s is from another run: %s; remove %s and rerun %s", what, d, sd, rerun))
		case !report.Written(sd):
			all.Problems = append(all.Problems, fmt.Sprintf("%s is missing%s; rerun %s", what, seedStarted(sd), rerun))
		default:
			rep, err := report.Read(filepath.Join(sd, "report.json"))
			if err != nil {
				return nil, err
			}
			reps = append(reps, rep)
		}
	}
	if len(all.Problems) > 0 {
		return nil, all
	}
	opts.Out, opts.Seeds = dir, list
	return writeCombined(opts, reps)
}

// mergeSeedUnit checks the one unit of a single-seed sharded run whose
// units are whole seeds: shard 0 wrote the report into dir itself, as one
// process does; the merge prints its table.
func mergeSeedUnit(dir string, man *Manifest, opts Options) (*report.Report, error) {
	if !report.Written(dir) {
		return nil, &MergeError{Dir: dir, Problems: []string{fmt.Sprintf("unit 0 (seed %s, the whole run) is missing%s; rerun %s",
			man.Settings["seed"], seedStarted(dir), shardToRerun(0, man.Shards))}}
	}
	rep, err := report.Read(filepath.Join(dir, "report.json"))
	if err != nil {
		return nil, err
	}
	if opts.Stdout != nil {
		report.PrintTable(opts.Stdout, rep)
		fmt.Fprintf(opts.Stdout, "\nreport: %s (written by shard 0/%d, the run's one unit)\n", filepath.Join(dir, "report.md"), man.Shards)
	}
	return rep, nil
}

// seedStarted says whether a seed's run had begun: it has a checkpoint or
// a metrics log.
func seedStarted(dir string) string {
	ckpts, _ := filepath.Glob(filepath.Join(dir, "checkpoints", "*.ckpt"))
	if _, err := os.Stat(filepath.Join(dir, "metrics.jsonl")); err == nil || len(ckpts) > 0 {
		return " (it had started: its shard was stopped while running it, or is still running)"
	}
	return ""
}
