package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/implicit-ml/implicit/serve"
)

// Bounds on every wait for the server process: a test that would wait
// longer kills it (by its pid) and fails.
const (
	startWithin = 60 * time.Second // loading the run and compiling its graphs
	stopWithin  = 30 * time.Second // draining after SIGTERM
	askWithin   = 30 * time.Second // one request
)

// process is this command running in a child process on a loopback
// port.
type process struct {
	cmd    *exec.Cmd
	base   string     // http://127.0.0.1:PORT
	exited chan error // its exit, once
	out    *lockedBuffer
}

// startProcess runs the command with args in a child process and waits
// (at most startWithin) until it listens. The process is killed by its
// pid when the test ends, if it is still running.
func startProcess(t *testing.T, args ...string) *process {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SERVE_TEST_MAIN=1", "SERVE_TEST_ARGS="+strings.Join(args, " "))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, exited: make(chan error, 1), out: &lockedBuffer{}}
	cmd.Stderr = p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.kill() })
	addr := make(chan string, 1)
	go func() { // read stdout to its end, then reap the process
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			p.out.WriteString(line + "\n")
			if i := strings.Index(line, "http://"); i >= 0 {
				select {
				case addr <- strings.Fields(line[i:])[0]:
				default:
				}
			}
		}
		p.exited <- cmd.Wait()
	}()
	select {
	case p.base = <-addr:
		return p
	case err := <-p.exited:
		p.exited <- err
		t.Fatalf("the server exited before listening: %v\n%s", err, p.out)
	case <-time.After(startWithin):
		t.Fatalf("the server (pid %d) did not listen within %v\n%s", cmd.Process.Pid, startWithin, p.out)
	}
	return nil
}

// kill ends the process by its pid if it still runs.
func (p *process) kill() {
	select {
	case err := <-p.exited:
		p.exited <- err
	default:
		_ = p.cmd.Process.Kill()
	}
}

// terminate sends SIGTERM to the process and waits (at most stopWithin)
// for it to exit; it returns the exit error.
func (p *process) terminate(t *testing.T) error {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		p.exited <- err
		return err
	case <-time.After(stopWithin):
		p.kill()
		t.Fatalf("the server (pid %d) did not exit within %v of SIGTERM\n%s", p.cmd.Process.Pid, stopWithin, p.out)
	}
	return nil
}

