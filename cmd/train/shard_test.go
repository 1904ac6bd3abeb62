package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/implicit-ml/implicit/internal/killpoint"
	"github.com/implicit-ml/implicit/train/experiments"
)

// TestShardFlagErrors: bad -shard, -shards and -merge values are usage
// errors that say what is wrong, before anything runs.
func TestShardFlagErrors(t *testing.T) {
	out := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-shard", "3/3", "-out", out}, "index must be between 0 and 2"},
		{[]string{"-shard", "x", "-out", out}, "want i/n"},
		{[]string{"-shard", "0/3"}, "needs -out"},
		{[]string{"-shard", "0/3", "-shards", "2", "-out", out}, "disagree"},
		{[]string{"-shards", "2", "-out", out}, "needs a shard index"},
		{[]string{"-merge", out, "-shard", "0/2"}, "takes no -shard"},
		{[]string{"-merge", filepath.Join(out, "none")}, "holds no run"},
	} {
		err := run(context.Background(), c.args, io.Discard, io.Discard)
		if !experiments.UsageError(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want a usage error containing %q", c.args, err, c.want)
		}
	}
}

// TestShardedRunMergesToSingleRun runs a two-seed classify run (6 units:
// 3 models × 2 seeds) as 4 shards into one folder — one shard given by
// Slurm's variables, one by a Kubernetes index, one killed in a model's
// evaluation, after its checkpoint marked it trained — checks that
// the merge refuses while units are missing and names them with the
// shard to rerun, reruns the killed shard (which resumes its unit and
// leaves the other shards' results untouched), and compares the merged
// reports, seed by seed and combined, and the metrics logs with the same
// run made by one process: equal but for times, memory and the command.
func TestShardedRunMergesToSingleRun(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "train")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building the command: %v\n%s", err, out)
	}
	args := []string{"-quick", "-epochs", "1", "-seeds", "1,2", "-progress", "never"}
	runBin := func(env []string, extra ...string) (string, error) {
		cmd := exec.Command(bin, append(append([]string(nil), args...), extra...)...)
		cmd.Env = append(os.Environ(), env...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	must := func(out string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	ref, dir := filepath.Join(t.TempDir(), "ref"), filepath.Join(t.TempDir(), "sharded")
	must(runBin(nil, "-out", ref))

	// Shard 1 owns units 1 and 5: implicit-deq of seed 1, unrolled-10 of
	// seed 2 (units are numbered across seeds).
	if _, err := runBin([]string{killpoint.Variable + "=eval:implicit-deq"}, "-out", dir, "-shard", "1/4"); !killed(err) {
		t.Fatalf("shard 1 was not killed: %v", err)
	}
	must(runBin(nil, "-out", dir, "-shard", "0/4"))
	must(runBin([]string{"SLURM_ARRAY_TASK_ID=2", "SLURM_ARRAY_TASK_COUNT=4"}, "-out", dir))
	must(runBin([]string{"JOB_COMPLETION_INDEX=3"}, "-out", dir, "-shards", "4"))
	if out, err := runBin(nil, "-out", dir, "-shard", "0/2"); err == nil || !strings.Contains(out, "shards: 4, now 2") {
		t.Errorf("a shard of another count joined the run: %v\n%s", err, out)
	}

	out, err := exec.Command(bin, "-merge", dir).CombinedOutput()
	for _, want := range []string{"unit 1 (implicit-deq, seed 1) is missing (it had started", "unit 5 (unrolled-10, seed 2) is missing;", "rerun shard 1/4", "2 unit(s)"} {
		if err == nil || !strings.Contains(string(out), want) {
			t.Errorf("merging with shard 1 unfinished: want %q in the error, got %v\n%s", want, err, out)
		}
	}
	if written(dir) {
		t.Fatalf("a failed merge wrote a report")
	}
	// The other shards' results and logs (all but seed-1's unit 1 and
	// seed-2's unit 2, local indices of units 1 and 5).
	others := unitFiles(t, dir, "seed-1/units/0001.", "seed-2/units/0002.")
	must(runBin(nil, "-out", dir, "-shard", "1/4"))
	if again := unitFiles(t, dir, "seed-1/units/0001.", "seed-2/units/0002."); len(others) != 8 || !reflect.DeepEqual(again, others) {
		t.Errorf("rerunning shard 1 changed the other shards' units")
	}
	out, err = exec.Command(bin, "-merge", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("merge: %v\n%s", err, out)
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
	mismatchedUnitRefused(t, bin, dir)
}

// mismatchedUnitRefused edits one unit's code version and checks that the
// merge names it and the shard to rerun.
func mismatchedUnitRefused(t *testing.T, bin, dir string) {
	path := filepath.Join(dir, "seed-2", "units", "0000.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edited := bytes.Replace(raw, []byte(`"Version": "`), []byte(`"Version": "other`), 1)
	if bytes.Equal(edited, raw) {
		t.Fatalf("%s has no Version field:\n%s", path, raw)
	}
	if err := os.WriteFile(path, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-merge", dir).CombinedOutput()
	for _, want := range []string{"unit 3 (explicit-mlp, seed 2) is from another run: code version \"other", "rerun shard 3/4"} {
		if err == nil || !strings.Contains(string(out), want) {
			t.Errorf("merging with a unit of another code version: want %q, got %v\n%s", want, err, out)
		}
	}
}

func killed(err error) bool {
	var exit *exec.ExitError
	return errors.As(err, &exit) && !exit.Success()
}

func written(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "report.json"))
	return err == nil
}

// unitFiles reads every unit result and log in the run's folder but those
// whose path contains one of skip.
func unitFiles(t *testing.T, dir string, skip ...string) map[string]string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "seed-*", "units", "*"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no unit files in %s: %v", dir, err)
	}
	out := map[string]string{}
next:
	for _, p := range paths {
		for _, s := range skip {
			if strings.Contains(filepath.ToSlash(p), s) {
				continue next
			}
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[p] = string(raw)
	}
	return out
}
