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
)

// goListTimeout bounds the last-resort `go list`, which may have to load
// the module graph.
const goListTimeout = 15 * time.Second

// moduleCacheDirs lists the candidate module caches, in the go command's
// order of preference: $GOMODCACHE, $GOPATH/pkg/mod, $HOME/go/pkg/mod.
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
	return dedup(dirs)
}

// moduleDirs lists where module path may be unpacked, without running
// the go command: first as this binary was built (a replacement or the
// version in its build information), then at version pinned, in each
// module cache.
func moduleDirs(path, pinned string) []string {
	var dirs []string
	versions := []string{pinned}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path != path {
				continue
			}
			switch {
			case m.Replace != nil && m.Replace.Version == "":
				// A directory replacement; only an absolute one can be
				// found without knowing where the main module lives.
				if filepath.IsAbs(m.Replace.Path) {
					dirs = append(dirs, m.Replace.Path)
				}
			case m.Replace != nil:
				path = m.Replace.Path
				versions = []string{m.Replace.Version}
			case m.Version != "" && m.Version != "(devel)":
				versions = []string{m.Version, pinned}
			}
		}
	}
	for _, v := range dedup(versions) {
		for _, c := range moduleCacheDirs() {
			dirs = append(dirs, filepath.Join(c, filepath.FromSlash(escapeModulePath(path))+"@"+v))
		}
	}
	return dedup(dirs)
}

// escapeModulePath applies the module cache's case encoding, which keeps
// paths distinct on case-insensitive file systems: an upper-case letter
// becomes '!' and its lower case.
func escapeModulePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// goListDir asks the go command where module path is unpacked: the last
// resort, since it needs the go tool and a go.mod requiring the module in
// the working directory or above. It never downloads anything.
func goListDir(path string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), goListTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", path)
	// Neither modules nor a newer toolchain may be fetched at run time.
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOTOOLCHAIN=local")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			return "", fmt.Errorf("%v: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		return "", err
	}
	d := strings.TrimSpace(string(out))
	if d == "" {
		return "", fmt.Errorf("%s is required but not in the module cache", path)
	}
	return d, nil
}

// dedup drops repeated strings, keeping the first of each.
func dedup(s []string) []string {
	seen := make(map[string]bool, len(s))
	out := s[:0]
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
