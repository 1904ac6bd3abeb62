package experiments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/implicit-ml/implicit/train/report"
)

// Merge writes the report of a sharded run in dir once every shard is
// done: it reads the units' results (checking that each is there and
// from the run's configuration and code version) and writes report.json,
// report.md, the plots and metrics.jsonl as a single process running
// every unit would, and for a multi-seed run each seed's report and the
// combined one. For an experiment whose units are whole seeds (see
// Shard) the shards wrote each seed's report; the merge checks them and
// writes the combined one (see mergeSeedUnits). A missing or mismatched
// unit is a *MergeError naming each and the shard to rerun; nothing is
// written then. opts gives the writers and the command line.
func Merge(ctx context.Context, dir string, opts Options) (*report.Report, error) {
	man, err := readManifest(dir)
	switch {
	case err != nil:
		return nil, err
	case man == nil:
		return nil, usagef("-merge %s: the folder holds no run (no %s); give the -out folder the shards shared", dir, ManifestFile)
	case man.Shards == 0:
		return nil, usagef("-merge %s: the folder holds a run of one process, which writes its own report; -merge is for runs made with -shard", dir)
	}
	if e, ok := All()[man.Experiment]; ok && shardsBySeed(e) {
		return mergeSeedUnits(dir, man, opts)
	}
	seeds := man.Settings["seeds"]
	if seeds == "" {
		return mergeOne(ctx, dir, opts, 0)
	}
	list, err := ParseSeeds(seeds)
	if err != nil {
		return nil, fmt.Errorf("experiments: %s/%s: %w", dir, ManifestFile, err)
	}
	var reps []*report.Report
	all := &MergeError{Dir: dir}
	for i, seed := range list {
		o := opts
		o.Stdout = nil
		rep, err := mergeOne(ctx, filepath.Join(dir, SeedFolder(seed)), o, i)
		var me *MergeError
		switch {
		case errors.As(err, &me):
			all.Problems = append(all.Problems, me.Problems...)
			continue
		case err != nil:
			return nil, fmt.Errorf("seed %d: %w", seed, err)
		}
		reps = append(reps, rep)
	}
	if len(all.Problems) > 0 {
		return nil, all
	}
	opts.Out, opts.Seeds = dir, list
	return writeCombined(opts, reps)
}

// mergeOne merges one run folder (a seed's, in a multi-seed run): the
// experiment is built from the folder's manifest, as the shards built
// it, and its comparison reads the units instead of training them.
func mergeOne(ctx context.Context, dir string, opts Options, seedIndex int) (*report.Report, error) {
	man, err := readManifest(dir)
	if err != nil {
		return nil, err
	}
	if man == nil {
		return nil, &MergeError{Dir: dir, Problems: []string{fmt.Sprintf("%s was never started (no %s): run every shard", dir, ManifestFile)}}
	}
	s, err := settingsOf(man, dir)
	if err != nil {
		return nil, err
	}
	if v := codeVersion(); v != man.Version && opts.Stderr != nil {
		fmt.Fprintf(opts.Stderr, "warning: the units in %s were trained by code version %q, this merge is %q\n", dir, man.Version, v)
	}
	s.Options.merge, s.Options.seedIndex = true, seedIndex
	s.Options.Stdout, s.Options.Stderr, s.Options.Command, s.Options.Progress = opts.Stdout, opts.Stderr, opts.Command, opts.Progress
	return All()[man.Experiment].Run(ctx, s)
}

// claim makes s.Out this run's folder: claimFolder for a run of one
// process, claimShared for a shard.
func claim(s Settings, stderr io.Writer) error {
	if s.Shard.Active() {
		return claimShared(s)
	}
	return claimFolder(s, stderr)
}

// claimShared makes s.Out the folder of a sharded run, which every shard
// of it claims: the first creates the manifest (exclusively, so shards
// starting together agree on one), the others check that it is theirs —
// the same experiment, settings, shard count and code version. No
// temporary file is removed: another shard may be writing it.
func claimShared(s Settings) error {
	dir := s.Out
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("experiments: creating the output folder: %w", err)
	}
	want := Manifest{Experiment: s.Experiment, Settings: s.Fingerprint(), Version: codeVersion(), Shards: s.Shard.Count,
		Created: time.Now().UTC().Format(time.RFC3339)}
	have, err := readManifest(dir)
	if err != nil {
		return err
	}
	if have == nil {
		if err := createManifest(dir, &want); err != nil {
			return err
		}
		if have, err = readManifest(dir); err != nil {
			return err
		}
	}
	diffs := manifestDiffs(have, &want)
	if have.Shards != want.Shards {
		diffs = append(diffs, fmt.Sprintf("shards: %d, now %d", have.Shards, want.Shards))
	}
	if have.Version != want.Version {
		diffs = append(diffs, fmt.Sprintf("code version: %q, now %q", have.Version, want.Version))
	}
	if len(diffs) > 0 {
		return usagef("-shard %s: %s holds a run with other settings (%s); every shard of a run needs the same flags, shard count and code; use another -out folder",
			s.Shard, dir, joinDiffs(diffs))
	}
	return nil
}

// createManifest writes m as dir's manifest unless one is there: it is
// written to a temporary file of its own and linked into place, which
// fails when another shard got there first (then its manifest stands).
func createManifest(dir string, m *Manifest) error {
	tmp, err := os.CreateTemp(dir, ".run-*.tmp")
	if err != nil {
		return fmt.Errorf("experiments: %w", err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	js, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("experiments: %w", err)
	}
	if err := os.WriteFile(tmp.Name(), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("experiments: %w", err)
	}
	if err := os.Link(tmp.Name(), filepath.Join(dir, ManifestFile)); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("experiments: %w", err)
	}
	return nil
}
