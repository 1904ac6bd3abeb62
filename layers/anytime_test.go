package layers

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
)

// TestAnytimeDeadline: a deadline that comes during a long solve stops it
// within a few evaluations of the cell; with Controls.Anytime the run
// succeeds with finite outputs and Stats report the interruption and
// per-sample residuals; without it the run fails naming the deadline.
func TestAnytimeDeadline(t *testing.T) {
	const batch, hidden = 16, 128
	g := G.NewGraph()
	s := NewScope(g, tensor.Float64, rand.New(rand.NewPCG(5, 6)))
	x := G.NewMatrix(g, tensor.Float64, G.WithShape(batch, hidden), G.WithName("x"), G.WithInit(G.Gaussian(0, 1)))
	cell := s.DenseCell("cell", hidden, Tanh)
	l := s.Implicit("deq", cell, ImplicitConfig{Forward: deq.Picard{}, Stop: deq.Stop{Tol: 1e-300, MaxIter: 1 << 30}})
	out, err := l.Fwd(x)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	// One evaluation of the cell, to judge the overrun by.
	l.SetControls(Controls{Iterations: 50})
	t0 := time.Now()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	vm.Reset()
	eval := time.Since(t0) / 50

	const budget = 40 * time.Millisecond
	var vals []float64
	run := func(anytime bool) (time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.Background(), budget)
		defer cancel()
		l.SetContext(ctx)
		l.SetControls(Controls{Anytime: anytime})
		start := time.Now()
		err := vm.RunAll()
		took := time.Since(start)
		if err == nil {
			vals, err = Floats64(out.Value())
		}
		vm.Reset()
		return took, err
	}
	// A wall-clock bound on a shared machine: the OS can deschedule the
	// whole process past the deadline now and then, so the run is judged
	// by its best of three tries (a solve that ignores the deadline
	// overruns every time; this one's Stop never ends it).
	limit := budget + 5*eval + 20*time.Millisecond
	var tries []time.Duration
	for len(tries) < 3 {
		took, err := run(true)
		if err != nil {
			t.Fatal(err)
		}
		if tries = append(tries, took); took <= limit {
			break
		}
	}
	if best := slices.Min(tries); best > limit {
		t.Errorf("the runs took %v with a deadline of %v (one evaluation %v)", tries, budget, eval)
	}
	st := l.Stats()
	if st.ForwardStatus != deq.Interrupted || st.Forward.Iterations < 2 {
		t.Fatalf("status %v after %d iterations", st.ForwardStatus, st.Forward.Iterations)
	}
	for i, r := range st.Forward.Residual {
		if math.IsNaN(r) || math.IsInf(r, 0) {
			t.Fatalf("sample %d residual %v", i, r)
		}
	}
	if len(vals) != batch*hidden {
		t.Fatalf("%d output values", len(vals))
	}
	for _, v := range vals {
		if math.IsNaN(v) {
			t.Fatal("anytime output holds NaN")
		}
	}
	if _, err := run(false); err == nil || !strings.Contains(err.Error(), context.DeadlineExceeded.Error()) {
		t.Errorf("without Anytime: %v", err)
	}
}
