package linalg

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The kernels split work of a few tens of microseconds (one batch-64 step
// of a cell) over the cores. A goroutine started per split, or parked on a
// channel, takes about as long to wake as the work itself, so the helpers
// here spin for a while after each task, as OpenMP and OpenBLAS threads
// do, and only then park. This pool is the one process-wide resource of
// the package, like a BLAS thread pool: it holds no results, so it cannot
// make outputs depend on history.

// spinFor is how long an idle helper keeps polling before it parks.
const spinFor = 100 * time.Microsecond

type task struct {
	f      func(lo, hi int)
	lo, hi int
	done   atomic.Bool
}

type helper struct {
	slot   atomic.Pointer[task]
	parked atomic.Bool
	wake   chan struct{}
}

func (h *helper) loop() {
	for {
		t := h.next()
		t.f(t.lo, t.hi)
		t.done.Store(true)
	}
}

// next waits for a task: spinning first, then parked.
func (h *helper) next() *task {
	for {
		deadline := time.Now().Add(spinFor)
		for i := 0; ; i++ {
			if t := h.slot.Swap(nil); t != nil {
				return t
			}
			if i%64 == 63 {
				if time.Now().After(deadline) {
					break
				}
				runtime.Gosched()
			}
		}
		h.parked.Store(true)
		if t := h.slot.Swap(nil); t != nil {
			h.parked.Store(false)
			return t
		}
		<-h.wake
		h.parked.Store(false)
	}
}

func (h *helper) give(t *task) {
	h.slot.Store(t)
	if h.parked.Load() {
		select {
		case h.wake <- struct{}{}:
		default:
		}
	}
}

var (
	poolOnce sync.Once
	poolMu   sync.Mutex // one split region at a time; others run inline
	helpers  []*helper
)

func startPool() {
	for i := 1; i < runtime.GOMAXPROCS(0); i++ {
		h := &helper{wake: make(chan struct{}, 1)}
		helpers = append(helpers, h)
		go h.loop()
	}
}

// runSplit runs f over parts of [0, n) on the caller and the helpers; it
// reports false (and does nothing) when the pool is busy or absent.
func runSplit(n, parts int, f func(lo, hi int)) bool {
	poolOnce.Do(startPool)
	if len(helpers) == 0 || !poolMu.TryLock() {
		return false
	}
	defer poolMu.Unlock()
	parts = min(parts, len(helpers)+1)
	step := (n + parts - 1) / parts
	tasks := make([]task, 0, parts-1)
	for i, lo := 0, step; lo < n && i < len(helpers); i, lo = i+1, lo+step {
		tasks = append(tasks, task{f: f, lo: lo, hi: min(lo+step, n)})
	}
	for i := range tasks {
		helpers[i].give(&tasks[i])
	}
	f(0, min(step, n))
	for i := range tasks {
		for j := 0; !tasks[i].done.Load(); j++ {
			if j%64 == 63 {
				runtime.Gosched()
			}
		}
	}
	return true
}
