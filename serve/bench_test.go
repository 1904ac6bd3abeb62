package serve

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorgonia.org/tensor"
)

// BenchmarkThroughput serves a DEQ classifier of the classify experiment's
// shape (784 → implicit 128 → 10, float32, random weights) to 64
// concurrent clients sending one sample per request over loopback, with
// micro-batching (up to 64 samples, 2 ms wait) and without (batches of
// one), one worker each. It reports samples per second and the process's
// CPU time per sample (clients included: they run in the same process),
// which on a shared machine says more than the wall time; the target is
// a batched throughput at least 3x the unbatched one.
func BenchmarkThroughput(b *testing.B) {
	body, err := json.Marshal(PredictRequest{Inputs: inputsOf(rand.New(rand.NewPCG(1, 2)), 1, 784)})
	if err != nil {
		b.Fatal(err)
	}
	benchClients(b, func(_ *Server, base string, client *http.Client) error {
		if code, _, err := postOnce(client, base+"/v1/predict", body); err != nil || code != 200 {
			return fmt.Errorf("status %d: %v", code, err)
		}
		return nil
	})
}

// BenchmarkEngine is BenchmarkThroughput in process (Server.Predict, no
// HTTP or JSON): what micro-batching does to the model's own cost per
// sample, apart from the per-request cost of the transport.
func BenchmarkEngine(b *testing.B) {
	req := &PredictRequest{Inputs: inputsOf(rand.New(rand.NewPCG(1, 2)), 1, 784)}
	benchClients(b, func(s *Server, _ string, _ *http.Client) error {
		_, err := s.Predict(req)
		return err
	})
}

// benchClients runs b.N requests (ask) from 64 concurrent clients of a
// batched and an unbatched server and reports samples per second.
func benchClients(b *testing.B, ask func(s *Server, base string, client *http.Client) error) {
	const clients = 64
	for _, bc := range []struct {
		name string
		cfg  Config
	}{
		{"batched", Config{MaxBatch: 64, MaxWait: 2 * time.Millisecond}},
		{"unbatched", Config{MaxBatch: 1}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, base := start(b, testModel(b, 784, 128, 10, tensor.Float32), bc.cfg)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
			var left, failed atomic.Int64
			left.Store(int64(b.N))
			b.ResetTimer()
			t0, cpu0 := time.Now(), cpuTime()
			var wg sync.WaitGroup
			for range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for left.Add(-1) >= 0 {
						if err := ask(s, base, client); err != nil {
							failed.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "samples/s")
			if cpu := cpuTime() - cpu0; cpu > 0 {
				b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/sample")
			}
			if failed.Load() > 0 {
				b.Fatalf("%d requests failed", failed.Load())
			}
		})
	}
}
