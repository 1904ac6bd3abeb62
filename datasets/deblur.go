package datasets

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/implicit-ml/implicit/internal/blur"
)

// DeblurConfig describes the deblurring workload's data: clean images from
// MNIST or Fashion-MNIST, blurred by a known kernel with a circular
// boundary and corrupted by Gaussian noise. Zero values mean the defaults.
type DeblurConfig struct {
	// Kernel names the blur (see internal/blur's Named): "shake" (the
	// default: the fixed 9×9 camera-shake kernel, the paper's motion
	// blur), "gaussian" (7×7, σ = 1.5) or "motion" (a 7×7 diagonal ramp).
	Kernel string
	// Noise is the standard deviation of the noise added to the blurred
	// images, whose pixels are in [0, 1]; zero means 0.03.
	Noise float64
	// Train, Val and Test are the sizes of the splits; zero means 10000,
	// 1000 and 1000. Training and validation images come from the
	// source's training split, test images from its test split.
	Train, Val, Test int
}

func (c DeblurConfig) resolved() (DeblurConfig, error) {
	if c.Kernel == "" {
		c.Kernel = "shake"
	}
	if c.Noise == 0 {
		c.Noise = 0.03
	}
	if c.Train == 0 {
		c.Train = 10000
	}
	if c.Val == 0 {
		c.Val = 1000
	}
	if c.Test == 0 {
		c.Test = 1000
	}
	switch {
	case !(c.Noise >= 0) || math.IsInf(c.Noise, 0):
		return c, fmt.Errorf("datasets: deblur noise %v must be ≥ 0", c.Noise)
	case c.Train < 0 || c.Val < 0 || c.Test < 0:
		return c, fmt.Errorf("datasets: deblur split sizes %d, %d, %d must be ≥ 0", c.Train, c.Val, c.Test)
	}
	if _, err := blur.Named(c.Kernel); err != nil {
		return c, fmt.Errorf("datasets: %w", err)
	}
	return c, nil
}

// DeblurSet holds measurement/clean pairs: input i is the blurred, noisy
// image x = A·img + σ·ε and target i the clean image, H×W each, row-major.
// As a train.Dataset it gives both as flat vectors of H·W pixels.
type DeblurSet struct {
	// Source is "mnist" or "fashion"; Split "train", "val" or "test".
	Source, Split string
	N, H, W       int
	// X holds the measurements and Y the clean images, N×H×W each.
	X, Y   []float32
	Config DeblurConfig
	Seed   uint64
}

// Len returns N.
func (d *DeblurSet) Len() int { return d.N }

// InputShape returns {H·W}: the measurement, flat.
func (d *DeblurSet) InputShape() []int { return []int{d.H * d.W} }

// TargetShape returns {H·W}: the clean image, flat.
func (d *DeblurSet) TargetShape() []int { return []int{d.H * d.W} }

// Sample copies measurement i into x and clean image i into y. Like slice
// indexing, it panics when i is outside [0, N) or x or y is too short.
func (d *DeblurSet) Sample(i int, x, y []float32) {
	p := d.H * d.W
	copy(x[:p], d.X[i*p:(i+1)*p])
	copy(y[:p], d.Y[i*p:(i+1)*p])
}

// deblurFormat is the cache format version; raise it whenever the layout
// or the way pairs are drawn changes.
const deblurFormat = 1

var deblurMagic = [8]byte{'I', 'M', 'D', 'B', 'L', 'U', 'R', '\n'}

// deblurSide is the image size of both sources, 28×28 pixels.
const deblurSide = 28

// deblurSplits are the split names, in the order of their random streams.
var deblurSplits = []string{"train", "val", "test"}

