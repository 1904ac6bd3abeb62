package experiments

import (
	"bytes"
	"context"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/implicit-ml/implicit/train"
	"github.com/implicit-ml/implicit/train/report"
)

// UnitsFolder is the subfolder of a run folder (of each seed's folder in
// a multi-seed run) where shards put their units' results.
const UnitsFolder = "units"

// unit is one training unit's result as a shard writes it: the model's
// row of the report and the notes its run added, with what the unit was
// and which configuration and code produced it. It is written under a
// temporary name and renamed, so a reader sees a whole unit or none.
type unit struct {
	// Unit is the unit's number k in the run; Index is the model's
	// position in the experiment's list; Seed the seed it trained with.
	Unit, Index int
	Model       string
	Seed        uint64
	// Shard and Shards are the shard that trained it, i of n.
	Shard, Shards int
	Experiment    string
	Settings      map[string]string
	Version       string
	// Row is the report.ModelReport, gob-encoded: every float exactly,
	// NaN (a failed model's metric) included, which JSON cannot hold.
	Row []byte
	// Failure is the note of a model whose training failed in a grid
	// that tolerates failures; Notes are the notes its run added (a
	// collapse).
	Failure string   `json:",omitempty"`
	Notes   []string `json:",omitempty"`
	// TestMetric repeats the row's metric for a reader of the file (NaN
	// is written as null).
	TestMetric *float64 `json:",omitempty"`
	// Seconds is the unit's wall time, training and evaluation; a merged
	// report's wall time is the units' sum (a single process's time).
	Seconds float64
	Created string
}

func unitPath(dir string, index int) string {
	return filepath.Join(dir, UnitsFolder, fmt.Sprintf("%04d.json", index))
}

func unitMetricsPath(dir string, index int) string {
	return filepath.Join(dir, UnitsFolder, fmt.Sprintf("%04d.metrics.jsonl", index))
}

func (u *unit) row() (*report.ModelReport, error) {
	var mr report.ModelReport
	if err := gob.NewDecoder(bytes.NewReader(u.Row)).Decode(&mr); err != nil {
		return nil, fmt.Errorf("its row: %w", err)
	}
	return &mr, nil
}

