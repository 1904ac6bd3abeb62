package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCPUProfile: -cpuprofile leaves a complete pprof file (a closed gzip
// stream) even when the run itself fails, and a file that cannot be
// created is an error naming the flag, before anything runs.
func TestCPUProfile(t *testing.T) {
	dir := t.TempDir()
	prof := filepath.Join(dir, "cpu.prof")
	// A run that fails fast: its data folder does not exist.
	args := []string{"-quick", "-dataset", "fashion", "-data", filepath.Join(dir, "nodata"), "-out", filepath.Join(dir, "out"), "-cpuprofile", prof, "-progress", "never"}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), args, &stdout, &stderr); err == nil {
		t.Fatal("the run without data succeeded")
	}
	f, err := os.Open(prof)
	if err != nil {
		t.Fatalf("no profile written: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("the profile is not a pprof file: %v", err)
	}
	if _, err := io.Copy(io.Discard, zr); err != nil {
		t.Fatalf("the profile is truncated (not stopped and closed): %v", err)
	}

	bad := filepath.Join(dir, "missing", "cpu.prof")
	err = run(context.Background(), []string{"-cpuprofile", bad, "-out", filepath.Join(dir, "out2")}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "-cpuprofile") {
		t.Fatalf("unwritable profile path: got %v, want an error naming -cpuprofile", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "out2")); err == nil {
		t.Error("the run started although its profile could not be written")
	}
}
