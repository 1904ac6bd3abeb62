package linalg

import (
	"runtime"
	"sync"
)

// Parallel runs f on contiguous parts of [0, n) on up to GOMAXPROCS
// goroutines, splitting only when each part gets at least grain units:
// below that, spawning costs more than it saves.
func Parallel(n, grain int, f func(lo, hi int)) {
	parts := min(runtime.GOMAXPROCS(0), n/max(grain, 1))
	if parts < 2 {
		f(0, n)
		return
	}
	if runSplit(n, parts, f) {
		return
	}
	var wg sync.WaitGroup
	step := (n + parts - 1) / parts
	for lo := step; lo < n; lo += step {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			f(lo, hi)
		}(lo, min(lo+step, n))
	}
	f(0, min(step, n))
	wg.Wait()
}

// ElemGrain is the number of elements below which elementwise loops are
// not worth splitting over cores.
const ElemGrain = 1 << 15

// Rows runs f over row ranges of a rows×cols array, in parallel when the
// array is large (see ElemGrain).
func Rows(rows, cols int, f func(lo, hi int)) {
	Parallel(rows, max(ElemGrain/max(cols, 1), 1), f)
}

// Work splits rows of a computation costing about flops in all over the
// cores when it is big enough (ParallelFlops) and each part keeps at least
// minRows rows: one goroutine hand-off per call, so callers fuse a
// product and its elementwise epilogue into f.
func Work(rows, flops int, f func(lo, hi int)) {
	if flops < ParallelFlops {
		f(0, rows)
		return
	}
	Parallel(rows, minPartRows, f)
}

// ParallelFlops is the work (multiply-adds and elementwise operations)
// below which splitting over cores does not pay; minPartRows the fewest
// rows worth a part. Measured with the classify models at batch 64, where
// one cell step (2 M multiply-adds) split in two ran about 15% faster.
const (
	ParallelFlops = 1 << 19
	minPartRows   = 16
)
