package main

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/train"
)

// pdeBenchN is the number of samples the PDE workloads train and infer
// on: the first pdeBenchN of the experiment's standardised training set
// (training steps wrap around them, on both sides alike).
const pdeBenchN = 256

// pdeSet is the first samples of a standardised PDE set, in memory: what
// both sides read (exportPDE writes them for the twin).
type pdeSet struct {
	in, out []int
	x, y    []float32
}

func (p *pdeSet) Len() int           { return len(p.x) / prod(p.in) }
func (p *pdeSet) InputShape() []int  { return p.in }
func (p *pdeSet) TargetShape() []int { return p.out }
func (p *pdeSet) Sample(i int, x, y []float32) {
	ni, no := prod(p.in), prod(p.out)
	copy(x, p.x[i*ni:(i+1)*ni])
	copy(y, p.y[i*no:(i+1)*no])
}

// exportPDE takes the first pdeBenchN samples of ds and writes them to
// the dataset cache folder as bench-NAME-v1-nN.bin, which
// bench/pytorch/pde.py reads: the magic "implbnch", the sample count and
// the values per input and per target (little-endian int64), the inputs
// and the targets (little-endian float32, sample-major, as Sample gives
// them), then the SHA-256 of everything before it.
func exportPDE(name string, ds train.Dataset) (*pdeSet, error) {
	n := min(pdeBenchN, ds.Len())
	p := &pdeSet{in: ds.InputShape(), out: ds.TargetShape()}
	ni, no := prod(p.in), prod(p.out)
	p.x, p.y = make([]float32, n*ni), make([]float32, n*no)
	for i := range n {
		ds.Sample(i, p.x[i*ni:(i+1)*ni], p.y[i*no:(i+1)*no])
	}
	dir, err := datasets.CacheDir("")
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, 32+4*(len(p.x)+len(p.y))+sha256.Size)
	b = append(b, "implbnch"...)
	for _, v := range []int{n, ni, no} {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	for _, v := range append(append([]float32(nil), p.x...), p.y...) {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	sum := sha256.Sum256(b)
	path := filepath.Join(dir, fmt.Sprintf("bench-%s-v1-n%d.bin", name, pdeBenchN))
	return p, replaceFile(path, append(b, sum[:]...))
}

// replaceFile writes data to path through a temporary file in the same
// folder, so that a reader never sees a partial file.
func replaceFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".bench-*.tmp")
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}
