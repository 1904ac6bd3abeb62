package serve

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/train"
)

// TestIterationsBudgetIsExact: a budget of t iterations returns y_t — the
// outputs of the model run with exactly t iterations (Controls
// .Iterations) — for every t, in batches mixed with other budgets.
func TestIterationsBudgetIsExact(t *testing.T) {
	m := testModel(t, 6, 16, 3, tensor.Float64)
	_, base := start(t, m, Config{MaxBatch: 8, MaxWait: 20 * time.Millisecond})
	client := &http.Client{}
	x := inputsOf(rand.New(rand.NewPCG(4, 4)), 3, 6)
	ref, err := train.NewEvaluator(m.Net, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	var wg sync.WaitGroup
	for _, iters := range []int{1, 2, 5, 17} {
		wg.Add(1)
		go func() { // concurrent requests share batches
			defer wg.Done()
			predict(t, client, base, PredictRequest{Inputs: x, Budget: &Budget{Iterations: 40 - iters}})
		}()
		resp := predict(t, client, base, PredictRequest{Inputs: x, Budget: &Budget{Iterations: iters}})
		ref.SetIterations(iters)
		want, err := ref.Predict(flat(x), len(x))
		if err != nil {
			t.Fatal(err)
		}
		for i, out := range resp.Outputs {
			st := resp.Samples[i]
			if st.Iterations != iters || st.Status != "converged" || st.Residual == nil {
				t.Errorf("t=%d sample %d: %+v", iters, i, st)
			}
			for j, v := range out {
				if math.Abs(v-want[i*3+j]) > 1e-12 {
					t.Fatalf("t=%d sample %d: output %v, y_t gives %v", iters, i, out, want[i*3:i*3+3])
				}
			}
		}
	}
	wg.Wait()
}

func flat(x [][]float64) []float64 {
	var out []float64
	for _, r := range x {
		out = append(out, r...)
	}
	return out
}

// TestToleranceBudget: each sample stops at its request's tolerance, a
// looser one after fewer iterations; the bound is μ/(1−μ) times the
// residual; a request without budget meets the model's own tolerance; a
// request larger than a batch is answered whole.
func TestToleranceBudget(t *testing.T) {
	m := testModel(t, 6, 16, 3, tensor.Float64)
	if !(m.Mu > 0 && m.Mu < 1) {
		t.Fatalf("the test cell's bound %v is not a contraction", m.Mu)
	}
	_, base := start(t, m, Config{MaxBatch: 3}) // a request of 4 inputs spans two batches
	client := &http.Client{}
	x := inputsOf(rand.New(rand.NewPCG(5, 5)), 4, 6)
	loose := predict(t, client, base, PredictRequest{Inputs: x, Budget: &Budget{Tol: 1e-2}})
	tight := predict(t, client, base, PredictRequest{Inputs: x, Budget: &Budget{Tol: 1e-9, MaxIter: 200}})
	def := predict(t, client, base, PredictRequest{Inputs: x})
	for i := range x {
		l, h, d := loose.Samples[i], tight.Samples[i], def.Samples[i]
		if *l.RelativeResidual > 1e-2 || *h.RelativeResidual > 1e-9 || *d.RelativeResidual > m.Stop.Tol {
			t.Errorf("sample %d: residuals %g %g %g", i, *l.RelativeResidual, *h.RelativeResidual, *d.RelativeResidual)
		}
		if l.Batch > 3 || h.Batch > 3 || d.Batch > 3 {
			t.Errorf("sample %d: batches of %d, %d, %d; at most 3", i, l.Batch, h.Batch, d.Batch)
		}
		if l.Iterations >= h.Iterations {
			t.Errorf("sample %d: the loose tolerance took %d iterations, the tight one %d", i, l.Iterations, h.Iterations)
		}
		if want := m.Mu / (1 - m.Mu) * *h.Residual; h.Bound == nil || math.Abs(*h.Bound-want) > 1e-15 {
			t.Errorf("sample %d: bound %v, want %g", i, h.Bound, want)
		}
	}
	if loose.BoundNorm != "2" {
		t.Errorf("bound norm %q", loose.BoundNorm)
	}
}

// TestDeadlineLeavesTheBatchEarly: in a batch with a long solve, a
// request with a deadline is answered within its deadline plus one
// evaluation of the cell (and the readout), while the long one keeps
// iterating; both report the shared batch. On a shared machine a stall
// of the scheduler can delay one answer by tens of milliseconds, so the
// timing gets three tries; a deadline sample that waits for its batch
// misses it every time (by the long solve's hundreds of milliseconds).
func TestDeadlineLeavesTheBatchEarly(t *testing.T) {
	m := testModel(t, 64, 512, 10, tensor.Float64)
	// The long request waits up to 300 ms for company; the deadline
	// request, due sooner, starts the batch they share.
	s, base := start(t, m, Config{MaxBatch: 4, MaxWait: 300 * time.Millisecond})
	client := &http.Client{}
	x := inputsOf(rand.New(rand.NewPCG(6, 6)), 1, 64)
	const deadline = 20 * time.Millisecond
	predict(t, client, base, PredictRequest{Inputs: x, Budget: &Budget{Iterations: 50}}) // warm up
	var misses []string
	for len(misses) < 3 {
		fast, slow, took, slowTook := deadlinePair(t, client, base, x, deadline)
		st, sl := fast.Samples[0], slow.Samples[0]
		if st.Status != "interrupted" || !st.Early || st.Batch != 2 || sl.Batch != 2 || sl.Iterations != 1000 || sl.Status != "max-iterations" {
			t.Fatalf("deadline sample %+v, long sample %+v", st, sl)
		}
		// The slack covers the readout, the HTTP round trip and the
		// scheduling of a shared machine; the figures are in the log.
		eval := slowTook / 1000
		t.Logf("server %.2f ms; deadline %v: answered after %v, %d iterations; the long request %v (one evaluation ≈ %v)", fast.ServerMs, deadline, took, st.Iterations, slowTook, eval)
		if took <= deadline+eval+30*time.Millisecond && slowTook >= 3*took {
			break
		}
		misses = append(misses, fmt.Sprintf("the deadline request took %v, the long one %v (deadline %v, one evaluation ≈ %v)", took, slowTook, deadline, eval))
	}
	if len(misses) == 3 {
		t.Errorf("the deadline request missed its deadline plus one evaluation three times: %s", strings.Join(misses, "; "))
	}
	if s.Duplicates() != 0 {
		t.Errorf("%d samples answered twice", s.Duplicates())
	}
}

// deadlinePair sends a long solve and, 2 ms later, the same solve with a
// deadline; it returns both answers and how long each took.
func deadlinePair(t *testing.T, client *http.Client, base string, x [][]float64, deadline time.Duration) (fast, slow PredictResponse, took, slowTook time.Duration) {
	t.Helper()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t0 := time.Now()
		slow = predict(t, client, base, PredictRequest{Inputs: x, Budget: &Budget{Tol: 1e-300, MaxIter: 1000}})
		slowTook = time.Since(t0)
	}()
	time.Sleep(2 * time.Millisecond) // the long request arrives first
	t0 := time.Now()
	fast = predict(t, client, base, PredictRequest{Inputs: x, Budget: &Budget{DeadlineMs: float64(deadline) / 1e6, MaxIter: 1000, Tol: 1e-300}})
	took = time.Since(t0)
	wg.Wait()
	return fast, slow, took, slowTook
}

