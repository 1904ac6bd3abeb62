package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/implicit-ml/implicit/train"

	"github.com/implicit-ml/implicit/internal/killpoint"
)

// TestKilledRunsResumeExactly kills a run at several points — in a
// model's training, in a checkpoint write, in an evaluation, in a report
// write — resumes it, and compares what it leaves with an uninterrupted
// run's: report.json and report.md equal but for times, memory and the
// command line, metrics.jsonl the same records (no lost, repeated or torn
// line), no temporary file left. The run uses warm starts and gradient
// clipping, whose state and settings a resume must carry.
func TestKilledRunsResumeExactly(t *testing.T) {
	killAndResume(t, []string{"-quick", "-epochs", "2", "-warm-start", "-clip", "5", "-seed", "3", "-progress", "never"},
		// classify -quick: 3000 training images, batch 64: 47 steps an epoch.
		[]string{"train:explicit-mlp:10", "train:implicit-deq:60", "checkpoint:implicit-deq:47", "eval:implicit-deq", "report:report.md"},
		nil)
}

// TestKilledMultiSeedRunResumes kills a two-seed run before its second
// seed, inside its first seed's training and in the first seed's report,
// and checks that -resume gives the uninterrupted run's combined report
// and seed folders.
func TestKilledMultiSeedRunResumes(t *testing.T) {
	killAndResume(t, []string{"-quick", "-epochs", "1", "-seeds", "1,2", "-progress", "never"},
		[]string{"seed:2", "train:implicit-deq:20", "report:report.md"}, []string{"seed-1", "seed-2"})
}

// killAndResume runs the command with args once uninterrupted, then for
// each kill point kills a run there, resumes it and compares its folder
// (and the subfolders sub) with the uninterrupted run's.
func killAndResume(t *testing.T, args, kills, sub []string) {
	bin := filepath.Join(t.TempDir(), "train")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building the command: %v\n%s", err, out)
	}
	runBin := func(dir, kill string, extra ...string) error {
		cmd := exec.Command(bin, append(append(append([]string(nil), args...), "-out", dir), extra...)...)
		cmd.Env = append(os.Environ(), killpoint.Variable+"="+kill)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if err != nil && kill == "" {
			t.Logf("output:\n%s", out.String())
		}
		return err
	}
	ref := filepath.Join(t.TempDir(), "ref")
	if err := runBin(ref, ""); err != nil {
		t.Fatalf("uninterrupted run: %v", err)
	}
	for _, kill := range kills {
		t.Run(kill, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			err := runBin(dir, kill)
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.Success() {
				t.Fatalf("the run was not killed at %s: %v", kill, err)
			}
			if err := runBin(dir, "", "-resume"); err != nil {
				t.Fatalf("resuming: %v", err)
			}
			if sub == nil {
				sameRun(t, ref, dir)
			}
			for _, d := range sub {
				sameRun(t, filepath.Join(ref, d), filepath.Join(dir, d))
			}
			if sub != nil {
				if a, b := reportJSON(t, ref), reportJSON(t, dir); !reflect.DeepEqual(a, b) {
					t.Errorf("combined report.json differs:\nuninterrupted %v\nresumed       %v", a, b)
				}
				if a, b := reportMarkdown(t, ref), reportMarkdown(t, dir); a != b {
					t.Errorf("combined report.md differs:\n--- uninterrupted\n%s\n--- resumed\n%s", a, b)
				}
			}
		})
	}
}

// sameRun compares two run folders' reports and logs, except what may
// differ between an interrupted and an uninterrupted run.
func sameRun(t *testing.T, want, got string) {
	t.Helper()
	a, b := reportJSON(t, want), reportJSON(t, got)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("report.json differs:\nuninterrupted %v\nresumed       %v", a, b)
	}
	am, bm := reportMarkdown(t, want), reportMarkdown(t, got)
	if am != bm {
		t.Errorf("report.md differs:\n--- uninterrupted\n%s\n--- resumed\n%s", am, bm)
	}
	al, bl := metricLines(t, want), metricLines(t, got)
	if !reflect.DeepEqual(al, bl) {
		t.Errorf("metrics.jsonl differs: %d records uninterrupted, %d resumed\n%s\n---\n%s", len(al), len(bl), strings.Join(al, "\n"), strings.Join(bl, "\n"))
	}
	for _, pattern := range []string{"*.tmp", "checkpoints/*.tmp"} {
		if left, _ := filepath.Glob(filepath.Join(got, pattern)); len(left) > 0 {
			t.Errorf("temporary files left: %v", left)
		}
	}
}

