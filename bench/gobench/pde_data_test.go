package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestExportPDEWritesWhatTheTwinReads holds the file exportPDE writes
// against the layout bench/pytorch/pde.py's load_bench_data reads: the
// magic, three little-endian int64 (samples, values per input, per
// target), the inputs then the targets as little-endian float32, and the
// SHA-256 of everything before it; at most pdeBenchN samples, the first.
func TestExportPDEWritesWhatTheTwinReads(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("IMPLICIT_CACHE_DIR", dir)
	const n = pdeBenchN + 3 // more than exported: only the first pdeBenchN go out
	src := &pdeSet{in: []int{2, 2, 2}, out: []int{1, 2, 2}}
	for i := range n {
		for k := range 8 {
			src.x = append(src.x, float32(i)+float32(k)/8)
		}
		for k := range 4 {
			src.y = append(src.y, -float32(i)-float32(k)/4)
		}
	}
	got, err := exportPDE("unit", src)
	if err != nil {
		t.Fatal(err)
	}
	if got.Len() != pdeBenchN {
		t.Fatalf("exported set has %d samples, want %d", got.Len(), pdeBenchN)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "bench-unit-v1-n256.bin"))
	if err != nil {
		t.Fatal(err)
	}
	body, sum := raw[:len(raw)-sha256.Size], raw[len(raw)-sha256.Size:]
	if want := sha256.Sum256(body); !bytes.Equal(sum, want[:]) {
		t.Fatal("the trailing SHA-256 is not that of the body")
	}
	if string(body[:8]) != "implbnch" {
		t.Fatalf("magic %q", body[:8])
	}
	hdr := [3]uint64{}
	for i := range hdr {
		hdr[i] = binary.LittleEndian.Uint64(body[8+8*i:])
	}
	if hdr != [3]uint64{pdeBenchN, 8, 4} {
		t.Fatalf("header %v, want [%d 8 4]", hdr, pdeBenchN)
	}
	vals := body[32:]
	if len(vals) != 4*pdeBenchN*(8+4) {
		t.Fatalf("%d bytes of values, want %d", len(vals), 4*pdeBenchN*12)
	}
	at := func(i int) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(vals[4*i:])) }
	// Input 5 of sample 7, then target 3 of sample 9 (after all inputs).
	if v := at(7*8 + 5); v != 7+5.0/8 {
		t.Errorf("input value %v, want %v", v, 7+5.0/8)
	}
	if v := at(pdeBenchN*8 + 9*4 + 3); v != -9-3.0/4 {
		t.Errorf("target value %v, want %v", v, -9-3.0/4)
	}
	x, y := make([]float32, 8), make([]float32, 4)
	got.Sample(pdeBenchN-1, x, y)
	if x[0] != pdeBenchN-1 || y[3] != -(pdeBenchN-1)-0.75 {
		t.Errorf("last exported sample %v → %v", x, y)
	}
}
