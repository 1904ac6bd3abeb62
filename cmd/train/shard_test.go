package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/implicit-ml/implicit/internal/killpoint"
)

// TestShardedRunMergesToSingleRun runs a two-seed classify run (6 units:
// 3 models × 2 seeds) as 3 shards into one folder — one shard given by
// Slurm's variables, one killed inside a model's training — checks that
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

	// Shard 1 owns units 1 and 4: implicit-deq of seed 1 and of seed 2.
	if _, err := runBin([]string{killpoint.Variable + "=train:implicit-deq:20"}, "-out", dir, "-shard", "1/3"); !killed(err) {
		t.Fatalf("shard 1 was not killed: %v", err)
	}
	must(runBin(nil, "-out", dir, "-shard", "0/3"))
	must(runBin([]string{"SLURM_ARRAY_TASK_ID=2", "SLURM_ARRAY_TASK_COUNT=3"}, "-out", dir))
	if out, err := runBin(nil, "-out", dir, "-shard", "0/2"); err == nil || !strings.Contains(out, "shards: 3, now 2") {
		t.Errorf("a shard of another count joined the run: %v\n%s", err, out)
	}

	out, err := exec.Command(bin, "-merge", dir).CombinedOutput()
	for _, want := range []string{"unit 1 (implicit-deq, seed 1) is missing (it had started", "unit 4 (implicit-deq, seed 2) is missing", "rerun shard 1/3", "2 unit(s)"} {
		if err == nil || !strings.Contains(string(out), want) {
			t.Errorf("merging with shard 1 unfinished: want %q in the error, got %v\n%s", want, err, out)
		}
	}
	if written(dir) {
		t.Fatalf("a failed merge wrote a report")
	}
	others := unitFiles(t, dir, "0000.json", "0002.json")
	must(runBin(nil, "-out", dir, "-shard", "1/3"))
	if again := unitFiles(t, dir, "0000.json", "0002.json"); !reflect.DeepEqual(again, others) {
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
	path := filepath.Join(dir, "seed-2", "units", "0001.json")
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
	for _, want := range []string{"unit 4 (implicit-deq, seed 2) is from another run: code version \"other", "rerun shard 1/3"} {
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

// unitFiles reads the named unit results of both seeds.
func unitFiles(t *testing.T, dir string, names ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, seed := range []string{"seed-1", "seed-2"} {
		for _, n := range names {
			p := filepath.Join(dir, seed, "units", n)
			if raw, err := os.ReadFile(p); err == nil {
				out[p] = string(raw)
			}
		}
	}
	return out
}
