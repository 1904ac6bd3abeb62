package datasets

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Labeled is a set of labelled images: N images of Rows×Cols pixels in
// X (row-major, scaled to [0, 1] when loaded) and their class labels.
// As a train.Dataset it gives flat inputs (or (1, Rows, Cols) images with
// Image set) and one-hot targets.
type Labeled struct {
	Name                   string
	N, Rows, Cols, Classes int
	X                      []float32
	Labels                 []uint8
	// Image makes InputShape (1, Rows, Cols) instead of the flat
	// (Rows·Cols), for convolutional models.
	Image bool
}

// Len implements train.Dataset.
func (d *Labeled) Len() int { return d.N }

// InputShape implements train.Dataset.
func (d *Labeled) InputShape() []int {
	if d.Image {
		return []int{1, d.Rows, d.Cols}
	}
	return []int{d.Rows * d.Cols}
}

// TargetShape implements train.Dataset: one-hot over the classes.
func (d *Labeled) TargetShape() []int { return []int{d.Classes} }

// Sample implements train.Dataset.
func (d *Labeled) Sample(i int, x, y []float32) {
	p := d.Rows * d.Cols
	copy(x, d.X[i*p:(i+1)*p])
	clear(y)
	y[d.Labels[i]] = 1
}

// LoadIDXPair loads an images file (3-D, unsigned bytes) and its labels
// file (1-D, unsigned bytes, each < classes).
func LoadIDXPair(imagesPath, labelsPath string, classes int) (*Labeled, error) {
	im, err := ReadIDX(imagesPath)
	if err != nil {
		return nil, err
	}
	lb, err := ReadIDX(labelsPath)
	if err != nil {
		return nil, err
	}
	if im.Type != IDXUint8 || len(im.Dims) != 3 {
		return nil, fmt.Errorf("datasets: %s: want 3-D unsigned-byte images, got type 0x%02x dims %v", imagesPath, im.Type, im.Dims)
	}
	if lb.Type != IDXUint8 || len(lb.Dims) != 1 {
		return nil, fmt.Errorf("datasets: %s: want 1-D unsigned-byte labels, got type 0x%02x dims %v", labelsPath, lb.Type, lb.Dims)
	}
	if im.Dims[0] != lb.Dims[0] {
		return nil, fmt.Errorf("datasets: count mismatch: %s holds %d images, %s %d labels", imagesPath, im.Dims[0], labelsPath, lb.Dims[0])
	}
	for i, l := range lb.Data {
		if int(l) >= classes {
			return nil, fmt.Errorf("datasets: %s: label %d of sample %d is not below %d classes", labelsPath, l, i, classes)
		}
	}
	d := &Labeled{N: im.Dims[0], Rows: im.Dims[1], Cols: im.Dims[2], Classes: classes, Labels: lb.Data, X: make([]float32, len(im.Data))}
	for i, p := range im.Data {
		d.X[i] = float32(p) / 255
	}
	return d, nil
}

// Subset returns the samples idx (copied).
func (d *Labeled) Subset(idx []int) *Labeled {
	p := d.Rows * d.Cols
	out := *d
	out.N = len(idx)
	out.X = make([]float32, len(idx)*p)
	out.Labels = make([]uint8, len(idx))
	for k, i := range idx {
		copy(out.X[k*p:(k+1)*p], d.X[i*p:(i+1)*p])
		out.Labels[k] = d.Labels[i]
	}
	return &out
}

// Head returns the first n samples (all of them when n ≥ N).
func (d *Labeled) Head(n int) *Labeled {
	n = max(0, min(n, d.N))
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return d.Subset(idx)
}

// Split moves n samples, drawn at random with the seed, into held and
// returns the rest; no sample is lost or duplicated.
func (d *Labeled) Split(n int, seed uint64) (rest, held *Labeled) {
	n = max(0, min(n, d.N))
	perm := rand.New(rand.NewPCG(seed, 0x73706c6974)).Perm(d.N)
	heldIdx := append([]int(nil), perm[:n]...)
	restIdx := append([]int(nil), perm[n:]...)
	// Keep the original order inside each part: reproducible and cache
	// friendly.
	slices.Sort(heldIdx)
	slices.Sort(restIdx)
	return d.Subset(restIdx), d.Subset(heldIdx)
}

// MeanStd returns the mean and standard deviation over all pixels.
func (d *Labeled) MeanStd() (mean, std float32) {
	var s, s2 float64
	for _, v := range d.X {
		s += float64(v)
		s2 += float64(v) * float64(v)
	}
	n := float64(len(d.X))
	if n == 0 {
		return 0, 1
	}
	m := s / n
	return float32(m), float32(math.Sqrt(math.Max(s2/n-m*m, 0)))
}

// Standardize maps every pixel x to (x − mean)/std in place (std ≤ 0 is
// treated as 1).
func (d *Labeled) Standardize(mean, std float32) {
	if !(std > 0) {
		std = 1
	}
	for i, v := range d.X {
		d.X[i] = (v - mean) / std
	}
}
