package memtest

import (
	"io"
	"runtime"
)

// Held returns the bytes of live heap that the value build returns keeps:
// the heap after a collection with the value alive, minus the heap before
// build ran. A value that is an io.Closer is closed after the measurement.
func Held(build func() (any, error)) (float64, error) {
	var before, after runtime.MemStats
	// Machines have finalizers: earlier models need two collections to go.
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	keep, err := build()
	if err != nil {
		return 0, err
	}
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(keep)
	if c, ok := keep.(io.Closer); ok {
		c.Close()
	}
	return float64(after.HeapAlloc) - float64(before.HeapAlloc), nil
}
