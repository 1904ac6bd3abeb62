package serve

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorgonia.org/tensor"
)

// BenchmarkThroughput serves a DEQ classifier of the classify experiment's
// shape (784 → implicit 128 → 10, float32, random weights) to 64
// concurrent clients sending one sample per request over loopback as
// JSON, with micro-batching (up to 64 samples, 2 ms wait) and without
// (batches of one), one worker each. The two servers are measured in
// alternating rounds of one run (see benchSides); the target is a batched
// throughput at least 3x the unbatched one.
func BenchmarkThroughput(b *testing.B) {
	body, err := json.Marshal(PredictRequest{Inputs: inputsOf(rand.New(rand.NewPCG(1, 2)), 1, 784)})
	if err != nil {
		b.Fatal(err)
	}
	benchSides(b, httpAsk(body, "application/json"))
}

// BenchmarkThroughputBinary is BenchmarkThroughput with binary bodies
// (BinaryContentType): the inputs as float32, no JSON numbers to parse.
func BenchmarkThroughputBinary(b *testing.B) {
	body, err := (&PredictRequest{Inputs: inputsOf(rand.New(rand.NewPCG(1, 2)), 1, 784)}).MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	benchSides(b, httpAsk(body, BinaryContentType))
}

// BenchmarkEngine is BenchmarkThroughput in process (Server.Predict, no
// HTTP or JSON): what micro-batching does to the model's own cost per
// sample, apart from the per-request cost of the transport.
func BenchmarkEngine(b *testing.B) {
	req := &PredictRequest{Inputs: inputsOf(rand.New(rand.NewPCG(1, 2)), 1, 784)}
	benchSides(b, func(s *Server, _ string, _ *http.Client) error {
		_, err := s.Predict(req)
		return err
	})
}

// httpAsk posts body as contentType and expects a 200.
func httpAsk(body []byte, contentType string) func(*Server, string, *http.Client) error {
	return func(_ *Server, base string, client *http.Client) error {
		code, resp, err := postAs(client, base+"/v1/predict", contentType, body)
		if err != nil || code != 200 {
			return fmt.Errorf("status %d: %v %s", code, err, resp)
		}
		return nil
	}
}

// benchRounds is how many rounds each side of benchSides runs.
const benchRounds = 8

// benchSides runs b.N requests (ask; rounded up to whole rounds) from 64
// concurrent clients against each of a batched and an unbatched server,
// in alternating rounds (batched first in even rounds, unbatched first in
// odd ones), so that both sides see the same machine — on a shared one
// its load moves more between runs than the two sides differ. It reports
// each side's samples per second and the process's CPU time per sample
// (clients included: they run in the same process), and their ratio.
func benchSides(b *testing.B, ask func(s *Server, base string, client *http.Client) error) {
	const clients = 64
	sides := []struct {
		name      string
		cfg       Config
		s         *Server
		base      string
		wall, cpu time.Duration
	}{
		{name: "batched", cfg: Config{MaxBatch: 64, MaxWait: 2 * time.Millisecond}},
		{name: "unbatched", cfg: Config{MaxBatch: 1}},
	}
	m := testModel(b, 784, 128, 10, tensor.Float32)
	for i := range sides {
		sides[i].s, sides[i].base = start(b, m, sides[i].cfg)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	per := (b.N + benchRounds - 1) / benchRounds
	if load, err := os.ReadFile("/proc/loadavg"); err == nil {
		b.Logf("load average before: %s", strings.TrimSpace(string(load)))
	}
	b.ResetTimer()
	for r := range benchRounds {
		for k := range sides {
			sd := &sides[(k+r)%2]
			t0, cpu0 := time.Now(), cpuTime()
			if failed := runClients(clients, per, func() error { return ask(sd.s, sd.base, client) }); failed > 0 {
				b.Fatalf("%s: %d requests failed", sd.name, failed)
			}
			sd.wall += time.Since(t0)
			sd.cpu += cpuTime() - cpu0
		}
	}
	b.StopTimer()
	n := float64(per * benchRounds)
	for _, sd := range sides {
		b.ReportMetric(n/sd.wall.Seconds(), sd.name+"-samples/s")
		if sd.cpu > 0 {
			b.ReportMetric(float64(sd.cpu.Microseconds())/n, sd.name+"-cpu-µs/sample")
		}
	}
	b.ReportMetric(sides[1].wall.Seconds()/sides[0].wall.Seconds(), "batched/unbatched")
}

// runClients sends n requests (ask) from the given number of concurrent
// clients and returns how many failed.
func runClients(clients, n int, ask func() error) int64 {
	var left, failed atomic.Int64
	left.Store(int64(n))
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 {
				if err := ask(); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return failed.Load()
}
