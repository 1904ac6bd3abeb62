package serve

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/implicit-ml/implicit/deq"
)

// row is one sample of a request on its way through a batch.
type row struct {
	x       []float64
	budget  deq.Budget
	plain   bool // plain iterations (Picard), not a solve
	arrived time.Time
	due     time.Time // when it should be in a running batch (queue.due)
	giveUp  time.Time // when a deadline sample still queued leaves unsolved (queue.giveUp); zero without a deadline
	req     *pending
	i       int // index in the request
	state   atomic.Int32
}

// Row states: waiting, then answered exactly once.
const (
	rowWaiting int32 = iota
	rowAnswered
)

// pending is a request whose rows are being answered.
type pending struct {
	out      [][]float64
	stats    []SampleStats
	err      error
	left     atomic.Int32
	done     chan struct{}
	mu       sync.Mutex
	duplicat *atomic.Int64 // the server's count of rows answered twice
}

func newPending(n int, dup *atomic.Int64) *pending {
	p := &pending{out: make([][]float64, n), stats: make([]SampleStats, n), done: make(chan struct{}), duplicat: dup}
	p.left.Store(int32(n))
	return p
}

// answer records row r's output (or the error that stopped it); the
// request completes with its last row. A row is answered once: a second
// answer is counted (a bug the tests look for) and dropped.
func (r *row) answer(out []float64, st SampleStats, err error) {
	if !r.state.CompareAndSwap(rowWaiting, rowAnswered) {
		r.req.duplicat.Add(1)
		return
	}
	p := r.req
	p.mu.Lock()
	p.out[r.i], p.stats[r.i] = out, st
	if err != nil && p.err == nil {
		p.err = err
	}
	p.mu.Unlock()
	if p.left.Add(-1) == 0 {
		close(p.done)
	}
}

// planKey is the context key under which a batch's plan reaches the
// solver (see Solver).
type planKey struct{}

// plan is one batch's run: each row's budget, and what happened to it.
type plan struct {
	rows    []*row       // the batch's samples; the graph may be larger
	budgets []deq.Budget // one per row of the graph (padding rows: one iteration)
	plain   bool
	// leave receives the samples that left while others still iterate,
	// to be answered through a readout.
	leave chan<- departure
	// stats holds each row's solve, set when it leaves; early says it was
	// handed to the readout.
	stats []SampleStats
	early []bool
	model *Model
}

func newPlan(rows []*row, graphBatch int, m *Model, leave chan<- departure) *plan {
	p := &plan{rows: rows, budgets: make([]deq.Budget, graphBatch), leave: leave, model: m,
		stats: make([]SampleStats, len(rows)), early: make([]bool, len(rows)), plain: len(rows) > 0 && rows[0].plain}
	for i := range p.budgets {
		if i < len(rows) {
			p.budgets[i] = rows[i].budget
		} else {
			p.budgets[i] = deq.Budget{Iterations: 1} // padding leaves at once
		}
	}
	for i := range p.stats {
		p.stats[i] = SampleStats{Status: "none", Batch: len(rows)}
	}
	return p
}

// depart records a sample's departure; a sample with a deadline that
// leaves while others still iterate is handed to the readout, which
// answers it at once. d.Z is copied (as float64) only then: the other
// samples are answered from the batch's outputs, and a copy of every
// iterate was a kilobyte of garbage per sample.
func depart[T deq.Float](p *plan, d deq.Departure[T]) {
	s := d.Sample
	if s >= len(p.rows) {
		return // padding
	}
	st := SampleStats{Iterations: d.Iterations, Status: d.Status.String(), Batch: len(p.rows)}
	if res, rel := d.Residual, d.RelResidual; !math.IsNaN(res) {
		st.Residual, st.RelativeResidual = &res, &rel
		st.Bound = p.model.bound(res)
	}
	p.stats[s] = st
	// Only a sample with a deadline is answered before its batch ends: the
	// readout recomputes the layers before the implicit one, which costs
	// more than waiting for a batch whose samples have no deadline.
	if d.Remaining > 0 && p.leave != nil && !p.rows[s].budget.Deadline.IsZero() {
		p.early[s] = true
		st.Early = true
		p.stats[s] = st
		p.leave <- departure{row: p.rows[s], z: float64s(d.Z), stats: st}
	}
}

// departure is a sample that left its batch early.
type departure struct {
	row   *row
	z     []float64 // its iterate (a copy)
	stats SampleStats
}

// readout is a run that only applies the model around given iterates:
// the solver returns them as they are, the graph applies the cell once
// and the layers after it.
type readout struct {
	z [][]float64 // one per row (nil: the solve's starting point); the rest of the graph's rows are zero
}

func withPlan(ctx context.Context, v any) context.Context {
	return context.WithValue(ctx, planKey{}, v)
}