// variable are report.json's fields that measure the machine, not the
// run: they differ between any two runs.
var variable = map[string]bool{"train_seconds": true, "train_samples_per_second": true, "peak_heap_bytes": true,
	"infer_samples_per_second": true, "wall_seconds": true, "created": true, "command": true, "machine": true}

func reportJSON(t *testing.T, dir string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	var strip func(v any) any
	strip = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k := range x {
				if variable[k] {
					delete(x, k)
				} else {
					x[k] = strip(x[k])
				}
			}
		case []any:
			for i := range x {
				x[i] = strip(x[i])
			}
		}
		return v
	}
	return strip(m).(map[string]any)
}

// reportMarkdown is report.md with the run's date, wall time, command and
// the measured columns of the results table blanked.
func reportMarkdown(t *testing.T, dir string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	measured := map[string]bool{"train time (s)": true, "train samples/s": true, "peak heap (MiB)": true, "infer samples/s": true}
	var out []string
	var blank []int
	inFence := false
	for i, line := range strings.Split(string(raw), "\n") {
		switch {
		case i == 2: // seed, date, machine, wall time
			line = regexp.MustCompile(`\d{4}-\d\d-\d\dT[\d:]+Z|[\d.]+ s wall time`).ReplaceAllString(line, "*")
		case strings.HasPrefix(line, "```"):
			inFence = !inFence
		case inFence:
			line = "*" // the command line
		case strings.HasPrefix(line, "| model |"):
			blank = nil
			for k, cell := range strings.Split(line, "|") {
				if measured[strings.TrimSpace(cell)] {
					blank = append(blank, k)
				}
			}
		case strings.HasPrefix(line, "| ") && blank != nil:
			cells := strings.Split(line, "|")
			for _, k := range blank {
				if k < len(cells) && !strings.HasPrefix(strings.TrimSpace(cells[k]), "--") {
					cells[k] = " * "
				}
			}
			line = strings.Join(cells, "|")
		case line == "":
			blank = nil
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

// metricLines are metrics.jsonl's records without their wall-clock
// "seconds", each required to be valid JSON.
func metricLines(t *testing.T, dir string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("metrics.jsonl holds a line that is not JSON: %q", sc.Text())
		}
		delete(r, "seconds")
		b, _ := json.Marshal(r)
		lines = append(lines, string(b))
	}
	return lines
}

// TestSignalStopsInsideAStep: SIGTERM while an implicit model is in the
// middle of a step that would take minutes (an unreachable tolerance and a
// huge iteration cap) stops the run promptly — the solver checks its
// context every iteration — with exit status 130, a message saying how to
// resume, and the finished model's checkpoint saved.
func TestSignalStopsInsideAStep(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "train")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building the command: %v\n%s", err, out)
	}
	dir := filepath.Join(t.TempDir(), "run")
	cmd := exec.Command(bin, "-quick", "-dtype", "float64", "-tol", "1e-30", "-max-iter", "1000000", "-progress", "never", "-out", dir)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() { // read the log to its end, so the process never blocks on it
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var log strings.Builder
	for line := range lines {
		log.WriteString(line + "\n")
		if strings.Contains(line, "training implicit-deq") {
			break
		}
	}
	time.Sleep(500 * time.Millisecond) // inside the first step's solve
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(60 * time.Second)
	for open := true; open; {
		select {
		case line, ok := <-lines:
			if open = ok; ok {
				log.WriteString(line + "\n")
			}
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("the run did not stop within a minute of SIGTERM:\n%s", log.String())
		}
	}
	err = cmd.Wait()
	t.Logf("stopped %v after SIGTERM", time.Since(sent).Round(time.Millisecond))
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 {
		t.Fatalf("exit %v, want status 130\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "-resume") || !strings.Contains(log.String(), dir) {
		t.Errorf("the message does not say how to resume:\n%s", log.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "checkpoints", "explicit-mlp.ckpt")); err != nil {
		t.Errorf("the finished model's checkpoint is missing: %v", err)
	}
	// The stopped model's checkpoint is at its last completed step (none):
	// the interrupted step's solve is redone on resume, so its solver
	// stats must not be saved too (they were, and a resumed run reported
	// other iteration means than an uninterrupted one).
	c, err := train.LoadCheckpoint(filepath.Join(dir, "checkpoints", "implicit-deq.ckpt"))
	if err != nil {
		t.Fatalf("the stopped model's checkpoint: %v", err)
	}
	if c.Step != 0 || c.Solver.ForwardCalls != 0 {
		t.Errorf("the stopped model's checkpoint holds step %d and %d forward solves, want 0 and 0 (the interrupted step's solve counted)", c.Step, c.Solver.ForwardCalls)
	}
}
