package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/implicit-ml/implicit/internal/killpoint"
	"github.com/implicit-ml/implicit/train/experiments"
)

// helperArgs is the variable that makes TestHelperTrain run the command
// with its value (arguments separated by newlines), in a process of its
// own that a kill point can kill.
const helperArgs = "IMPLICIT_TRAIN_HELPER_ARGS"

// TestHelperTrain is not a test: it is the command, run by the tests
// below in a child process (this test binary, re-executed).
func TestHelperTrain(t *testing.T) {
	args := os.Getenv(helperArgs)
	if args == "" {
		t.Skip("runs only as a child process of the shard tests")
	}
	if err := run(context.Background(), strings.Split(args, "\n"), os.Stdout, os.Stderr); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	os.Exit(0)
}

// seedShardArgs is a toy run small enough for a test: 5 models, one
// epoch of 5 steps each, two seeds. toy's units are whole seeds.
var seedShardArgs = []string{"-experiment", "toy", "-quick", "-epochs", "1", "-hidden", "8", "-progress", "never"}

func runToy(extra ...string) (string, error) {
	var out bytes.Buffer
	err := run(context.Background(), append(append([]string(nil), seedShardArgs...), extra...), &out, &out)
	return out.String(), err
}

func merge(dir string) (string, error) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"-merge", dir}, &out, &out)
	return out.String(), err
}

// TestSeedShardedRunMergesToSingleRun runs a two-seed toy run as two
// shards (one unit, a whole seed, each), the second killed inside its
// seed's second model's training (the first is finished and
// checkpointed), and checks: a shard of another configuration is
// refused; the merge refuses while seed 2 is unfinished and names it with
// the shard to rerun; the killed shard rerun with the same command
// continues its seed; a finished shard rerun changes nothing; the merged
// reports, seed by seed and combined, equal the single process's but for
// times, memory and the command (metrics bit for bit); a seed folder of
// another code version is refused by the merge and by its shard.
func TestSeedShardedRunMergesToSingleRun(t *testing.T) {
	must := func(out string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return out
	}
	ref, dir := filepath.Join(t.TempDir(), "ref"), filepath.Join(t.TempDir(), "sharded")
	must(runToy("-seeds", "1,2", "-out", ref))

	must(runToy("-seeds", "1,2", "-out", dir, "-shard", "0/2"))
	if _, err := os.Stat(filepath.Join(dir, "seed-2")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("shard 0/2 wrote into seed 2's folder, shard 1/2's: %v", err)
	}
	out, err := runToy("-seeds", "1,2", "-out", dir, "-shard", "1/2", "-lr", "0.02")
	if !experiments.UsageError(err) || !strings.Contains(err.Error(), "other settings (lr: 0.01, now 0.02)") {
		t.Errorf("a shard with another -lr joined the run: %v\n%s", err, out)
	}
	killedShard(t, filepath.Join(dir, "seed-2"), "train:explicit-mlp-L10:3", "-seeds", "1,2", "-out", dir, "-shard", "1/2")
	out, err = merge(dir)
	var me *experiments.MergeError
	if !errors.As(err, &me) || len(me.Problems) != 1 || !strings.Contains(me.Problems[0], "unit 1 (seed 2, in "+filepath.Join(dir, "seed-2")+") is missing (it had started") ||
		!strings.Contains(me.Problems[0], "rerun shard 1/2 (-shard 1/2, array task 1)") {
		t.Errorf("merging with seed 2 unfinished: got %v\n%s", err, out)
	}
	if written(dir) {
		t.Fatalf("a failed merge wrote a report")
	}
	seed1 := seedFiles(t, filepath.Join(dir, "seed-1"))
	must(runToy("-seeds", "1,2", "-out", dir, "-shard", "1/2"))
	if out := must(runToy("-seeds", "1,2", "-out", dir, "-shard", "0/2")); !strings.Contains(out, "seed 1 finished in an earlier run") {
		t.Errorf("rerunning the finished shard 0/2 did not find its seed done:\n%s", out)
	}
	if again := seedFiles(t, filepath.Join(dir, "seed-1")); !reflect.DeepEqual(again, seed1) {
		t.Errorf("rerunning shards changed seed 1's files")
	}
	if out := must(merge(dir)); !strings.Contains(out, "mean ± std over seeds 1, 2") {
		t.Errorf("the merge did not print the combined table:\n%s", out)
	}
	for _, seed := range []string{"seed-1", "seed-2"} {
		sameRun(t, filepath.Join(ref, seed), filepath.Join(dir, seed))
	}
	if a, b := reportJSON(t, ref), reportJSON(t, dir); !reflect.DeepEqual(a, b) {
		t.Errorf("combined report.json differs:\nsingle process %v\nmerged         %v", a, b)
	}
	if a, b := reportMarkdown(t, ref), reportMarkdown(t, dir); a != b {
		t.Errorf("combined report.md differs:\n--- single process\n%s\n--- merged\n%s", a, b)
	}
	otherVersionRefused(t, dir)
	singleSeedShards(t, filepath.Join(ref, "seed-1"))
}

