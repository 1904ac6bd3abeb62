package deq

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestSolvesStopWhenTheirContextIsDone: every solver, the linear ones,
// Iterate and Phantom stop within an iteration of their context's
// cancellation, report Interrupted with the context's error, and return
// finite best iterates; a deadline stops them the same way (well before
// their iteration cap).
func TestSolvesStopWhenTheirContextIsDone(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	p := newAffine(rng, 2, 6, 0.99)
	const cancelAt = 3
	counted := func(ctx context.Context, cancel context.CancelFunc) (Func[float64], *int) {
		calls := 0
		return func(out, z []float64) error {
			calls++
			if calls == cancelAt {
				cancel()
			}
			return p.f64(out, z)
		}, &calls
	}
	never := Stop{Tol: 1e-300, MaxIter: 1000}
	check := func(t *testing.T, r Result[float64], calls int) {
		t.Helper()
		if r.Status != Interrupted || !errors.Is(r.cause, context.Canceled) {
			t.Fatalf("status %v (cause %v) after %d calls, want interrupted by cancellation", r.Status, r.cause, calls)
		}
		if calls > cancelAt+1 {
			t.Errorf("%d evaluations after cancelling at %d", calls, cancelAt)
		}
		if err := r.Err(); err == nil || !strings.Contains(err.Error(), "interrupted") || !errors.Is(err, context.Canceled) {
			t.Errorf("error %v", err)
		}
		for _, v := range r.Z {
			if isNonFinite(v) {
				t.Fatalf("interrupted result holds %v", v)
			}
		}
	}
	for name, s := range solvers() {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			f, calls := counted(ctx, cancel)
			check(t, Solve(s, Problem[float64]{F: f, Batch: 2, Dim: 6, Ctx: ctx}, never), *calls)
		})
	}
	t.Run("gmres", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		lin := p.linear(p.b)
		f, calls := counted(ctx, cancel)
		apply := lin.Apply
		lin.Apply = func(out, v []float64) error {
			if err := f(out, v); err != nil {
				return err
			}
			return apply(out, v)
		}
		lin.Ctx = ctx
		check(t, SolveLinear(GMRES{}, lin, never), *calls)
	})
	t.Run("iterate", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		f, calls := counted(ctx, cancel)
		r := Iterate(Problem[float64]{F: f, Batch: 2, Dim: 6, Ctx: ctx}, 100)
		check(t, r, *calls)
		if r.Stats.Iterations != cancelAt {
			t.Errorf("iterate stopped after %d iterations, want %d", r.Stats.Iterations, cancelAt)
		}
	})
	t.Run("phantom", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		f, calls := counted(ctx, cancel)
		g := make([]float64, 12)
		for i := range g {
			g[i] = 1
		}
		r := SolveAdjoint[float64](Phantom{Steps: 50}, Adjoint[float64]{VJP: f, G: g, Batch: 2, Dim: 6, Ctx: ctx})
		check(t, r, *calls)
	})
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		slow := func(out, z []float64) error {
			time.Sleep(5 * time.Millisecond)
			return p.f64(out, z)
		}
		r := Solve(Picard{}, Problem[float64]{F: slow, Batch: 2, Dim: 6, Ctx: ctx}, never)
		if r.Status != Interrupted || !errors.Is(r.cause, context.DeadlineExceeded) || r.Stats.Iterations >= never.MaxIter {
			t.Fatalf("status %v (%v) after %d iterations, want interrupted by the deadline", r.Status, r.cause, r.Stats.Iterations)
		}
	})
}
