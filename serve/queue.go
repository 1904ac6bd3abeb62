package serve

import (
	"slices"
	"sync"
	"time"
)

// queue holds the samples waiting for a batch, in two lanes — plain
// iterations and solves, which run with different solvers — and forms
// batches for the workers that ask (next).
//
// The policy: each sample is due maxWait after it arrived, or sooner
// when it has a deadline (a quarter of its time to the deadline: a
// deadline request gives up at most that much of its budget to batching;
// with half, the accuracy at deadline_ms 2 fell below that at 1 in
// cmd/serve/curve, the wait eating the solve's time). A lane
// runs as soon as it holds maxBatch samples or one of them is due; the
// batch is its maxBatch samples due first. While the workers are busy,
// samples pile up and the next batch is full: batches grow with the load,
// and a lone request waits at most maxWait.
//
// A deadline sample still queued three quarters of the way to its
// deadline (the workers busy with batches ahead of it) gives up on a
// solve: expired hands it out to be answered from its starting point (one
// application of the cell, y_1) before its deadline, rather than after the
// batches ahead.
type queue struct {
	maxBatch int
	maxWait  time.Duration

	mu      sync.Mutex
	lanes   [2][]*row
	wake    chan struct{} // a sample arrived or the queue closed (for the workers)
	expWake chan struct{} // the same, for the goroutine that calls expired
	closed  bool
}

func newQueue(maxBatch int, maxWait time.Duration) *queue {
	return &queue{maxBatch: maxBatch, maxWait: maxWait, wake: make(chan struct{}, 1), expWake: make(chan struct{}, 1)}
}

func lane(r *row) int {
	if r.plain {
		return 1
	}
	return 0
}

// due is when a sample should be in a running batch.
func (q *queue) due(r *row) time.Time {
	wait := q.maxWait
	if dl := r.budget.Deadline; !dl.IsZero() {
		wait = min(wait, dl.Sub(r.arrived)/4)
	}
	return r.arrived.Add(wait)
}

// giveUp is when a deadline sample still queued leaves unsolved: three
// quarters of the way to its deadline; zero without a deadline.
func giveUp(r *row) time.Time {
	dl := r.budget.Deadline
	if dl.IsZero() {
		return time.Time{}
	}
	return r.arrived.Add(dl.Sub(r.arrived) * 3 / 4)
}

// add queues rows; it reports false (queuing nothing) once the queue is
// closed.
func (q *queue) add(rows []*row) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	deadlines := false
	for _, r := range rows {
		r.due, r.giveUp = q.due(r), giveUp(r)
		q.lanes[lane(r)] = append(q.lanes[lane(r)], r)
		deadlines = deadlines || !r.giveUp.IsZero()
	}
	q.mu.Unlock()
	q.signal()
	if deadlines { // only then can the next give-up time come sooner
		poke(q.expWake)
	}
	return true
}

// signal wakes a worker.
func (q *queue) signal() { poke(q.wake) }

// poke sends on a wake-up channel of capacity one without blocking.
func poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// expired removes and returns the deadline samples whose give-up time has
// come by now, and the earliest give-up time of those still queued (zero
// if none). Once the queue is closed it returns nothing and closed true:
// the workers solve what is left.
func (q *queue) expired(now time.Time) (out []*row, next time.Time, closed bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil, time.Time{}, true
	}
	for l, rows := range q.lanes {
		kept := rows[:0]
		for _, r := range rows {
			switch {
			case r.giveUp.IsZero():
				kept = append(kept, r)
			case !now.Before(r.giveUp):
				out = append(out, r)
			default:
				kept = append(kept, r)
				if next.IsZero() || r.giveUp.Before(next) {
					next = r.giveUp
				}
			}
		}
		clear(rows[len(kept):])
		q.lanes[l] = kept
	}
	return out, next, false
}

// close stops new samples; the waiting ones are still handed out, with no
// wait, and next returns nil once none is left.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
	poke(q.expWake)
}

// next blocks until a batch is due and returns it, or nil when the queue
// is closed and empty.
func (q *queue) next() []*row {
	for {
		q.mu.Lock()
		l, due := q.first()
		if l < 0 {
			closed := q.closed
			q.mu.Unlock()
			if closed {
				q.signal() // wake the other workers to see it too
				return nil
			}
			<-q.wake
			continue
		}
		wait := time.Until(due)
		if len(q.lanes[l]) >= q.maxBatch || wait <= 0 || q.closed {
			batch := q.take(l)
			more, _ := q.first()
			q.mu.Unlock()
			if more >= 0 {
				q.signal() // another worker may take the rest
			}
			return batch
		}
		q.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-q.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// take removes and returns lane l's maxBatch samples due first. The
// caller holds mu.
func (q *queue) take(l int) []*row {
	lane := q.lanes[l]
	slices.SortStableFunc(lane, func(a, b *row) int { return a.due.Compare(b.due) })
	n := min(len(lane), q.maxBatch)
	batch := append([]*row(nil), lane[:n]...)
	q.lanes[l] = append(lane[:0:0], lane[n:]...)
	return batch
}

// first returns the lane holding the sample due first, and when, or −1
// when both are empty. The caller holds mu.
func (q *queue) first() (int, time.Time) {
	best, when := -1, time.Time{}
	for l, rows := range q.lanes {
		for _, r := range rows {
			if best < 0 || r.due.Before(when) {
				best, when = l, r.due
			}
		}
	}
	return best, when
}