// writeUnit writes u atomically: to a temporary file of its own (another
// shard's temporaries are never touched), renamed into place.
func writeUnit(path string, u *unit, mr *report.ModelReport) error {
	var row bytes.Buffer
	if err := gob.NewEncoder(&row).Encode(mr); err != nil {
		return fmt.Errorf("experiments: unit %d: %w", u.Unit, err)
	}
	u.Row = row.Bytes()
	if v := mr.TestMetric; v == v && v-v == 0 {
		u.TestMetric = &v
	}
	js, err := json.MarshalIndent(u, "", "  ")
	if err != nil {
		return fmt.Errorf("experiments: unit %d: %w", u.Unit, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".unit-*.tmp")
	if err != nil {
		return fmt.Errorf("experiments: %w", err)
	}
	defer os.Remove(f.Name()) // no-op after the rename
	if _, err := f.Write(append(js, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("experiments: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("experiments: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("experiments: %w", err)
	}
	return os.Rename(f.Name(), path)
}

func readUnit(path string) (*unit, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var u unit
	if err := json.Unmarshal(raw, &u); err != nil {
		return nil, fmt.Errorf("%s is not a unit's result (%v)", path, err)
	}
	return &u, nil
}

// mismatch says how u differs from the unit expected at its place
// (model, position, seed) in a run of man's configuration; "" when it
// does not.
func (u *unit) mismatch(man *Manifest, k, index int, model string, seed uint64) string {
	var d []string
	if u.Unit != k || u.Index != index || u.Model != model || u.Seed != seed {
		d = append(d, fmt.Sprintf("it is unit %d (%s, seed %d), expected unit %d (%s, seed %d)", u.Unit, u.Model, u.Seed, k, model, seed))
	}
	if diffs := manifestDiffs(&Manifest{Experiment: u.Experiment, Settings: u.Settings}, man); len(diffs) > 0 {
		d = append(d, "settings differ from run.json's: "+joinDiffs(diffs))
	}
	if u.Version != man.Version {
		d = append(d, fmt.Sprintf("code version %q, the run's is %q", u.Version, man.Version))
	}
	if len(d) == 0 {
		return ""
	}
	return joinDiffs(d)
}

// runShard trains this shard's units of the comparison, each one's row
// written to units/ when it is finished; a unit whose result is there is
// skipped, and one that was interrupted continues from its checkpoint.
// Nothing another shard writes is read or removed.
func (c *comparison) runShard(ctx context.Context, o Options, dir string, logf func(string, ...any)) error {
	man, err := readManifest(dir)
	if err != nil {
		return err
	}
	if man == nil {
		return fmt.Errorf("experiments: %s has no %s: a shard runs in a claimed folder", dir, ManifestFile)
	}
	if err := os.MkdirAll(filepath.Join(dir, UnitsFolder), 0o755); err != nil {
		return fmt.Errorf("experiments: %w", err)
	}
	var mine []int
	for j, m := range c.models {
		k := o.seedIndex*len(c.models) + j
		if !o.Shard.Owns(k) {
			continue
		}
		mine = append(mine, k)
		u, err := readUnit(unitPath(dir, j))
		switch {
		case err == nil:
			if d := u.mismatch(man, k, j, m.Name(), o.Seed); d != "" {
				return fmt.Errorf("experiments: %s: %s; remove it to train the unit again", unitPath(dir, j), d)
			}
			logf("unit %d (%s) finished in an earlier run of shard %s", k, m.Name(), o.Shard)
			continue
		case !errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("experiments: %w", err)
		}
		if err := c.trainUnit(ctx, o, dir, man, unit{Unit: k, Index: j, Model: m.Name(), Seed: o.Seed}, m, logf); err != nil {
			return err
		}
	}
	logf("shard %s: units %v of %d done in %s; when every shard is done, merge them with -merge %s", o.Shard, mine, len(c.models), dir, dir)
	return nil
}

// trainUnit trains and evaluates one unit (continuing its checkpoint
// when there is one) and writes its result.
func (c *comparison) trainUnit(ctx context.Context, o Options, dir string, man *Manifest, u unit, m model, logf func(string, ...any)) error {
	metrics, err := train.OpenMetrics(unitMetricsPath(dir, u.Index))
	if err != nil {
		return err
	}
	defer metrics.Close()
	o.Resume = true // a killed shard's unit continues; a fresh one starts
	start, before := time.Now(), len(c.modelNotes)
	mr, failure, err := c.row(ctx, o, dir, m, metrics, logf)
	if err != nil {
		return err
	}
	u.Shard, u.Shards = o.Shard.Index, o.Shard.Count
	u.Experiment, u.Settings, u.Version = man.Experiment, man.Settings, codeVersion()
	u.Failure, u.Notes = failure, append([]string(nil), c.modelNotes[before:]...)
	u.Seconds, u.Created = time.Since(start).Seconds(), time.Now().UTC().Format(time.RFC3339)
	return writeUnit(unitPath(dir, u.Index), &u, mr)
}

// mergeRows fills rep with every unit's row, in the experiment's order,
// from the units' results in dir, and writes metrics.jsonl as the units'
// logs one after another. A missing or mismatched unit is an error
// naming each and the shard to rerun (see MergeError).
func (c *comparison) mergeRows(o Options, dir string, rep *report.Report) error {
	man, err := readManifest(dir)
	if err != nil || man == nil {
		return fmt.Errorf("experiments: merging %s: %v (no %s)", dir, err, ManifestFile)
	}
	var problems []string
	var units []*unit
	for j, m := range c.models {
		k := o.seedIndex*len(c.models) + j
		u, err := readUnit(unitPath(dir, j))
		what := fmt.Sprintf("unit %d (%s, seed %d)", k, m.Name(), o.Seed)
		switch {
		case errors.Is(err, os.ErrNotExist):
			problems = append(problems, fmt.Sprintf("%s is missing%s; rerun %s", what, started(dir, j), shardToRerun(k, man.Shards)))
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s: %v; remove it and rerun %s", what, err, shardToRerun(k, man.Shards)))
		default:
			if d := u.mismatch(man, k, j, m.Name(), o.Seed); d != "" {
				problems = append(problems, fmt.Sprintf("%s is from another run: %s; remove %s and rerun %s", what, d, unitPath(dir, j), shardToRerun(k, man.Shards)))
			}
		}
		units = append(units, u)
	}
	if len(problems) > 0 {
		return &MergeError{Dir: dir, Problems: problems}
	}
	c.modelNotes = nil
	for _, u := range units {
		mr, err := u.row()
		if err != nil {
			return fmt.Errorf("experiments: %s: %w", unitPath(dir, u.Index), err)
		}
		if u.Failure != "" {
			rep.Notes = append(rep.Notes, u.Failure)
		}
		c.modelNotes = append(c.modelNotes, u.Notes...)
		rep.Models = append(rep.Models, *mr)
		rep.WallSeconds += u.Seconds
	}
	return concatMetrics(dir, len(c.models))
}

// started says whether a unit had begun: its metrics log, opened first,
// is there.
func started(dir string, index int) string {
	if _, err := os.Stat(unitMetricsPath(dir, index)); err == nil {
		return " (it had started: its shard was stopped while training it, or is still running)"
	}
	return ""
}

func joinDiffs(d []string) string { return strings.Join(d, "; ") }

func shardToRerun(k, shards int) string {
	if shards < 1 {
		return "the run"
	}
	return fmt.Sprintf("shard %d/%d (-shard %d/%d, array task %d)", k%shards, shards, k%shards, shards, k%shards)
}

// concatMetrics writes metrics.jsonl as the units' logs in order: the log
// a single process writes, model after model.
func concatMetrics(dir string, n int) error {
	return report.WriteFile(filepath.Join(dir, "metrics.jsonl"), func(w io.Writer) error {
		for j := range n {
			f, err := os.Open(unitMetricsPath(dir, j))
			if errors.Is(err, os.ErrNotExist) {
				continue // a unit read back from a run before metrics were kept per unit
			}
			if err != nil {
				return err
			}
			_, err = io.Copy(w, f)
			f.Close()
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// MergeError lists what keeps a sharded run from being merged: each
// missing or mismatched unit, and the shard to rerun for it.
type MergeError struct {
	Dir      string
	Problems []string
}

func (e *MergeError) Error() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "experiments: cannot merge %s: %d unit(s) missing or mismatched:", e.Dir, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p)
	}
	return b.String()
}