// LoadDeblur returns the training, validation and test pairs of cfg for
// seed, made from the named source ("mnist" or "fashion", found as Load
// finds it, dataDir overriding), from the cache folder
// CacheDir(cacheOverride) when valid files are there. The images of each
// split are a seeded random choice without repetition (training and
// validation never share one), and each image's noise comes from its own
// seeded stream, so the pairs are a function of (source, cfg, seed).
func LoadDeblur(source, dataDir, cacheOverride string, cfg DeblurConfig, seed uint64) (train, val, test *DeblurSet, err error) {
	if cfg, err = cfg.resolved(); err != nil {
		return nil, nil, nil, err
	}
	if source != "mnist" && source != "fashion" {
		return nil, nil, nil, fmt.Errorf("datasets: deblurring needs mnist or fashion images, got %q", source)
	}
	dir, err := CacheDir(cacheOverride)
	if err != nil {
		return nil, nil, nil, err
	}
	sizes := []int{cfg.Train, cfg.Val, cfg.Test}
	sets := make([]*DeblurSet, 3)
	missing := false
	for k, split := range deblurSplits {
		path := filepath.Join(dir, deblurFileName(source, split, cfg, seed, sizes[k], deblurHeader(source, split, cfg, seed, sizes[k])))
		if missing { // all splits are made again: only a directory in the way matters
			if fi, err := os.Stat(path); err == nil && fi.IsDir() {
				return nil, nil, nil, cacheIsDirError(path)
			}
			continue
		}
		d, err := readDeblurFile(path, source, split, cfg, seed, sizes[k])
		switch {
		case errors.Is(err, errCacheIsDir):
			return nil, nil, nil, err // no write could replace it: say so before generating
		case err != nil:
			missing = true
		}
		sets[k] = d
	}
	if !missing {
		return sets[0], sets[1], sets[2], nil
	}
	srcTrain, srcTest, err := Load(source, dataDir)
	if err != nil {
		return nil, nil, nil, err
	}
	if sets, err = makeDeblur(source, srcTrain, srcTest, cfg, seed); err != nil {
		return nil, nil, nil, err
	}
	for k, d := range sets {
		h := deblurHeader(source, d.Split, cfg, seed, d.N)
		if err := writeAtomic(filepath.Join(dir, deblurFileName(source, d.Split, cfg, seed, d.N, h)), encodeBlob(h, d.X, d.Y)); err != nil {
			return nil, nil, nil, cacheWriteError("the "+deblurSplits[k]+" deblurring pairs", err)
		}
	}
	return sets[0], sets[1], sets[2], nil
}

// makeDeblur draws the three splits from the source's training and test
// images.
func makeDeblur(source string, srcTrain, srcTest *Labeled, cfg DeblurConfig, seed uint64) ([]*DeblurSet, error) {
	for _, d := range []*Labeled{srcTrain, srcTest} {
		if d.Rows != deblurSide || d.Cols != deblurSide {
			return nil, fmt.Errorf("datasets: %s images are %d×%d, want %d×%d", source, d.Rows, d.Cols, deblurSide, deblurSide)
		}
	}
	if cfg.Train+cfg.Val > srcTrain.N || cfg.Test > srcTest.N {
		return nil, fmt.Errorf("datasets: %s has %d training and %d test images; %d + %d and %d were asked for", source, srcTrain.N, srcTest.N, cfg.Train, cfg.Val, cfg.Test)
	}
	k, err := blur.Named(cfg.Kernel)
	if err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	h, w := srcTrain.Rows, srcTrain.Cols
	if err := k.Check(h, w); err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	trainOrder := rand.New(rand.NewPCG(seed, deblurTrainStream)).Perm(srcTrain.N)
	testOrder := rand.New(rand.NewPCG(seed, deblurTestStream)).Perm(srcTest.N)
	picks := [][]int{trainOrder[:cfg.Train], trainOrder[cfg.Train : cfg.Train+cfg.Val], testOrder[:cfg.Test]}
	srcs := []*Labeled{srcTrain, srcTrain, srcTest}
	out := make([]*DeblurSet, 3)
	p := h * w
	for s, split := range deblurSplits {
		idx := picks[s]
		d := &DeblurSet{Source: source, Split: split, N: len(idx), H: h, W: w,
			X: make([]float32, len(idx)*p), Y: make([]float32, len(idx)*p), Config: cfg, Seed: seed}
		for i, j := range idx {
			copy(d.Y[i*p:(i+1)*p], srcs[s].X[j*p:(j+1)*p])
		}
		blur.Apply(d.X, d.Y, d.N, h, w, k, false)
		for i := range d.N {
			rng := rand.New(rand.NewPCG(seed, uint64(s)<<40|uint64(i))) // one stream per image
			for q := i * p; q < (i+1)*p; q++ {
				d.X[q] += float32(cfg.Noise * rng.NormFloat64())
			}
		}
		out[s] = d
	}
	return out, nil
}

