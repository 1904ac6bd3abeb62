package serve

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/implicit-ml/implicit/train"
)

// graphs are one worker's compiled inference graphs, one per batch size
// (powers of two up to the largest batch, and the largest): a batch runs
// on the smallest that holds it, padded.
type graphs struct {
	sizes []int
	evs   []*train.Evaluator
	// f32: the model computes in float32, and a batch's inputs are
	// stacked straight into x32 (one pass, no float64 copy of the batch)
	// and run with Predict32; otherwise they are stacked into x.
	f32 bool
	x   []float64
	x32 []float32
}

func newGraphs(m Model, maxBatch int) (*graphs, error) {
	g := &graphs{f32: m.Float32}
	for b := 1; ; b *= 2 {
		b = min(b, maxBatch)
		ev, err := train.NewEvaluator(m.Net, b)
		if err != nil {
			g.close()
			return nil, fmt.Errorf("serve: building the graph for batches of %d: %w", b, err)
		}
		g.sizes, g.evs = append(g.sizes, b), append(g.evs, ev)
		if b == maxBatch {
			return g, nil
		}
	}
}

// fit returns the evaluator for a batch of n samples.
func (g *graphs) fit(n int) *train.Evaluator {
	for i, b := range g.sizes {
		if b >= n {
			return g.evs[i]
		}
	}
	return g.evs[len(g.evs)-1]
}

func (g *graphs) close() {
	for _, ev := range g.evs {
		ev.Close()
	}
}

// run solves the rows on ev under plan v (a *plan or a *readout) and
// returns the outputs, one row per input row.
func (g *graphs) run(ev *train.Evaluator, v any, rows []*row) ([]float64, error) {
	ev.SetContext(withPlan(context.Background(), v))
	defer ev.SetContext(context.Background())
	if !g.f32 {
		x := g.x[:0]
		for _, r := range rows {
			x = append(x, r.x...)
		}
		g.x = x
		return ev.Predict(x, len(rows))
	}
	x := g.x32[:0]
	for _, r := range rows {
		for _, v := range r.x {
			x = append(x, float32(v))
		}
	}
	g.x32 = x
	out, err := ev.Predict32(x, len(rows))
	if err != nil {
		return nil, err
	}
	return float64s(out), nil // a new slice: the answers keep rows of it
}

// solveBatch runs one batch: the samples that leave early are answered
// by the readout; the others from this run's outputs.
func (s *Server) solveBatch(g *graphs, rows []*row) {
	ev := g.fit(len(rows))
	p := newPlan(rows, batchOf(ev), &s.model, s.departures)
	s.metrics.batch.Observe(float64(len(rows)))
	out, err := g.run(ev, p, rows)
	per := size(s.model.Output)
	for i, r := range rows {
		if p.early[i] {
			continue
		}
		if err != nil {
			r.answer(nil, p.stats[i], &httpError{code: http.StatusInternalServerError, msg: oneLine("model error: " + err.Error())})
			continue
		}
		r.answer(out[i*per:(i+1)*per:(i+1)*per], p.stats[i], nil)
	}
}

// batchOf is an evaluator's batch size.
func batchOf(ev *train.Evaluator) int { return ev.Net().X.Shape()[0] }

// readouts answers the samples that left their batches early: it takes
// every departure waiting, runs them through one readout graph and
// answers them, until the channel closes.
func (s *Server) readouts(g *graphs, wg *sync.WaitGroup) {
	defer wg.Done()
	max := g.sizes[len(g.sizes)-1]
	for d := range s.departures {
		batch := []departure{d}
	more:
		for len(batch) < max {
			select {
			case d, ok := <-s.departures:
				if !ok {
					break more
				}
				batch = append(batch, d)
			default:
				break more
			}
		}
		s.readout(g, batch)
	}
}

func (s *Server) readout(g *graphs, batch []departure) {
	rows := make([]*row, len(batch))
	r := &readout{}
	for i, d := range batch {
		rows[i] = d.row
		r.z = append(r.z, d.z)
	}
	out, err := g.run(g.fit(len(rows)), r, rows)
	per := size(s.model.Output)
	for i, d := range batch {
		if err != nil {
			d.row.answer(nil, d.stats, &httpError{code: http.StatusInternalServerError, msg: oneLine("model error in the readout: " + err.Error())})
			continue
		}
		d.row.answer(out[i*per:(i+1)*per:(i+1)*per], d.stats, nil)
	}
}
