package datasets

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// Labeled is a set of labelled grey-scale images. As a train.Dataset it
// gives each image as input and its one-hot label as target.
type Labeled struct {
	// Name says where the data came from, e.g. "mnist"; it may be empty.
	Name string
	// N is the number of images; Rows and Cols their size in pixels.
	N, Rows, Cols int
	// Classes is the number of classes; every label is below it.
	Classes int
	// X holds the pixels, N×Rows×Cols row-major: pixel/255 in [0, 1] as
	// loaded, or whatever Standardize made of them.
	X []float32
	// Labels holds the N class labels.
	Labels []uint8
	// Image makes InputShape {1, Rows, Cols}, a one-channel image for
	// convolutional models. If Image is false, InputShape is the flat
	// {Rows·Cols} that MLPs take.
	Image bool
}

// Len returns N.
func (d *Labeled) Len() int { return d.N }

// InputShape returns the shape of one input: {Rows·Cols}, or
// {1, Rows, Cols} when Image is set. The data are the same either way.
func (d *Labeled) InputShape() []int {
	if d.Image {
		return []int{1, d.Rows, d.Cols}
	}
	return []int{d.Rows * d.Cols}
}

// TargetShape returns {Classes}: targets are one-hot.
func (d *Labeled) TargetShape() []int { return []int{d.Classes} }

// Sample copies the pixels of image i into x (length Rows·Cols) and its
// one-hot label into y (length Classes). Like slice indexing, it panics
// when i is outside [0, N) or x or y is too short: that is a caller bug,
// not bad data, since loading validated the labels.
func (d *Labeled) Sample(i int, x, y []float32) {
	p := d.Rows * d.Cols
	copy(x[:p], d.X[i*p:(i+1)*p])
	clear(y[:d.Classes])
	y[d.Labels[i]] = 1
}

// LoadIDXPair loads an images file (3-D: count×rows×cols unsigned bytes)
// and its labels file (1-D unsigned bytes, each below classes), gzipped
// or plain. Pixels are scaled to [0, 1].
func LoadIDXPair(imagesPath, labelsPath string, classes int) (*Labeled, error) {
	if classes < 1 || classes > 256 {
		return nil, fmt.Errorf("datasets: %d classes; labels are bytes, so want 1 to 256", classes)
	}
	// Labels first: they are small, and a bad labels file fails fast.
	lb, err := ReadIDX(labelsPath)
	if err != nil {
		return nil, err
	}
	if lb.Type != IDXUint8 || len(lb.Dims) != 1 {
		return nil, fmt.Errorf("datasets: %s: want 1-D unsigned-byte labels, got type 0x%02x dims %v; is it an images file?", labelsPath, lb.Type, lb.Dims)
	}
	for i, l := range lb.Data {
		if int(l) >= classes {
			return nil, fmt.Errorf("datasets: %s: label %d of sample %d is not below %d classes; pass the right number of classes", labelsPath, l, i, classes)
		}
	}
	im, err := ReadIDX(imagesPath)
	if err != nil {
		return nil, err
	}
	if im.Type != IDXUint8 || len(im.Dims) != 3 {
		return nil, fmt.Errorf("datasets: %s: want 3-D unsigned-byte images, got type 0x%02x dims %v; is it a labels file?", imagesPath, im.Type, im.Dims)
	}
	if im.Dims[1] == 0 || im.Dims[2] == 0 {
		return nil, fmt.Errorf("datasets: %s: images of %d×%d pixels; the file is corrupt", imagesPath, im.Dims[1], im.Dims[2])
	}
	if im.Dims[0] != lb.Dims[0] {
		return nil, fmt.Errorf("datasets: count mismatch: %s holds %d images but %s holds %d labels; pair the files of the same split", imagesPath, im.Dims[0], labelsPath, lb.Dims[0])
	}
	d := &Labeled{
		N: im.Dims[0], Rows: im.Dims[1], Cols: im.Dims[2], Classes: classes,
		X: make([]float32, len(im.Data)), Labels: lb.Data,
	}
	// A table is faster than dividing 47 million times.
	var scale [256]float32
	for i := range scale {
		scale[i] = float32(i) / 255
	}
	for i, p := range im.Data {
		d.X[i] = scale[p]
	}
	return d, nil
}

// Subset returns a copy of the samples idx, in that order; indices may
// repeat. Like slice indexing, it panics on an index outside [0, N).
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

// Head returns a copy of the first n samples, all of them when n ≥ N and
// none when n ≤ 0: for quick runs.
func (d *Labeled) Head(n int) *Labeled {
	n = max(0, min(n, d.N))
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return d.Subset(idx)
}

// Split draws n samples at random into held and returns the others as
// rest, both copies in their original order: a train/validation split.
// The same seed gives the same split; n is clamped to [0, N].
func (d *Labeled) Split(n int, seed uint64) (rest, held *Labeled) {
	n = max(0, min(n, d.N))
	// The second PCG word is fixed ("split") so that the seed alone
	// decides the split.
	perm := rand.New(rand.NewPCG(seed, splitStream)).Perm(d.N)
	heldIdx, restIdx := perm[:n], perm[n:]
	slices.Sort(heldIdx)
	slices.Sort(restIdx)
	return d.Subset(restIdx), d.Subset(heldIdx)
}

// MeanStd returns the mean and the (population) standard deviation of
// all pixels, so that training statistics can standardise the test set;
// it returns 0, 1 when there are none.
func (d *Labeled) MeanStd() (mean, std float32) {
	m, sd := meanStd(d.X)
	return float32(m), float32(sd)
}

// Standardize maps every pixel x to (x − mean)/std in place. A std that
// is not positive (constant images) counts as 1, so the result is finite.
func (d *Labeled) Standardize(mean, std float32) {
	if !(std > 0) {
		std = 1
	}
	for i, v := range d.X {
		d.X[i] = (v - mean) / std
	}
}

// splitStream is the second word of the PCG seed of Split's permutation
// ("split").
const splitStream = 0x73706c6974