func deblurHeader(source, split string, cfg DeblurConfig, seed uint64, n int) []byte {
	b := append([]byte(nil), deblurMagic[:]...)
	b = binary.LittleEndian.AppendUint32(b, deblurFormat)
	for _, s := range []string{source, split, cfg.Kernel} {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	for _, v := range []uint64{math.Float64bits(cfg.Noise), uint64(cfg.Train), uint64(cfg.Val), uint64(cfg.Test), seed, uint64(n)} {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return b
}

// deblurMaxPairs bounds the pairs of a split so that its file can be
// addressed: N·28·28 float32 pairs stay far below 2⁶³ bytes.
const deblurMaxPairs = 1 << 40

// readDeblurFile reads the cache file at path of the pairs of one split
// and checks that it holds exactly the set asked for: its size, header
// and checksum, then its values.
func readDeblurFile(path, source, split string, cfg DeblurConfig, seed uint64, n int) (*DeblurSet, error) {
	if n < 0 || n > deblurMaxPairs {
		return nil, fmt.Errorf("datasets: %s: %d deblurring pairs asked for; want 0 to %d", path, n, int64(deblurMaxPairs))
	}
	p := deblurSide * deblurSide
	arrs, err := readBlob(path, deblurHeader(source, split, cfg, seed, n), n*p, n*p)
	if err != nil {
		return nil, err
	}
	return deblurFromArrays(arrs, path, source, split, cfg, seed, n)
}

// decodeDeblur is readDeblurFile for the bytes b of a file named name.
func decodeDeblur(b []byte, name, source, split string, cfg DeblurConfig, seed uint64, n int) (*DeblurSet, error) {
	if n < 0 || n > deblurMaxPairs {
		return nil, fmt.Errorf("datasets: %s: %d deblurring pairs asked for; want 0 to %d", name, n, int64(deblurMaxPairs))
	}
	p := deblurSide * deblurSide
	arrs, err := decodeBlob(b, name, deblurHeader(source, split, cfg, seed, n), n*p, n*p)
	if err != nil {
		return nil, err
	}
	return deblurFromArrays(arrs, name, source, split, cfg, seed, n)
}

// deblurFromArrays makes a set of the measurements and clean images of a
// file named name after checking what every generated set satisfies:
// finite measurements and clean pixels in [0, 1]. The checksum catches
// damage; this catches a file a faulty writer filled with a valid
// checksum.
func deblurFromArrays(arrs [][]float32, name, source, split string, cfg DeblurConfig, seed uint64, n int) (*DeblurSet, error) {
	p := deblurSide * deblurSide
	for i, v := range arrs[0] {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("datasets: %s: pixel %d of measurement %d is %g; the file is corrupt, delete it", name, i%p, i/p, v)
		}
	}
	for i, v := range arrs[1] {
		if !(v >= 0 && v <= 1) {
			return nil, fmt.Errorf("datasets: %s: pixel %d of clean image %d is %g, outside [0, 1]; the file is corrupt, delete it", name, i%p, i/p, v)
		}
	}
	return &DeblurSet{Source: source, Split: split, N: n, H: deblurSide, W: deblurSide, X: arrs[0], Y: arrs[1], Config: cfg, Seed: seed}, nil
}

// deblurFileName names a split's cache file: what it is for people, and a
// hash of the whole header so every setting gets its own file.
func deblurFileName(source, split string, cfg DeblurConfig, seed uint64, n int, header []byte) string {
	h := fnv.New64a()
	h.Write(header)
	return fmt.Sprintf("deblur-v%d-%s-%s-%s-seed%d-n%d-%016x.bin", deblurFormat, source, split, cfg.Kernel, seed, n, h.Sum64())
}

// Random streams of the deblurring pairs: the second words of the PCG
// seeds of the training and test image orders ("dbltr", "dblts").
const (
	deblurTrainStream = 0x64626c7472
	deblurTestStream  = 0x64626c7473
)