// TestDeadlineWhileTheWorkerIsBusy: with the only worker busy on a long
// solve and batches of one, a deadline request cannot start its solve; it
// leaves the queue three quarters of the way to its deadline and is
// answered before it, from its starting point — the output y_1 of one
// iteration, with no iterations of its own and batch 0.
func TestDeadlineWhileTheWorkerIsBusy(t *testing.T) {
	m := testModel(t, 64, 512, 10, tensor.Float64)
	s, base := start(t, m, Config{MaxBatch: 1, MaxWait: time.Millisecond})
	client := &http.Client{}
	x := inputsOf(rand.New(rand.NewPCG(7, 7)), 1, 64)
	y1 := predict(t, client, base, PredictRequest{Inputs: x, Budget: &Budget{Iterations: 1}})
	const deadline = 20 * time.Millisecond
	var misses []string
	for len(misses) < 3 {
		fast, slow, took, slowTook := deadlinePair(t, client, base, x, deadline)
		st, sl := fast.Samples[0], slow.Samples[0]
		if st.Status != "interrupted" || !st.Early || st.Batch != 0 || st.Iterations != 0 || st.Residual != nil || sl.Iterations != 1000 || sl.Batch != 1 {
			t.Fatalf("deadline sample %+v, long sample %+v", st, sl)
		}
		for j, v := range fast.Outputs[0] {
			if math.Abs(v-y1.Outputs[0][j]) > 1e-12 {
				t.Fatalf("output %v, y_1 is %v", fast.Outputs[0], y1.Outputs[0])
			}
		}
		t.Logf("deadline %v: answered after %v (server %.2f ms); the long request %v", deadline, took, fast.ServerMs, slowTook)
		if took <= deadline+30*time.Millisecond && slowTook >= 3*took {
			break
		}
		misses = append(misses, fmt.Sprintf("the deadline request took %v, the long one %v", took, slowTook))
	}
	if len(misses) == 3 {
		t.Errorf("the deadline request missed its deadline three times: %s", strings.Join(misses, "; "))
	}
	if s.Duplicates() != 0 {
		t.Errorf("%d samples answered twice", s.Duplicates())
	}
}
