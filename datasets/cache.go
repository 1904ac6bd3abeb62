package datasets

import (
	"fmt"
	"os"
	"path/filepath"
)

// CacheDir returns the folder where generated datasets (LP instances, PDE
// solutions, …) are cached: override when not empty, else
// $IMPLICIT_CACHE_DIR, else the user cache folder (on Linux
// $XDG_CACHE_HOME or ~/.cache) under "implicit". The folder is created.
// Generators write their files atomically and include a format version and
// the seed in the file name, so a stale or foreign file is never read as
// current; tests pass t.TempDir() as override.
func CacheDir(override string) (string, error) {
	dir := override
	if dir == "" {
		dir = os.Getenv("IMPLICIT_CACHE_DIR")
	}
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("datasets: no cache folder (%v); set IMPLICIT_CACHE_DIR", err)
		}
		dir = filepath.Join(base, "implicit")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("datasets: cache folder: %w; set IMPLICIT_CACHE_DIR to a writable folder", err)
	}
	return dir, nil
}

// writeAtomic writes data to path through a temporary file in the same
// folder, synced and renamed, so readers see the old file or the new one.
func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
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
	return os.Rename(tmp, path)
}
