package linalg

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestSplitDoesNotWaitForStalledHelpers: when every helper is busy (on a
// loaded machine: descheduled by the OS) the caller runs the parts their
// helpers have not started, so the split finishes with every part done
// exactly once instead of spinning until a helper gets a core.
func TestSplitDoesNotWaitForStalledHelpers(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	poolOnce.Do(startPool)
	if len(helpers) == 0 {
		t.Fatal("no helpers at GOMAXPROCS 4")
	}
	release := make(chan struct{})
	stalls := make([]task, len(helpers))
	for i, h := range helpers {
		stalls[i] = task{f: func(int, int) { <-release }}
		h.give(&stalls[i])
	}
	time.Sleep(10 * time.Millisecond) // the helpers take their stalling tasks
	const n = 1000
	var counts [n]atomic.Int32
	finished := make(chan bool)
	go func() {
		finished <- runSplit(n, len(helpers)+1, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				counts[i].Add(1)
			}
		})
	}()
	select {
	case ran := <-finished:
		if !ran {
			t.Fatal("runSplit did not split")
		}
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("the split waited for helpers that were busy elsewhere")
	}
	close(release)
	for i := range counts {
		if c := counts[i].Load(); c != 1 {
			t.Fatalf("element %d was done %d times", i, c)
		}
	}
	for i := range stalls { // the helpers come back and serve later splits
		for !stalls[i].done.Load() {
			runtime.Gosched()
		}
	}
	var total atomic.Int64
	Parallel(1<<16, 1, func(lo, hi int) { total.Add(int64(hi - lo)) })
	if total.Load() != 1<<16 {
		t.Fatalf("a later split covered %d of %d", total.Load(), 1<<16)
	}
}
