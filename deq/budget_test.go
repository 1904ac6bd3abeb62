package deq

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// departures collects a budgeted solve's departures, copying the iterates.
type departures struct {
	order []int
	got   map[int]Departure[float64]
}

func (d *departures) leave(dep Departure[float64]) {
	dep.Z = append([]float64(nil), dep.Z...)
	d.order = append(d.order, dep.Sample)
	d.got[dep.Sample] = dep
}

func newDepartures() *departures { return &departures{got: map[int]Departure[float64]{}} }

// TestBudgetedIterationsAreExact: a sample with an Iterations budget t
// leaves after exactly t evaluations with the iterate y_{t−1} of plain
// iteration (so F of it is y_t), bit for bit, whatever the other samples'
// budgets; samples leave in the order of their budgets, and the Result
// agrees with the departures.
func TestBudgetedIterationsAreExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const batch, dim = 4, 5
	p := newAffine(rng, batch, dim, 0.9)
	budgets := []Budget{{Iterations: 3}, {Iterations: 1}, {Iterations: 7}, {Iterations: 3}}
	d := newDepartures()
	r := SolveBudgeted(Picard{}, Problem[float64]{F: p.f64, Batch: batch, Dim: dim}, Stop{}, budgets, d.leave)
	if r.Status != Converged {
		t.Fatalf("status %v: %v", r.Status, r.Err())
	}
	if r.Stats.Iterations != 7 {
		t.Errorf("the batch took %d evaluations, want 7 (the largest budget)", r.Stats.Iterations)
	}
	if want := []int{1, 0, 3, 2}; !slices.Equal(d.order, want) {
		t.Errorf("departure order %v, want %v", d.order, want)
	}
	for s, bu := range budgets {
		want := Iterate(Problem[float64]{F: p.f64, Batch: batch, Dim: dim}, bu.Iterations-1).Z[s*dim : (s+1)*dim]
		dep := d.got[s]
		if dep.Iterations != bu.Iterations || dep.Status != Converged {
			t.Errorf("sample %d: %d iterations (%v), want %d", s, dep.Iterations, dep.Status, bu.Iterations)
		}
		for i := range want {
			if dep.Z[i] != want[i] || r.Z[s*dim+i] != want[i] {
				t.Fatalf("sample %d: departure %v, result %v, want y_%d = %v", s, dep.Z, r.Z[s*dim:(s+1)*dim], bu.Iterations-1, want)
			}
		}
		fz := make([]float64, batch*dim)
		z := append([]float64(nil), r.Z...)
		if err := p.f64(fz, z); err != nil {
			t.Fatal(err)
		}
		abs, _, _ := residual(z[s*dim:(s+1)*dim], fz[s*dim:(s+1)*dim])
		if math.Abs(abs-dep.Residual) > 1e-12 || r.Stats.Residual[s] != dep.Residual {
			t.Errorf("sample %d: residual %g (result %g), want ‖F(z) − z‖ = %g", s, dep.Residual, r.Stats.Residual[s], abs)
		}
	}
}

// TestBudgetedTolerancesArePerSample: each sample stops at its own
// tolerance (a loose one early, a tight one later), or at its own
// iteration cap, and its residual is the one it left with.
func TestBudgetedTolerancesArePerSample(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	const batch, dim = 3, 6
	p := newAffine(rng, batch, dim, 0.95)
	budgets := []Budget{{Tol: 1e-2}, {Tol: 1e-9}, {Tol: 1e-12, MaxIter: 4}}
	for name, s := range solvers() {
		t.Run(name, func(t *testing.T) {
			d := newDepartures()
			r := SolveBudgeted(s, Problem[float64]{F: p.f64, Batch: batch, Dim: dim}, Stop{MaxIter: 500}, budgets, d.leave)
			loose, tight, capped := d.got[0], d.got[1], d.got[2]
			if loose.Status != Converged || loose.RelResidual > 1e-2 || tight.Status != Converged || tight.RelResidual > 1e-9 {
				t.Fatalf("loose %v %.3g, tight %v %.3g", loose.Status, loose.RelResidual, tight.Status, tight.RelResidual)
			}
			if loose.Iterations >= tight.Iterations {
				t.Errorf("the loose tolerance took %d iterations, the tight one %d", loose.Iterations, tight.Iterations)
			}
			if capped.Status != MaxIterations || capped.Iterations != 4 {
				t.Errorf("capped sample: %v after %d iterations, want max-iterations after 4", capped.Status, capped.Iterations)
			}
			if r.Status != MaxIterations || r.Stats.SampleIterations[1] != tight.Iterations {
				t.Errorf("result %v, iterations %v", r.Status, r.Stats.SampleIterations)
			}
		})
	}
}

