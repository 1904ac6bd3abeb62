package memtest

import (
	"io"
	"runtime"
	"time"
)

// Held returns the bytes of live heap that the value build returns keeps:
// the heap after the garbage has settled with the value alive, minus the
// heap before build ran, settled the same way. A value that is an
// io.Closer is closed after the measurement.
func Held(build func() (any, error)) (float64, error) {
	before := settledHeap()
	keep, err := build()
	if err != nil {
		return 0, err
	}
	after := settledHeap()
	runtime.KeepAlive(keep)
	if c, ok := keep.(io.Closer); ok {
		c.Close()
	}
	return float64(after) - float64(before), nil
}

// settleRounds bounds settledHeap's collections.
const settleRounds = 12

// settledHeap collects until the live heap stops shrinking and returns
// it. Garbage that has finalizers (Gorgonia's machines and values have
// them) survives the collection that finds it: the collection queues the
// finalizers, their goroutine runs them when it is scheduled, and only a
// later collection frees the memory — one more for each link of a chain
// of finalized objects. Two back-to-back collections, as this used to do,
// counted whatever the finalizer goroutine had not reached yet as held,
// which on a loaded machine made identical steps measure 3.8x apart.
func settledHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	last := ms.HeapAlloc
	for range settleRounds {
		time.Sleep(time.Millisecond) // let the finalizer goroutine run
		runtime.GC()
		runtime.ReadMemStats(&ms)
		if ms.HeapAlloc >= last {
			return ms.HeapAlloc
		}
		last = ms.HeapAlloc
	}
	return last
}
