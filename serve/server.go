package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/implicit-ml/implicit/deq"
)

// Server answers predict requests with a model, batching the samples of
// concurrent requests.
type Server struct {
	model   Model
	cfg     Config
	queue   *queue
	metrics *metrics
	http    *http.Server
	mux     *http.ServeMux

	departures chan departure
	workers    sync.WaitGroup // solving workers, and the goroutine that expires queued deadline samples
	readers    sync.WaitGroup // the readout
	graphs     []*graphs      // per worker, then the readout's
	duplicates atomic.Int64   // rows answered twice: always zero
	stopOnce   sync.Once
	// bodies holds *[]byte buffers that request bodies are read into and
	// that outlive no request: fewer allocations, fewer collections, whose
	// stop-the-world pauses a loaded machine stretches.
	bodies sync.Pool
}

// maxPooledBody is the largest body buffer kept for reuse: a rare large
// body should not pin its buffer.
const maxPooledBody = 256 << 10

// New compiles the model's graphs for every batch size up to
// cfg.MaxBatch (one set per worker and one for the readout) and starts
// the workers. Call Shutdown to stop them.
func New(m Model, cfg Config) (*Server, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	cfg, err := cfg.resolved()
	if err != nil {
		return nil, err
	}
	s := &Server{model: m, cfg: cfg, queue: newQueue(cfg.MaxBatch, cfg.MaxWait), metrics: newMetrics(cfg.MaxBatch),
		departures: make(chan departure, 2*cfg.Workers*cfg.MaxBatch), bodies: sync.Pool{New: func() any { return new([]byte) }}}
	for range cfg.Workers + 1 {
		g, err := newGraphs(m, cfg.MaxBatch)
		if err != nil {
			s.closeGraphs()
			return nil, err
		}
		s.graphs = append(s.graphs, g)
	}
	for _, g := range s.graphs[:cfg.Workers] {
		s.workers.Add(1)
		go s.work(g)
	}
	s.workers.Add(1)
	go s.expire()
	s.readers.Add(1)
	go s.readouts(s.graphs[cfg.Workers], &s.readers)
	s.mux = http.NewServeMux()
	s.mux.Handle("/v1/predict", s.counted("predict", http.HandlerFunc(s.predict)))
	s.mux.Handle("/healthz", s.counted("healthz", http.HandlerFunc(s.healthz)))
	s.mux.Handle("/metrics", s.counted("metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})))
	s.http = &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second}
	return s, nil
}

// work solves batches until the queue closes.
func (s *Server) work(g *graphs) {
	defer s.workers.Done()
	for {
		rows := s.queue.next()
		if rows == nil {
			return
		}
		s.solveBatch(g, rows)
	}
}

// expire hands the deadline samples that the queue gives up on to the
// readout, which answers them from their starting point, until the queue
// closes.
func (s *Server) expire() {
	defer s.workers.Done()
	for {
		rows, next, closed := s.queue.expired(time.Now())
		for _, r := range rows {
			s.departures <- departure{row: r, stats: SampleStats{Status: deq.Interrupted.String(), Early: true}}
		}
		if closed {
			return
		}
		var t *time.Timer
		var timer <-chan time.Time // nil: no deadline sample queued
		if !next.IsZero() {
			t = time.NewTimer(time.Until(next))
			timer = t.C
		}
		select {
		case <-s.queue.expWake:
		case <-timer:
		}
		if t != nil {
			t.Stop()
		}
	}
}

// Handler returns the server's HTTP handler: POST /v1/predict, GET
// /healthz, GET /metrics.
func (s *Server) Handler() http.Handler { return s.mux }

// Serve answers requests on l until Shutdown; it returns nil after a
// shutdown.
func (s *Server) Serve(l net.Listener) error {
	if err := s.http.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// Shutdown stops accepting requests, lets the requests in flight finish
// (their samples are solved and answered), then stops the workers and
// frees the graphs. If ctx ends first, the connections still open are
// closed and ctx's error returned; the workers still finish their
// batches.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	if err != nil {
		s.http.Close()
	}
	s.stopOnce.Do(func() {
		s.queue.close()
		s.workers.Wait()
		close(s.departures)
		s.readers.Wait()
		s.closeGraphs()
	})
	return err
}

