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
	// claimed is taken by whoever runs the task: its helper, or the
	// caller once its own part is done and the helper has not started
	// (a helper the OS has descheduled on a loaded machine), so the
	// caller never waits for work nobody is doing. done is set by a
	// helper that ran it.
	claimed, done atomic.Bool
}

// run runs t if nobody has claimed it yet and says whether it did.
func (t *task) run() bool {
	if !t.claimed.CompareAndSwap(false, true) {
		return false
	}
	t.f(t.lo, t.hi)
	return true
}

type helper struct {
	slot   atomic.Pointer[task]
	parked atomic.Bool
	wake   chan struct{}
}

func (h *helper) loop() {
	for {
		if t := h.next(); t.run() {
			t.done.Store(true)
		}
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
		if tasks[i].run() { // its helper has not started it: do it here
			continue
		}
		for j := 0; !tasks[i].done.Load(); j++ {
			if j%64 == 63 {
				runtime.Gosched()
			}
		}
	}
	return true
}