// metric reads one sample of the process's /metrics (the line that
// starts with name), or fails the test.
func (p *process) metric(t *testing.T, client *http.Client, name string) float64 {
	t.Helper()
	resp, err := client.Get(p.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == name {
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return 0
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) WriteString(s string) {
	_, _ = b.Write([]byte(s))
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// loadBody draws a request for the classify model: mostly valid, with
// each kind of budget, and some bad in ways the server must refuse.
func loadBody(rng *rand.Rand) (body string, valid bool) {
	x := make([]string, 784)
	for i := range x {
		x[i] = strconv.FormatFloat(rng.NormFloat64(), 'g', 6, 64)
	}
	in := `{"inputs": [[` + strings.Join(x, ",") + `]]`
	switch rng.IntN(8) {
	case 0:
		return in + `}`, true
	case 1:
		return in + fmt.Sprintf(`, "budget": {"iterations": %d}}`, 1+rng.IntN(20)), true
	case 2:
		return in + `, "budget": {"tol": 1e-3, "max_iter": 40}}`, true
	case 3, 4:
		return in + fmt.Sprintf(`, "budget": {"deadline_ms": %d}}`, 1+rng.IntN(10)), true
	case 5:
		return in, false // truncated
	case 6:
		return `{"inputs": [[1, 2, 3]]}`, false // wrong shape
	}
	return in + `, "budget": {"iterations": 3, "tol": 0.1}}`, false
}

// TestProcessUnderLoadAndSIGTERM runs the command as a process on
// loopback and loads it from concurrent clients for a bounded time with
// valid and bad requests: every valid request is answered 200, every bad
// one 4xx, none 5xx, and the server's count of predict responses equals
// the requests sent (each answered once). Then, with requests in flight
// (the server's in-flight gauge shows them), SIGTERM by its pid drains
// them — each answered 200, stopped by its deadline — and the process
// exits 0 within its bound; it then refuses connections.
func TestProcessUnderLoadAndSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process")
	}
	run := fakeClassifyRun(t)
	p := startProcess(t, "-run", run, "-addr", "127.0.0.1:0", "-max-wait", "2ms", "-max-iter", "100000000")
	const clients, phase = 8, time.Second
	client := &http.Client{Timeout: askWithin, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	var mu sync.Mutex
	sent, codes := 0, map[int]int{}
	var failures []string
	end := time.Now().Add(phase)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 22))
			for time.Now().Before(end) {
				body, valid := loadBody(rng)
				code, err := send(client, p.base, body)
				mu.Lock()
				sent++
				codes[code]++
				if err != nil || code >= 500 || (valid && code != 200) || (!valid && (code < 400 || code >= 500)) {
					failures = append(failures, fmt.Sprintf("valid %v: status %d, %v", valid, code, err))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Logf("%d clients, %v: %d requests, codes %v", clients, phase, sent, codes)
	for _, f := range failures {
		t.Error(f)
	}
	if got := p.metric(t, client, `serve_requests_total{code="200",handler="predict"}`) + p.metric(t, client, `serve_requests_total{code="400",handler="predict"}`); int(got) != sent {
		t.Errorf("the server counted %v predict responses; %d requests were sent", got, sent)
	}
	drainInFlight(t, p, client)
	if _, err := client.Get(p.base + "/healthz"); err == nil {
		t.Error("the server still answers after it exited")
	}
}

// drainInFlight sends requests that iterate until their deadline, waits
// until the server is solving them, sends SIGTERM and checks that each is
// answered and the process exits cleanly.
func drainInFlight(t *testing.T, p *process, client *http.Client) {
	t.Helper()
	const inFlight = 4
	x := make([]float64, 784)
	for i := range x {
		x[i] = float64(i%7) - 3 // a fixed point that is not z = 0
	}
	body, _ := json.Marshal(serve.PredictRequest{Inputs: [][]float64{x}, Budget: &serve.Budget{DeadlineMs: 1500, Tol: 1e-300, MaxIter: 100000000}})
	answers := make(chan serve.PredictResponse, inFlight)
	errs := make(chan error, inFlight)
	for range inFlight {
		go func() {
			resp, err := client.Post(p.base+"/v1/predict", "application/json", bytes.NewReader(body))
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			var pr serve.PredictResponse
			if err := json.NewDecoder(resp.Body).Decode(&pr); err != nil || resp.StatusCode != 200 {
				errs <- fmt.Errorf("status %d, %v", resp.StatusCode, err)
				return
			}
			answers <- pr
		}()
	}
	for wait := time.Now().Add(askWithin); p.metric(t, client, "serve_predict_in_flight") < inFlight; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(wait) {
			t.Fatalf("the %d requests were not in flight within %v", inFlight, askWithin)
		}
	}
	if err := p.terminate(t); err != nil {
		t.Fatalf("the server exited with %v after SIGTERM\n%s", err, p.out)
	}
	for range inFlight {
		select {
		case pr := <-answers:
			if st := pr.Samples[0]; st.Status != "interrupted" {
				t.Errorf("a request in flight at SIGTERM: %+v", st)
			}
		case err := <-errs:
			t.Errorf("a request in flight at SIGTERM: %v", err)
		}
	}
	if out := p.out.String(); !strings.Contains(out, "draining") {
		t.Errorf("output %q", out)
	}
}

// send posts body and reads the whole response.
func send(client *http.Client, base, body string) (int, error) {
	resp, err := client.Post(base+"/v1/predict", "application/json", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}
