package serve

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gorgonia.org/tensor"
)

// loadSettings are the load test's knobs: LOADTEST_CLIENTS concurrent
// clients for LOADTEST_SECONDS per phase, LOADTEST_BATCH and
// LOADTEST_WAIT_MS for the server; LOADTEST_OUT names a JSON file for
// the figures (make loadtest sets larger values than go test's);
// LOADTEST_PHASES picks phases (comma-separated; default all three).
type loadSettings struct {
	clients int
	phase   time.Duration
	batch   int
	wait    time.Duration
	out     string
	phases  []string
}

func loadSettingsFromEnv(t *testing.T) loadSettings {
	t.Helper()
	num := func(key string, def float64) float64 {
		v := os.Getenv(key)
		if v == "" {
			return def
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || f > 1e4 {
			t.Fatalf("%s=%q: want a positive number", key, v)
		}
		return f
	}
	return loadSettings{clients: int(num("LOADTEST_CLIENTS", 16)), phase: time.Duration(num("LOADTEST_SECONDS", 1.5) * float64(time.Second)),
		batch: int(num("LOADTEST_BATCH", 32)), wait: time.Duration(num("LOADTEST_WAIT_MS", 2) * float64(time.Millisecond)), out: os.Getenv("LOADTEST_OUT"),
		phases: phases(t, os.Getenv("LOADTEST_PHASES"))}
}

// phases parses LOADTEST_PHASES: a comma-separated subset of the phases,
// all three when empty.
func phases(t *testing.T, v string) []string {
	all := []string{"mixed", "uniform", "binary"}
	if v == "" {
		return all
	}
	ps := strings.Split(v, ",")
	for _, p := range ps {
		if !slices.Contains(all, p) {
			t.Fatalf("LOADTEST_PHASES=%q: %q is not one of %v", v, p, all)
		}
	}
	return ps
}

// shot is one request of the load test: its body, whether it is valid,
// and its budget kind (valid ones) and deadline.
type shot struct {
	body     []byte
	binary   bool // a body of BinaryContentType
	valid    bool
	kind     string
	deadline time.Duration
}

// contentType is the shot's Content-Type.
func (sh shot) contentType() string {
	if sh.binary {
		return BinaryContentType
	}
	return "application/json"
}

// drawShot draws a request of a phase: "uniform" (valid JSON without
// budget), "binary" (the same as a binary body), or "mixed": three in five
// valid with every kind of budget, a quarter of them binary, and the rest
// bad in every way the server must refuse, JSON and binary.
func drawShot(rng *rand.Rand, in int, phase string) shot {
	x := make([]float64, in)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	encode := func(b *Budget, binary bool) shot {
		req := PredictRequest{Inputs: [][]float64{x}, Budget: b}
		sh := shot{binary: binary, kind: b.kind()}
		if binary {
			sh.body, _ = req.MarshalBinary()
		} else {
			sh.body, _ = json.Marshal(req)
		}
		return sh
	}
	switch phase {
	case "uniform", "binary":
		sh := encode(nil, phase == "binary")
		sh.valid = true
		return sh
	}
	binary := rng.IntN(4) == 0
	var sh shot
	switch k := rng.IntN(10); {
	case k < 2:
		sh = encode(nil, binary)
	case k < 3:
		sh = encode(&Budget{Iterations: 1 + rng.IntN(30)}, binary)
	case k < 4:
		sh = encode(&Budget{Tol: []float64{1e-2, 1e-4, 1e-6}[rng.IntN(3)], MaxIter: 100}, binary)
	case k < 6:
		d := []int{2, 5, 10, 20}[rng.IntN(4)]
		sh = encode(&Budget{DeadlineMs: float64(d), Tol: 1e-300, MaxIter: 1000}, binary)
		sh.deadline = time.Duration(d) * time.Millisecond
	default:
		return badShot(rng, encode)
	}
	sh.valid = true
	return sh
}

// badShot draws a request the server must refuse: JSON or binary,
// malformed, of the wrong shape or values, with a budget out of range, or
// over the body limit.
func badShot(rng *rand.Rand, encode func(*Budget, bool) shot) shot {
	js := func(body string) shot { return shot{body: []byte(body)} }
	bin := func(body []byte) shot { return shot{body: body, binary: true} }
	ok := encode(nil, true).body
	nan := bytes.Clone(ok)
	binary.LittleEndian.PutUint32(nan[BinaryHeaderBytes+8:], math.Float32bits(float32(math.NaN())))
	unknown := encode(nil, false)
	unknown.body = bytes.Replace(unknown.body, []byte(`{"inputs"`), []byte(`{"seed":4,"inputs"`), 1)
	bad := []shot{
		js(`{"inputs": [[1, 2`), encode(&Budget{Tol: 5}, false), encode(&Budget{DeadlineMs: -1}, rng.IntN(2) == 0),
		encode(&Budget{Iterations: 3, MaxIter: 4}, rng.IntN(2) == 0), js(`{"inputs": [[1, 2, 3]]}`), unknown, js(`{"inputs": [[1e999]]}`),
		js(`{"inputs": [[` + strings.Repeat("0,", 1<<19) + `0]]}`), js(`{"inputs": []}`), js(`[]`),
		bin(ok[:len(ok)-2]), bin([]byte(`{"inputs": [[1, 2, 3]]}`)), bin(nan), bin(binaryBody(binaryMagic, 2, 392, make([]float32, 784)...)),
	}
	sh := bad[rng.IntN(len(bad))]
	sh.valid = false
	return sh
}

// loadResult is what one phase measured.
type loadResult struct {
	Phase        string             `json:"phase"`
	Clients      int                `json:"clients"`
	Seconds      float64            `json:"seconds"`
	Requests     int                `json:"requests"`
	Valid        int                `json:"valid"`
	Bad          int                `json:"bad"`
	ValidPerSec  float64            `json:"valid_per_second"`
	P50ms        map[string]float64 `json:"p50_ms"`
	P99ms        map[string]float64 `json:"p99_ms"`
	OverrunP99ms float64            `json:"deadline_overrun_p99_ms,omitempty"`
	OverrunMaxms float64            `json:"deadline_overrun_max_ms,omitempty"`
	// ServerOverrunP99ms and ServerOverrunMaxms are the same by the
	// server's own clock (server_ms: from the request's arrival, without
	// the transport and the wait for the handler to run).
	ServerOverrunP99ms float64 `json:"deadline_server_overrun_p99_ms,omitempty"`
	ServerOverrunMaxms float64 `json:"deadline_server_overrun_max_ms,omitempty"`
	// ServerP50ms and ServerP99ms are the valid requests' latency by the
	// server's clock (server_ms).
	ServerP50ms   float64     `json:"server_p50_ms"`
	ServerP99ms   float64     `json:"server_p99_ms"`
	Codes         map[int]int `json:"codes"`
	Failures      []string    `json:"failures,omitempty"`
	MeanBatchSize float64     `json:"mean_batch_size"`
	// GCCycles and GCPauseMs are the process's garbage collections during
	// the phase and their stop-the-world pauses in all (clients included).
	GCCycles  uint32  `json:"gc_cycles"`
	GCPauseMs float64 `json:"gc_pause_ms"`
	// TickLateP99ms and TickLateMaxms are how late a goroutine of the
	// process that sleeps 1 ms at a time wakes (p99 and max): the stalls
	// every request of the phase shares, whatever the server does.
	TickLateP99ms float64 `json:"tick_late_p99_ms"`
	TickLateMaxms float64 `json:"tick_late_max_ms"`
}

// tickLateness sleeps 1 ms at a time until stop closes and sends how
// late each wake-up came, in ms.
func tickLateness(stop <-chan struct{}, out chan<- []float64) {
	var late []float64
	for {
		select {
		case <-stop:
			out <- late
			return
		default:
		}
		t0 := time.Now()
		time.Sleep(time.Millisecond)
		late = append(late, float64(time.Since(t0)-time.Millisecond)/1e6)
	}
}

// TestLoad runs the server under concurrent clients on loopback, in three
// phases: a mix of budgets and bad requests (JSON and binary), then
// uniform requests as JSON, then the same as binary bodies. It
// checks that every valid request is answered 200, every bad one 4xx,
// nothing 5xx, that every request gets exactly one response (the
// server's own count agrees, and no sample is answered twice), and that
// no goroutine outlives the shutdown; it logs throughput and latency.
func TestLoad(t *testing.T) {
	ls := loadSettingsFromEnv(t)
	before, _ := goroutines()
	m := testModel(t, 784, 128, 10, tensor.Float32)
	s, base, stop := launch(t, m, Config{MaxBatch: ls.batch, MaxWait: ls.wait, MaxBodyBytes: 64 << 10})
	tr := &http.Transport{MaxIdleConnsPerHost: ls.clients}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}

	solo := soloLatency(t, s, 300)
	t.Logf("%s: %d requests, p50 %.2f ms, p99 %.2f ms: the machine's own p99/p50 for one request's work is %.1f",
		solo.Phase, solo.Requests, solo.P50ms["all"], solo.P99ms["all"], solo.P99ms["all"]/solo.P50ms["all"])
	results := []loadResult{solo}
	sent := 0
	var batches [2]float64 // the server's batch sizes so far: sum and count
	meanBatch(t, client, base, &sent, 0, &batches)
	for _, phase := range ls.phases {
		r := loadPhase(t, client, base, ls, phase)
		r.MeanBatchSize = meanBatch(t, client, base, &sent, r.Requests, &batches)
		results = append(results, r)
		t.Logf("%s: %d clients, %.1f s: %d requests (%d valid, %d bad), %.0f valid/s; latency p50 %v ms, p99 %v ms (server's clock: p50 %.1f ms, p99 %.1f ms); deadline overrun p99 %.2f ms, max %.2f ms (server's clock: p99 %.2f ms, max %.2f ms); mean batch %.1f; codes %v; %d GCs, %.1f ms of GC pauses; a 1 ms sleep woke late by %.1f ms at the p99, %.1f ms at most",
			r.Phase, r.Clients, r.Seconds, r.Requests, r.Valid, r.Bad, r.ValidPerSec, r.P50ms, r.P99ms, r.ServerP50ms, r.ServerP99ms, r.OverrunP99ms, r.OverrunMaxms, r.ServerOverrunP99ms, r.ServerOverrunMaxms, r.MeanBatchSize, r.Codes, r.GCCycles, r.GCPauseMs, r.TickLateP99ms, r.TickLateMaxms)
		for _, f := range r.Failures {
			t.Error(f)
		}
	}
	if n := s.Duplicates(); n != 0 {
		t.Errorf("%d samples were answered twice", n)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	tr.CloseIdleConnections()
	checkGoroutines(t, before)
	if ls.out != "" {
		b, _ := json.MarshalIndent(results, "", "  ")
		if err := os.WriteFile(ls.out, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// soloLatency is the reference for the phases' p99/p50: n requests of
// one sample without budget, one at a time, in process (Server.Predict,
// batches of one) — no queue to wait in and no other request, so their
// spread is the machine's (its other load, the scheduler, the garbage
// collector), not the server's.
func soloLatency(t *testing.T, s *Server, n int) loadResult {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 7))
	var ms []float64
	start := time.Now()
	for range n {
		req := &PredictRequest{Inputs: inputsOf(rng, 1, 784)}
		t0 := time.Now()
		if _, err := s.Predict(req); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, float64(time.Since(t0))/1e6)
	}
	return loadResult{Phase: "solo", Clients: 1, Seconds: time.Since(start).Seconds(), Requests: n, Valid: n,
		P50ms: map[string]float64{"all": quantile(ms, 0.5)}, P99ms: map[string]float64{"all": quantile(ms, 0.99)}}
}

// loadPhase runs the clients for one phase and gathers what they saw.
func loadPhase(t *testing.T, client *http.Client, base string, ls loadSettings, phase string) loadResult {
	r := loadResult{Phase: phase, Clients: ls.clients, Codes: map[int]int{},
		P50ms: map[string]float64{}, P99ms: map[string]float64{}}
	var mu sync.Mutex
	lat := map[string][]float64{}
	var overruns, serverOverruns, serverMs []float64
	// In the uniform phases each client cycles through a few bodies drawn
	// before the clock starts: encoding 784 numbers per request would
	// spend the process's CPU (clients and server share it) on the clients.
	drawn := make([][]shot, ls.clients)
	if phase != "mixed" {
		for c := range drawn {
			rng := rand.New(rand.NewPCG(uint64(c), 9))
			for range 8 {
				drawn[c] = append(drawn[c], drawShot(rng, 784, phase))
			}
		}
	}
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	stopTicks, ticks := make(chan struct{}), make(chan []float64, 1)
	go tickLateness(stopTicks, ticks)
	end := time.Now().Add(ls.phase)
	start := time.Now()
	var wg sync.WaitGroup
	for c := range ls.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 9))
			for i := 0; time.Now().Before(end); i++ {
				var sh shot
				if len(drawn[c]) > 0 {
					sh = drawn[c][i%len(drawn[c])]
				} else {
					sh = drawShot(rng, 784, phase)
				}
				t0 := time.Now()
				code, resp, err := postAs(client, base+"/v1/predict", sh.contentType(), sh.body)
				took := time.Since(t0)
				var pr PredictResponse
				answered := sh.valid && code == 200 && json.Unmarshal(resp, &pr) == nil
				mu.Lock()
				r.Requests++
				switch {
				case err != nil:
					r.Failures = append(r.Failures, fmt.Sprintf("a request got no response: %v", err))
				case code >= 500:
					r.Failures = append(r.Failures, fmt.Sprintf("status %d", code))
				case sh.valid && code != 200, !sh.valid && (code < 400 || code >= 500):
					r.Failures = append(r.Failures, fmt.Sprintf("valid %v: status %d", sh.valid, code))
				}
				r.Codes[code]++
				if sh.valid {
					r.Valid++
					ms := float64(took) / 1e6
					lat[sh.kind] = append(lat[sh.kind], ms)
					lat["all"] = append(lat["all"], ms)
					if answered {
						serverMs = append(serverMs, pr.ServerMs)
					}
					if sh.deadline > 0 {
						overruns = append(overruns, ms-float64(sh.deadline)/1e6)
						if answered {
							serverOverruns = append(serverOverruns, pr.ServerMs-float64(sh.deadline)/1e6)
						}
					}
				} else {
					r.Bad++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	r.Seconds = time.Since(start).Seconds()
	close(stopTicks)
	if late := <-ticks; len(late) > 0 {
		r.TickLateP99ms, r.TickLateMaxms = quantile(late, 0.99), quantile(late, 1)
	}
	runtime.ReadMemStats(&ms1)
	r.GCCycles, r.GCPauseMs = ms1.NumGC-ms0.NumGC, float64(ms1.PauseTotalNs-ms0.PauseTotalNs)/1e6
	r.ValidPerSec = float64(r.Valid) / r.Seconds
	for k, v := range lat {
		r.P50ms[k], r.P99ms[k] = quantile(v, 0.5), quantile(v, 0.99)
	}
	if len(overruns) > 0 {
		r.OverrunP99ms, r.OverrunMaxms = quantile(overruns, 0.99), quantile(overruns, 1)
	}
	if len(serverMs) > 0 {
		r.ServerP50ms, r.ServerP99ms = quantile(serverMs, 0.5), quantile(serverMs, 0.99)
	}
	if len(serverOverruns) > 0 {
		r.ServerOverrunP99ms, r.ServerOverrunMaxms = quantile(serverOverruns, 0.99), quantile(serverOverruns, 1)
	}
	return r
}

// postAs sends one request with a body of contentType and reads its
// whole response.
func postAs(client *http.Client, url, contentType string, body []byte) (int, []byte, error) {
	resp, err := client.Post(url, contentType, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func quantile(v []float64, q float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(i, 0)]
}

// meanBatch scrapes /metrics: the server's count of predict responses
// must equal the requests sent so far (each answered exactly once), and
// it returns the mean size of the batches since the last scrape, whose
// sum and count it keeps in prev.
func meanBatch(t *testing.T, client *http.Client, base string, sent *int, phase int, prev *[2]float64) float64 {
	t.Helper()
	*sent += phase
	resp, err := client.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	counted := 0.0
	var sum, count float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) != 2 {
			continue
		}
		v, _ := strconv.ParseFloat(fields[1], 64)
		switch {
		case strings.HasPrefix(line, "serve_requests_total{") && strings.Contains(line, `handler="predict"`):
			counted += v
		case strings.HasPrefix(line, "serve_batch_size_sum"):
			sum = v
		case strings.HasPrefix(line, "serve_batch_size_count"):
			count = v
		}
	}
	if int(counted) != *sent {
		t.Errorf("the server counted %v predict responses, the clients sent %d requests", counted, *sent)
	}
	sum, count, *prev = sum-prev[0], count-prev[1], [2]float64{sum, count}
	if count == 0 {
		return 0
	}
	return sum / count
}

// checkGoroutines waits for the goroutines to come back to their number
// before the server started. The helpers of internal/linalg's kernel
// pool are not counted: the pool is process-wide (like a BLAS thread
// pool), started by the first large product and never stopped, so it
// belongs to no server.
func checkGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		now, stacks := goroutines()
		if now <= before {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after the shutdown, %d before:\n%s", now, before, stacks)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// goroutines counts the live goroutines that are not the kernel pool's
// helpers, and returns their stacks.
func goroutines() (int, string) {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var kept []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.TrimSpace(g) != "" && !strings.Contains(g, "internal/linalg.(*helper).loop") {
			kept = append(kept, g)
		}
	}
	return len(kept), strings.Join(kept, "\n\n")
}
