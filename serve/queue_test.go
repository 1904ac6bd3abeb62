package serve

import (
	"testing"
	"time"

	"github.com/implicit-ml/implicit/deq"
)

// TestQueueDue: a sample is due MaxWait after it arrives, a sample with a
// deadline sooner — a quarter of its time to the deadline — so that
// batching never takes most of a deadline's budget.
func TestQueueDue(t *testing.T) {
	q := newQueue(8, time.Millisecond)
	t0 := time.Now()
	for _, c := range []struct {
		deadline time.Duration // 0: none
		want     time.Duration
	}{
		{0, time.Millisecond},
		{100 * time.Millisecond, time.Millisecond},
		{2 * time.Millisecond, 500 * time.Microsecond},
		{400 * time.Microsecond, 100 * time.Microsecond},
	} {
		r := &row{arrived: t0}
		if c.deadline > 0 {
			r.budget = deq.Budget{Deadline: t0.Add(c.deadline)}
		}
		if got := q.due(r).Sub(t0); got != c.want {
			t.Errorf("deadline %v: due after %v, want %v", c.deadline, got, c.want)
		}
	}
}