func (s *Server) closeGraphs() {
	for _, g := range s.graphs {
		g.close()
	}
}

// Duplicates is the number of samples answered more than once: zero
// unless the server has a bug (the load test checks it).
func (s *Server) Duplicates() int64 { return s.duplicates.Load() }

// counted wraps a handler to count its responses by status code.
func (s *Server) counted(name string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &codeWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(cw, r)
		s.metrics.requests.WithLabelValues(name, strconv.Itoa(cw.code)).Inc()
	})
}

// codeWriter remembers the status code written.
type codeWriter struct {
	http.ResponseWriter
	code int
}

func (w *codeWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(w, &httpError{code: http.StatusMethodNotAllowed, msg: "healthz takes GET"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "model": s.model.Net.Name()})
}

// predict decodes a request and answers it.
func (s *Server) predict(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	s.metrics.inFlight.Inc()
	defer s.metrics.inFlight.Dec()
	if r.Method != http.MethodPost {
		writeError(w, &httpError{code: http.StatusMethodNotAllowed, msg: "predict takes POST with a JSON body (or " + BinaryContentType + ")"})
		return
	}
	scratch := s.bodies.Get().(*[]byte)
	req, err := decodeRequest(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes), r.ContentLength, isBinary(r.Header.Get("Content-Type")), scratch, s.model, s.cfg)
	if cap(*scratch) <= maxPooledBody {
		s.bodies.Put(scratch)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	resp, err := s.answer(req, start)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// Predict answers a request in process, through the same queue and
// batches as POST /v1/predict: a Go program can serve a model without
// HTTP. Its errors are the handler's; StatusCode says which status code
// each stands for.
func (s *Server) Predict(req *PredictRequest) (*PredictResponse, error) {
	start := time.Now()
	if req == nil {
		return nil, badRequest("no request")
	}
	if err := checkInputs(req.Inputs, s.model, s.cfg); err != nil {
		return nil, err
	}
	if err := checkBudget(req.Budget, s.model, s.cfg); err != nil {
		return nil, err
	}
	return s.answer(req, start)
}

// StatusCode is the HTTP status code an error of Predict stands for:
// 4xx for a bad request, 503 while shutting down, 500 for a model error.
func StatusCode(err error) int {
	var he *httpError
	if errors.As(err, &he) {
		return he.code
	}
	return http.StatusInternalServerError
}

// answer queues a checked request's samples and waits for their answers.
func (s *Server) answer(req *PredictRequest, start time.Time) (*PredictResponse, error) {
	p := newPending(len(req.Inputs), &s.duplicates)
	rows := make([]*row, len(req.Inputs))
	for i, x := range req.Inputs {
		rows[i] = &row{x: x, budget: req.Budget.deq(start), plain: req.Budget.plain(), arrived: start, req: p, i: i}
	}
	if !s.queue.add(rows) {
		return nil, &httpError{code: http.StatusServiceUnavailable, msg: "the server is shutting down"}
	}
	<-p.done
	if p.err != nil {
		return nil, p.err
	}
	took := time.Since(start)
	s.metrics.observe(p.stats)
	s.metrics.latency.WithLabelValues(req.Budget.kind()).Observe(took.Seconds())
	resp := &PredictResponse{Model: s.model.Net.Name(), Outputs: p.out, Samples: p.stats, ServerMs: float64(took) / float64(time.Millisecond)}
	if s.model.bound(0) != nil {
		resp.BoundNorm = s.model.MuNorm
	}
	return resp, nil
}

func writeError(w http.ResponseWriter, err error) {
	writeJSON(w, StatusCode(err), errorBody{Error: oneLine(err.Error())})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the client may be gone
}
