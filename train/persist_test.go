package train

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInconsistentCheckpointIsAnError: a checkpoint whose checksum is
// valid but whose parameter data has the wrong length (longer or
// shorter) is an error naming the file, never a panic or a silent
// partial restore.
func TestInconsistentCheckpointIsAnError(t *testing.T) {
	data := newBlobs(40, 5, 3, 4)
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "linear.ckpt")
	cfg := Config{Epochs: 1, BatchSize: 8, Checkpoint: ckpt}
	if _, err := Fit(context.Background(), newLinear(4), data, cfg); err != nil {
		t.Fatal(err)
	}
	for _, delta := range []int{-1, +3} {
		c, err := LoadCheckpoint(ckpt)
		if err != nil {
			t.Fatal(err)
		}
		p := &c.Params[0]
		if delta < 0 {
			p.Data = p.Data[:len(p.Data)-1]
		} else {
			p.Data = append(p.Data, make([]float64, delta)...)
		}
		bad := filepath.Join(dir, "bad.ckpt")
		if err := SaveCheckpoint(bad, c); err != nil {
			t.Fatal(err)
		}
		cfg := cfg
		cfg.Checkpoint, cfg.Resume = bad, true
		_, err = Fit(context.Background(), newLinear(4), data, cfg)
		if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "inconsistent") {
			t.Errorf("parameter data %+d values: %v", delta, err)
		}
	}
}

// TestStaleCheckpointTempsAreRemoved: the temporary file a killed
// checkpoint write leaves is removed; other files are not.
func TestStaleCheckpointTempsAreRemoved(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, ".checkpoint-123.tmp")
	keep := filepath.Join(dir, "model.ckpt")
	for _, f := range []string{stale, keep} {
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := RemoveStaleTemps(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("the stale temporary is still there")
	}
	if _, err := os.Stat(keep); err != nil {
		t.Error("a checkpoint was removed")
	}
	if err := RemoveStaleTemps(filepath.Join(dir, "missing")); err != nil {
		t.Errorf("a missing folder: %v", err)
	}
}

// TestTornMetricsLineIsDropped: a line a killed run left half written is
// dropped when the log is opened, and Rewind drops lines that are not
// records, so every line stays one JSON record.
func TestTornMetricsLineIsDropped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	good := `{"model":"m","event":"step","epoch":0,"step":1,"loss":1,"seconds":0}` + "\n"
	if err := os.WriteFile(path, []byte(good+`{"model":"m","event":"st`), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := OpenMetrics(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Write(Record{Model: "m", Event: "step", Step: 2, Loss: 0.5}); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	checkLines(t, path, 2)

	// A garbage line in the middle (a corrupted file) goes at the next rewind.
	raw, _ := os.ReadFile(path)
	if err := os.WriteFile(path, append([]byte("garbage\n"), raw...), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err = OpenMetrics(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Rewind("m", 1); err != nil {
		t.Fatal(err)
	}
	m.Close()
	checkLines(t, path, 1)
}

func checkLines(t *testing.T, path string, want int) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(raw, []byte("\n")), []byte("\n"))
	if len(lines) != want {
		t.Fatalf("%d lines, want %d: %q", len(lines), want, raw)
	}
	for _, l := range lines {
		var r Record
		if err := json.Unmarshal(l, &r); err != nil {
			t.Errorf("line %q is not a record: %v", l, err)
		}
	}
}

// FuzzLoadCheckpoint: any bytes are a checkpoint or an error naming the
// file, never a panic.
func FuzzLoadCheckpoint(f *testing.F) {
	dir := f.TempDir()
	good := filepath.Join(dir, "good.ckpt")
	if err := SaveCheckpoint(good, &Checkpoint{Model: "m", Fingerprint: map[string]string{"a": "b"}, Step: 3,
		Params:    []SavedTensor{{Name: "w", Shape: []int{2}, Dtype: "float64", Data: []float64{1, 2}}},
		Optimizer: OptimizerState{Kind: "adam", Buffers: map[string][][]float64{"m": {{0, 0}}, "v": {{0, 0}}}}, ModelState: []byte{1, 2, 3}}); err != nil {
		f.Fatal(err)
	}
	raw, err := os.ReadFile(good)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add(raw[:len(raw)/2])
	f.Add([]byte(checkpointMagic))
	flipped := append([]byte(nil), raw...)
	flipped[len(flipped)-5] ^= 1
	f.Add(flipped)
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "c.ckpt")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := LoadCheckpoint(path)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		if c == nil {
			t.Error("no checkpoint and no error")
		}
	})
}
