package experiments

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/implicit-ml/implicit/train"
	"github.com/implicit-ml/implicit/train/report"
)

// ManifestFile names the file that says which run owns an output folder.
const ManifestFile = "run.json"

// Manifest is run.json: the experiment and the settings that own a run
// folder. A run writes it before anything else; another experiment or
// other settings in the same folder are refused, and -resume continues
// only the run it describes.
type Manifest struct {
	Experiment string `json:"experiment"`
	// Settings are every resolved setting that changes results, as text
	// (Settings.Fingerprint).
	Settings map[string]string `json:"settings"`
	// Version is the code's VCS revision, when the build recorded one.
	Version string `json:"version,omitempty"`
	Created string `json:"created"`
	// Shards is the number of shards that share the folder (0: a run of
	// one process); see Shard.
	Shards int `json:"shards,omitempty"`
}

// Fingerprint is every setting that changes a run's results, as text:
// what a resumed run must share with the run it continues. The output
// folder, progress display, writers and command line are not in it.
func (s Settings) Fingerprint() map[string]string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	m := map[string]string{
		"experiment": s.Experiment, "problem": s.Problem, "dataset": s.Dataset,
		"epochs": strconv.Itoa(s.Epochs), "batch": strconv.Itoa(s.Batch), "hidden": strconv.Itoa(s.Hidden),
		"lr": f(s.LR), "clip": f(s.Clip), "schedule": s.Schedule.String(), "optimizer": orString(s.Options.Optimizer, "adam"),
		"solver": fmt.Sprintf("%T%+v", s.Solver, s.Solver), "backward": fmt.Sprintf("%T%+v", s.Backward, s.Backward),
		"tol": f(s.Stop.Tol), "max_iter": strconv.Itoa(s.Stop.MaxIter), "dtype": s.Dtype.String(), "radius": f(s.Radius),
		"seed": strconv.FormatUint(s.Seed, 10), "quick": strconv.FormatBool(s.Quick), "warm_start": strconv.FormatBool(s.WarmStart),
	}
	if len(s.Seeds) > 0 {
		delete(m, "seed")
		m["seeds"] = seedsString(s.Seeds)
	}
	return m
}

// codeVersion is the VCS revision the binary was built from ("+dirty"
// when the tree had changes), or "" when the build recorded none.
func codeVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var rev, dirty string
	for _, kv := range info.Settings {
		switch kv.Key {
		case "vcs.revision":
			rev = kv.Value
		case "vcs.modified":
			if kv.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev == "" {
		return ""
	}
	return rev + dirty
}

// claimFolder makes s.Out the folder of this run. A fresh run needs a
// folder without a run in it (an empty or missing one); a resumed run
// needs the folder of a run of the same experiment with the same
// settings. It then writes the manifest (fresh runs) and removes the
// temporary files a killed run left behind.
func claimFolder(s Settings, stderr io.Writer) error {
	dir := s.Out
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return usagef("-out %s is a file, not a folder", dir)
	}
	want := Manifest{Experiment: s.Experiment, Settings: s.Fingerprint(), Version: codeVersion(), Created: time.Now().UTC().Format(time.RFC3339)}
	have, err := readManifest(dir)
	switch {
	case err != nil:
		return err
	case s.Resume && have == nil:
		return usagef("-resume: %s holds no run to continue (no %s); leave out -resume to start one there", dir, ManifestFile)
	case s.Resume:
		if diffs := manifestDiffs(have, &want); len(diffs) > 0 {
			return usagef("-resume: %s holds a run with other settings (%s); resume with the flags it was started with, or start a new run in another -out folder",
				dir, strings.Join(diffs, "; "))
		}
		if have.Version != want.Version && stderr != nil {
			fmt.Fprintf(stderr, "warning: %s was started by code version %q, this is %q; its results may not match an uninterrupted run\n", dir, have.Version, want.Version)
		}
	case have != nil:
		return usagef("%s already holds a run of %s (started %s); pass -resume with the same flags to continue it, or choose another -out folder",
			dir, have.Experiment, have.Created)
	default:
		if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
			return usagef("%s is not empty and holds no run (no %s); choose an empty or new -out folder, so that no file is overwritten", dir, ManifestFile)
		}
		if err := writeManifest(dir, &want); err != nil {
			return err
		}
	}
	return removeStaleTemps(dir)
}

func readManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, ManifestFile)
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("experiments: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil || m.Experiment == "" || m.Settings == nil {
		return nil, fmt.Errorf("experiments: %s is not a run manifest (%v); the folder was left untouched: remove the file, or use another -out folder", path, err)
	}
	return &m, nil
}

func writeManifest(dir string, m *Manifest) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("experiments: creating the output folder: %w", err)
	}
	js, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("experiments: %w", err)
	}
	return report.WriteFile(filepath.Join(dir, ManifestFile), func(w io.Writer) error {
		_, err := w.Write(append(js, '\n'))
		return err
	})
}

// manifestDiffs lists the settings in which two manifests differ.
func manifestDiffs(have, want *Manifest) []string {
	var diffs []string
	if have.Experiment != want.Experiment {
		diffs = append(diffs, fmt.Sprintf("experiment: %s, now %s", have.Experiment, want.Experiment))
	}
	var keys []string
	for k := range have.Settings {
		keys = append(keys, k)
	}
	for k := range want.Settings {
		if _, ok := have.Settings[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if have.Settings[k] != want.Settings[k] {
			diffs = append(diffs, fmt.Sprintf("%s: %s, now %s", k, have.Settings[k], want.Settings[k]))
		}
	}
	return diffs
}

// removeStaleTemps deletes the temporary files a killed run left: the
// checkpoints' and the report files' (a report file is written to
// NAME.tmp and renamed).
func removeStaleTemps(dir string) error {
	if err := train.RemoveStaleTemps(filepath.Join(dir, "checkpoints")); err != nil {
		return err
	}
	stale, err := filepath.Glob(filepath.Join(dir, "*.tmp"))
	if err != nil {
		return fmt.Errorf("experiments: %w", err)
	}
	for _, f := range stale {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("experiments: removing the stale temporary %s: %w", f, err)
		}
	}
	return nil
}

// releaseFolder undoes claimFolder for a run that stopped on a usage
// error before it trained anything: without a checkpoint, the manifest,
// an empty metrics log and empty folders are removed.
func releaseFolder(dir string) {
	if ckpts, _ := filepath.Glob(filepath.Join(dir, "checkpoints", "*.ckpt")); len(ckpts) > 0 {
		return
	}
	if st, err := os.Stat(filepath.Join(dir, "metrics.jsonl")); err == nil && st.Size() > 0 {
		return
	}
	for _, p := range []string{filepath.Join(dir, "metrics.jsonl"), filepath.Join(dir, ManifestFile), filepath.Join(dir, "checkpoints"), dir} {
		os.Remove(p) // only empty folders go; the rest is best effort
	}
}
