package datasets

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// CacheDir returns the folder where generated datasets (LP instances, PDE
// solutions, …) are cached: override when not empty, else
// $IMPLICIT_CACHE_DIR, else the user cache folder (on Linux
// $XDG_CACHE_HOME or ~/.cache) under "implicit". The folder is created.
// Generators write their files atomically and include a format version and
// the seed in the file name, so a stale or foreign file is never read as
// current; tests pass t.TempDir() as override.
func CacheDir(override string) (string, error) {
	dir, from := override, "the cache override"
	if dir == "" {
		dir, from = os.Getenv("IMPLICIT_CACHE_DIR"), "IMPLICIT_CACHE_DIR"
	}
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("datasets: no cache folder (%v); set IMPLICIT_CACHE_DIR", err)
		}
		dir, from = filepath.Join(base, "implicit"), "the user cache folder"
	}
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return "", fmt.Errorf("datasets: cache folder %s (from %s) is a file, not a folder; remove it or choose another cache folder", dir, from)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("datasets: cache folder %s (from %s): %w; choose a writable folder", dir, from, err)
	}
	return dir, nil
}

// errCacheIsDir marks a cache file whose path is taken by a directory: no
// write can replace it, so the loaders report it rather than generate
// data they cannot keep.
var errCacheIsDir = errors.New("is a directory, not a cache file")

// cacheIsDirError is the error for a cache file path held by a directory.
func cacheIsDirError(path string) error {
	return fmt.Errorf("datasets: %s %w; remove that directory so the cache file can be written", path, errCacheIsDir)
}

// cacheWriteError words a failed cache write of what: a directory in the
// way says so; anything else is a folder the process cannot write.
func cacheWriteError(what string, err error) error {
	if errors.Is(err, errCacheIsDir) {
		return err
	}
	return fmt.Errorf("datasets: caching %s: %w; set IMPLICIT_CACHE_DIR to a writable folder", what, err)
}

// Temporary files of writeAtomic: os.CreateTemp turns the pattern's "*"
// into a decimal random number.
const (
	tempPattern = ".tmp-*"
	tempPrefix  = ".tmp-"
	// staleTempAge is how old a temporary file must be before it counts
	// as left behind by a killed write: a writer still at work touches
	// its file far more often, even for the largest sets.
	staleTempAge = time.Hour
)

// writeAtomic writes data to path through a temporary file in the same
// folder, synced and renamed, so readers see the old file or the new one.
// It first removes the stale temporary files of killed writes.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	removeStaleTemps(dir, time.Now())
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return cacheIsDirError(path)
	}
	f, err := os.CreateTemp(dir, tempPattern)
	if err != nil {
		return fmt.Errorf("datasets: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("datasets: writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("datasets: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("datasets: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		if fi, serr := os.Stat(path); serr == nil && fi.IsDir() {
			return cacheIsDirError(path) // made while we wrote
		}
		return fmt.Errorf("datasets: %w", err)
	}
	return nil
}

// isTempName reports whether name is one of writeAtomic's temporary
// files: ".tmp-" then digits only.
func isTempName(name string) bool {
	digits, ok := strings.CutPrefix(name, tempPrefix)
	if !ok || digits == "" {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// removeStaleTemps removes the regular files in dir named like
// writeAtomic's temporaries and last modified more than staleTempAge
// before now: what a killed write left behind. A younger one may belong
// to a writer at work in another process and stays. Cleaning is best
// effort: a failure leaves the file for the next write.
func removeStaleTemps(dir string, now time.Time) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !isTempName(e.Name()) {
			continue
		}
		fi, err := e.Info()
		if err != nil || now.Sub(fi.ModTime()) <= staleTempAge {
			continue
		}
		os.Remove(filepath.Join(dir, e.Name()))
	}
}
