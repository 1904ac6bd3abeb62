package datasets_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/implicit-ml/implicit/datasets"
)

// Parse a tiny IDX file, two rows of three unsigned bytes, then the same
// file cut short.
func ExampleParseIDX() {
	raw := []byte{
		0, 0, datasets.IDXUint8, 2, // magic: unsigned bytes, 2 dimensions
		0, 0, 0, 2, 0, 0, 0, 3, // dimensions 2 and 3
		1, 2, 3, 4, 5, 6, // data
	}
	x, err := datasets.ParseIDX(bytes.NewReader(raw), "tiny.idx")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(x.Dims, x.Data)
	_, err = datasets.ParseIDX(bytes.NewReader(raw[:15]), "cut.idx")
	fmt.Println(err)
	// Output:
	// [2 3] [1 2 3 4 5 6]
	// datasets: cut.idx: truncated data: dims [2 3] of 1-byte elements need 6 bytes, found 3; the file is incomplete, re-download or re-install it
}

// Load a pair of images and labels files, hold out a validation set and
// standardise both with the training statistics. LoadMNIST and
// LoadFashion do the same with the real files.
func ExampleLoadIDXPair() {
	dir, err := os.MkdirTemp("", "idx")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	// Four 1×2 images and their labels.
	images := []byte{0, 0, datasets.IDXUint8, 3, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 2,
		0, 255, 51, 102, 153, 204, 255, 0}
	labels := []byte{0, 0, datasets.IDXUint8, 1, 0, 0, 0, 4, 0, 1, 1, 0}
	imPath, lbPath := filepath.Join(dir, "images.idx"), filepath.Join(dir, "labels.idx")
	os.WriteFile(imPath, images, 0o644)
	os.WriteFile(lbPath, labels, 0o644)

	d, err := datasets.LoadIDXPair(imPath, lbPath, 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.N, d.InputShape(), d.TargetShape(), d.X[:4])

	train, val := d.Split(1, 7)
	mean, std := train.MeanStd()
	train.Standardize(mean, std)
	val.Standardize(mean, std)
	fmt.Println(train.N, val.N)

	x, y := make([]float32, 2), make([]float32, 2)
	d.Sample(3, x, y)
	fmt.Println(x, y)
	// Output:
	// 4 [2] [2] [0 1 0.2 0.4]
	// 3 1
	// [1 0] [1 0]
}