// TestBudgetedDeadlineLeavesEarly: a sample whose deadline comes leaves
// within one evaluation of it, with its best iterate, while a sample with
// a longer budget keeps iterating in the same batch.
func TestBudgetedDeadlineLeavesEarly(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	p := newAffine(rng, 2, 4, 0.9)
	const step = 3 * time.Millisecond
	slow := func(out, z []float64) error {
		time.Sleep(step)
		return p.f64(out, z)
	}
	start := time.Now()
	deadline := start.Add(20 * step)
	var leftAt time.Duration
	d := newDepartures()
	r := SolveBudgeted(Anderson{}, Problem[float64]{F: slow, Batch: 2, Dim: 4},
		Stop{}, []Budget{{Tol: 1e-300, MaxIter: 1000, Deadline: deadline}, {Iterations: 40}},
		func(dep Departure[float64]) {
			if dep.Sample == 0 {
				leftAt = time.Since(start)
			}
			d.leave(dep)
		})
	first, second := d.got[0], d.got[1]
	if first.Status != Interrupted || second.Status != Converged || second.Iterations != 40 {
		t.Fatalf("statuses %v, %v (after %d and %d iterations)", first.Status, second.Status, first.Iterations, second.Iterations)
	}
	if limit := deadline.Sub(start) + step + 10*time.Millisecond; leftAt > limit { // slack: a shared machine's scheduling
		t.Errorf("the deadline sample left after %v, its deadline was %v (one evaluation takes %v)", leftAt, deadline.Sub(start), step)
	}
	if first.Iterations >= 40 || first.Iterations < 5 {
		t.Errorf("the deadline sample took %d iterations", first.Iterations)
	}
	if !errors.Is(r.Err(), context.DeadlineExceeded) {
		t.Errorf("result error %v", r.Err())
	}
	for _, v := range first.Z {
		if math.IsNaN(v) {
			t.Fatal("the interrupted sample's iterate holds NaN")
		}
	}
}

// TestBudgetedHonoursTheContext: cancelling the problem's context ends
// the samples still in the solve as Interrupted with the context's error;
// those that left before keep their status.
func TestBudgetedHonoursTheContext(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	p := newAffine(rng, 2, 4, 0.99)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	f := func(out, z []float64) error {
		if calls++; calls == 5 {
			cancel()
		}
		return p.f64(out, z)
	}
	d := newDepartures()
	r := SolveBudgeted(Picard{}, Problem[float64]{F: f, Batch: 2, Dim: 4, Ctx: ctx}, Stop{}, []Budget{{Iterations: 2}, {Iterations: 100}}, d.leave)
	if d.got[0].Status != Converged || d.got[1].Status != Interrupted || calls > 6 {
		t.Fatalf("statuses %v %v after %d calls", d.got[0].Status, d.got[1].Status, calls)
	}
	if !errors.Is(r.Err(), context.Canceled) {
		t.Errorf("error %v, want the cancellation", r.Err())
	}
}

// TestBudgetedBadInput: a budget count that is not the batch's and a
// negative budget are Failed results, not panics; a non-finite row leaves
// as NonFinite while the others finish.
func TestBudgetedBadInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	p := newAffine(rng, 2, 3, 0.5)
	prob := Problem[float64]{F: p.f64, Batch: 2, Dim: 3}
	if r := SolveBudgeted(Picard{}, prob, Stop{}, []Budget{{}}, nil); r.Status != Failed {
		t.Errorf("one budget for two samples: %v", r.Status)
	}
	if r := SolveBudgeted(Picard{}, prob, Stop{}, []Budget{{}, {MaxIter: -1}}, nil); r.Status != Failed {
		t.Errorf("negative MaxIter: %v", r.Status)
	}
	nan := func(out, z []float64) error {
		if err := p.f64(out, z); err != nil {
			return err
		}
		out[0] = math.NaN()
		return nil
	}
	d := newDepartures()
	r := SolveBudgeted(Picard{}, Problem[float64]{F: nan, Batch: 2, Dim: 3}, Stop{Tol: 1e-10}, nil, d.leave)
	if d.got[0].Status != NonFinite || d.got[1].Status != Converged || r.Status != NonFinite {
		t.Errorf("statuses %v, %v; result %v", d.got[0].Status, d.got[1].Status, r.Status)
	}
}

// TestBudgetedIterationsReturnTheLastIterate: with a map whose residual
// grows before it shrinks (non-normal, spectral radius 0.5 but norm 3),
// an Iterations budget still returns y_{t−1}, not the iterate of lowest
// residual, while a tolerance budget returns its best.
func TestBudgetedIterationsReturnTheLastIterate(t *testing.T) {
	f := func(out, z []float64) error {
		for s := 0; s < len(z)/2; s++ {
			x, y := z[2*s], z[2*s+1]
			out[2*s], out[2*s+1] = 0.5*x+3*y+1, 0.5*y+1
		}
		return nil
	}
	p := Problem[float64]{F: f, Batch: 2, Dim: 2}
	d := newDepartures()
	SolveBudgeted(Picard{}, p, Stop{Mode: Absolute}, []Budget{{Iterations: 4}, {Tol: 1e-300, MaxIter: 4}}, d.leave)
	want := Iterate(Problem[float64]{F: f, Batch: 1, Dim: 2}, 3).Z
	if got := d.got[0].Z; got[0] != want[0] || got[1] != want[1] {
		t.Errorf("Iterations 4 returned %v, want y_3 = %v", got, want)
	}
	if got := d.got[1]; got.Z[0] == want[0] || got.Residual >= d.got[0].Residual {
		t.Errorf("the tolerance budget returned %v with residual %g; its best iterate has a lower residual than y_3's %g", got.Z, got.Residual, d.got[0].Residual)
	}
}