// killedShard runs the command with args in a child process killed at
// the kill point, before its seed's report is written.
func killedShard(t *testing.T, seedDir, kill string, args ...string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperTrain$")
	cmd.Env = append(os.Environ(), helperArgs+"="+strings.Join(append(append([]string(nil), seedShardArgs...), args...), "\n"), killpoint.Variable+"="+kill)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != -1 { // -1: ended by a signal
		t.Fatalf("the shard was not killed at %s: %v\n%s", kill, err, out)
	}
	if _, err := os.Stat(filepath.Join(seedDir, "report.json")); err == nil {
		t.Fatalf("the shard killed at %s wrote %s/report.json", kill, seedDir)
	}
}

// otherVersionRefused gives seed 2's folder another code version and
// checks that the merge names it and the shard to rerun, and that its
// shard refuses to skip or continue it.
func otherVersionRefused(t *testing.T, dir string) {
	t.Helper()
	path := filepath.Join(dir, "seed-2", experiments.ManifestFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m["version"] = "other"
	if raw, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := merge(dir)
	for _, want := range []string{"unit 1 (seed 2, in ", `is from another run: code version "other"`, "rerun shard 1/2"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("merging with seed 2 of another code version: want %q in the error, got %v\n%s", want, err, out)
		}
	}
	if out, err := runToy("-seeds", "1,2", "-out", dir, "-shard", "1/2"); err == nil || !strings.Contains(err.Error(), "holds another run's seed") {
		t.Errorf("shard 1/2 took seed 2 of another code version as its own: %v\n%s", err, out)
	}
}

// singleSeedShards runs a one-seed toy run as two shards: its one unit is
// shard 0/2's; shard 1/2 writes nothing but the shared run.json; the
// merge names the missing unit until shard 0/2 has run, then finds the
// report one process writes (ref, the same seed's run).
func singleSeedShards(t *testing.T, ref string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "one")
	if out, err := runToy("-seed", "1", "-out", dir, "-shard", "1/2"); err != nil || !strings.Contains(out, "nothing to do") {
		t.Fatalf("shard 1/2 of a one-seed run: %v\n%s", err, out)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("shard 1/2 of a one-seed run wrote %d files; want only %s", len(entries), experiments.ManifestFile)
	}
	if out, err := merge(dir); err == nil || !strings.Contains(err.Error(), "unit 0 (seed 1, the whole run) is missing; rerun shard 0/2") {
		t.Errorf("merging a one-seed run before shard 0/2: %v\n%s", err, out)
	}
	if out, err := runToy("-seed", "1", "-out", dir, "-shard", "0/2"); err != nil {
		t.Fatalf("shard 0/2: %v\n%s", err, out)
	}
	if out, err := merge(dir); err != nil || !strings.Contains(out, "implicit-gated") {
		t.Errorf("merging a one-seed run: %v\n%s", err, out)
	}
	sameRun(t, ref, dir)
}

// seedFiles reads every file of a seed's folder.
func seedFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(p)
		out[p] = string(raw)
		return err
	})
	if err != nil || len(out) == 0 {
		t.Fatalf("reading %s: %d files, %v", dir, len(out), err)
	}
	return out
}
