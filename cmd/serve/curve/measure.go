package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/serve"
)

// point is what one budget gave over the test images.
type point struct {
	Label      string        `json:"label"`
	Budget     *serve.Budget `json:"budget,omitempty"`
	DeadlineMs float64       `json:"deadline_ms,omitempty"`
	Accuracy   float64       `json:"accuracy"`
	// MeanIterations is the mean of the samples' cell evaluations.
	MeanIterations float64 `json:"mean_iterations"`
	// P50ms, P99ms and Maxms are the requests' latencies, measured by the
	// clients (HTTP round trip and JSON encoding included); ServerP50ms,
	// ServerP99ms and ServerMaxms the server's own (what a deadline bounds).
	P50ms       float64 `json:"p50_ms"`
	P99ms       float64 `json:"p99_ms"`
	Maxms       float64 `json:"max_ms"`
	ServerP50ms float64 `json:"server_p50_ms"`
	ServerP99ms float64 `json:"server_p99_ms"`
	ServerMaxms float64 `json:"server_max_ms"`
	// Interrupted is the share of samples their deadline stopped.
	Interrupted float64 `json:"interrupted"`
	N           int     `json:"n"`
}

// budgets are the points of the curve: each deadline (on top of the
// model's own tolerance and iteration cap), each deadline on plain
// iterations (at most plain of them; none when plain is 0), then no
// budget at all.
func budgets(deadlines []float64, plain int) []*serve.Budget {
	var out []*serve.Budget
	for _, d := range deadlines {
		out = append(out, &serve.Budget{DeadlineMs: d})
	}
	for _, d := range deadlines {
		if plain > 0 {
			out = append(out, &serve.Budget{DeadlineMs: d, Iterations: plain})
		}
	}
	return append(out, nil)
}

// measure sends every test image once, one per request, from clients
// concurrent clients, all under budget b.
func measure(ctx context.Context, url string, test *datasets.Labeled, b *serve.Budget, clients int) (point, error) {
	p := point{Label: "no budget (the model's tolerance)", Budget: b, N: test.Len()}
	if b != nil {
		p.Label, p.DeadlineMs = fmt.Sprintf("deadline_ms %g", b.DeadlineMs), b.DeadlineMs
		if b.Iterations > 0 {
			p.Label += fmt.Sprintf(", plain iterations (≤ %d)", b.Iterations)
		}
	}
	var mu sync.Mutex
	var lat, slat []float64
	var correct, iters, interrupted int
	var firstErr error
	next := make(chan int)
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: time.Minute}
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x, y := make([]float32, test.Rows*test.Cols), make([]float32, test.Classes)
			for i := range next {
				test.Sample(i, x, y)
				t0 := time.Now()
				resp, err := ask(ctx, client, url, x, b)
				took := float64(time.Since(t0)) / 1e6
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if err == nil {
					lat, slat = append(lat, took), append(slat, resp.ServerMs)
					st := resp.Samples[0]
					iters += st.Iterations
					if st.Status == "interrupted" {
						interrupted++
					}
					if argmax(resp.Outputs[0]) == argmax(y) {
						correct++
					}
				}
				mu.Unlock()
			}
		}()
	}
	for i := range test.Len() {
		next <- i
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return p, firstErr
	}
	n := float64(test.Len())
	p.Accuracy, p.MeanIterations, p.Interrupted = float64(correct)/n, float64(iters)/n, float64(interrupted)/n
	p.P50ms, p.P99ms, p.Maxms = quantiles(lat)
	p.ServerP50ms, p.ServerP99ms, p.ServerMaxms = quantiles(slat)
	return p, nil
}

// quantiles returns the median, the 99th percentile and the largest.
func quantiles(v []float64) (p50, p99, top float64) {
	slices.Sort(v)
	return v[len(v)/2], v[min(len(v)-1, len(v)*99/100)], v[len(v)-1]
}

// ask sends one image and decodes the answer.
func ask(ctx context.Context, client *http.Client, url string, x []float32, b *serve.Budget) (*serve.PredictResponse, error) {
	in := make([]float64, len(x))
	for i, v := range x {
		in[i] = float64(v)
	}
	body, err := json.Marshal(serve.PredictRequest{Inputs: [][]float64{in}, Budget: b})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("curve: the server answered %s", resp.Status)
	}
	var pr serve.PredictResponse
	if err := json.NewDecoder(resp.Body).Decode(&pr); err != nil {
		return nil, err
	}
	return &pr, nil
}

// argmax is the index of v's largest entry.
func argmax[T float32 | float64](v []T) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
