package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/implicit-ml/implicit/deq"
)

// PredictRequest is the body of POST /v1/predict.
type PredictRequest struct {
	// Inputs are the samples, each the model's input flattened row-major.
	Inputs [][]float64 `json:"inputs"`
	// Budget bounds the implicit layer's work per sample; nil means the
	// model's own stopping rule.
	Budget *Budget `json:"budget,omitempty"`
}

// Budget is a request's compute budget for each of its samples. Give
// Iterations (exactly t plain iterations of the cell from z₀ = 0: the
// output is y_t), or Tol and MaxIter (a solve with the model's solver
// to relative residual Tol, at most MaxIter iterations; either may be
// left out for the model's own), and optionally DeadlineMs on top of
// either: the sample then leaves with its best iterate so far when the
// deadline comes.
type Budget struct {
	Iterations int     `json:"iterations,omitempty"`
	Tol        float64 `json:"tol,omitempty"`
	MaxIter    int     `json:"max_iter,omitempty"`
	DeadlineMs float64 `json:"deadline_ms,omitempty"`
}

// PredictResponse is the answer to a valid request.
type PredictResponse struct {
	Model string `json:"model"`
	// Outputs are the model's outputs, one flattened row per input.
	Outputs [][]float64 `json:"outputs"`
	// Samples describe each input's solve.
	Samples []SampleStats `json:"samples"`
	// BoundNorm is the norm of the samples' bounds ("2" or "inf"), when
	// they carry one.
	BoundNorm string `json:"bound_norm,omitempty"`
	// ServerMs is the time from the request's arrival to its answer, in
	// milliseconds: what a deadline_ms bounds (the body's decoding and the
	// wait for a batch included; the transport not).
	ServerMs float64 `json:"server_ms"`
}

// SampleStats describe one sample's solve.
type SampleStats struct {
	// Iterations is the number of cell evaluations the sample's solve
	// took (the output is the cell applied once more to the iterate it
	// returned).
	Iterations int `json:"iterations"`
	// Residual and RelativeResidual are ‖f(z) − z‖ and ‖f(z) − z‖/‖f(z)‖
	// of the returned iterate z; absent for models without a solve.
	Residual         *float64 `json:"residual,omitempty"`
	RelativeResidual *float64 `json:"relative_residual,omitempty"`
	// Status is how the solve ended: converged (its tolerance met, or
	// its exact iterations done), max-iterations, interrupted (its
	// deadline came), diverged, non-finite; "none" without a solve.
	Status string `json:"status"`
	// Bound, when the cell's contraction factor μ < 1 is known, bounds the
	// distance of the implicit layer's output f(z) to the fixed point:
	// μ/(1 − μ)·‖f(z) − z‖.
	Bound *float64 `json:"bound,omitempty"`
	// Batch is the size of the batch the sample was solved in, and Early
	// says it left that batch before the batch ended. A deadline sample
	// that waited three quarters of its time in the queue (the workers
	// busy) leaves unsolved: Batch 0, Iterations 0, status interrupted,
	// and its output is the cell applied once to the starting point (y_1).
	Batch int  `json:"batch"`
	Early bool `json:"early,omitempty"`
}

// errorBody is the body of every error response.
type errorBody struct {
	Error string `json:"error"`
}

// httpError is an error with its status code.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{code: http.StatusBadRequest, msg: oneLine(fmt.Sprintf(format, args...))}
}

// oneLine keeps an error message on one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// decodeRequest reads and checks a predict request: a body within the
// size limit, well-formed JSON of known fields or (binary set) a binary
// body (BinaryContentType), samples of the model's shape with finite
// values in its range, a budget within the limits. size is the body's
// announced length (−1: unknown), to read it into one buffer: scratch's,
// when it is large enough (the request does not keep it), else a new one
// left in scratch.
func decodeRequest(body io.Reader, size int64, binary bool, scratch *[]byte, m Model, cfg Config) (*PredictRequest, error) {
	b, err := readBody(body, size, cfg.MaxBodyBytes, scratch)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &httpError{code: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("request body over %d bytes (the -max-body limit)", tooBig.Limit)}
		}
		return nil, badRequest("reading the request: %v", err)
	}
	var req *PredictRequest
	switch {
	case binary:
		req = &PredictRequest{}
		err = req.UnmarshalBinary(b)
	default:
		if req, err = fastDecode(b); err != nil {
			req, err = decodeJSON(b)
		}
	}
	if err != nil {
		return nil, err
	}
	if err := checkInputs(req.Inputs, m, cfg); err != nil {
		return nil, err
	}
	if err := checkBudget(req.Budget, m, cfg); err != nil {
		return nil, err
	}
	return req, nil
}

// readBody reads a body whose announced length is size (−1: unknown)
// into a buffer of that length when it is within limit — scratch's if it
// is large enough, else a new one left in scratch — saving the regrowths
// of io.ReadAll; the reader enforces the limit itself.
func readBody(body io.Reader, size, limit int64, scratch *[]byte) ([]byte, error) {
	if size <= 0 || size > limit {
		return io.ReadAll(body)
	}
	buf := *scratch
	if int64(cap(buf)) < size+1 { // +1: room for the read that finds the end
		buf = make([]byte, 0, size+1)
	}
	buf = buf[:0]
	defer func() { *scratch = buf }()
	for {
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case err == io.EOF:
			return buf, nil
		case err != nil:
			return buf, err
		case len(buf) == cap(buf): // longer than announced
			buf = append(buf, 0)[:len(buf)]
		}
	}
}

// decodeJSON decodes a request with encoding/json: one object of known
// fields and nothing after it.
func decodeJSON(b []byte) (*PredictRequest, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var req PredictRequest
	if err := dec.Decode(&req); err != nil {
		return nil, badRequest("malformed request: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, badRequest("malformed request: data after the JSON object")
	}
	return &req, nil
}

// checkBudget checks a request's budget (nil: none) for model m.
func checkBudget(b *Budget, m Model, cfg Config) error {
	if b == nil {
		return nil
	}
	if !m.Budgeted {
		return badRequest("model %s has no implicit layer solving with per-sample budgets; leave out the budget", m.Net.Name())
	}
	return b.check(cfg)
}

// checkInputs checks the samples' count, lengths and values.
func checkInputs(in [][]float64, m Model, cfg Config) error {
	want := size(m.Input)
	switch {
	case len(in) == 0:
		return badRequest(`no inputs: send {"inputs": [[...], ...]}, each input %d numbers (shape %v flattened)`, want, m.Input)
	case len(in) > cfg.MaxSamples:
		return badRequest("%d inputs in one request; at most %d (the -max-samples limit)", len(in), cfg.MaxSamples)
	}
	limit := math.MaxFloat64
	if m.Float32 {
		limit = math.MaxFloat32
	}
	for i, x := range in {
		if len(x) != want {
			return badRequest("input %d has %d values; the model takes %d (shape %v flattened)", i, len(x), want, m.Input)
		}
		for j, v := range x {
			if math.IsNaN(v) || math.Abs(v) > limit {
				return badRequest("input %d value %d is %v; inputs must be finite (and within float32 range for this model)", i, j, v)
			}
		}
	}
	return nil
}

// check validates a budget against the server's limits.
func (b *Budget) check(cfg Config) error {
	maxMs := float64(cfg.MaxDeadline) / float64(time.Millisecond)
	switch {
	case b.Iterations < 0 || b.Iterations > cfg.MaxIterations:
		return badRequest("budget iterations %d is out of range: 1 to %d", b.Iterations, cfg.MaxIterations)
	case b.MaxIter < 0 || b.MaxIter > cfg.MaxIterations:
		return badRequest("budget max_iter %d is out of range: 1 to %d", b.MaxIter, cfg.MaxIterations)
	case math.IsNaN(b.Tol) || b.Tol < 0 || b.Tol > 1:
		return badRequest("budget tol %v is out of range: a relative residual in (0, 1]", b.Tol)
	case math.IsNaN(b.DeadlineMs) || b.DeadlineMs < 0 || b.DeadlineMs > maxMs:
		return badRequest("budget deadline_ms %v is out of range: (0, %g]", b.DeadlineMs, maxMs)
	case b.Iterations > 0 && (b.Tol > 0 || b.MaxIter > 0):
		return badRequest("budget iterations (exactly t iterations) cannot be combined with tol or max_iter (a solve)")
	case *b == Budget{}:
		return badRequest("empty budget: give iterations, tol and/or max_iter, or deadline_ms — or leave out the budget")
	}
	return nil
}

// deq turns the budget into a deq.Budget for a sample that arrived at
// arrival (the deadline counts from then).
func (b *Budget) deq(arrival time.Time) deq.Budget {
	if b == nil {
		return deq.Budget{}
	}
	d := deq.Budget{Iterations: b.Iterations, Tol: b.Tol, MaxIter: b.MaxIter}
	if b.DeadlineMs > 0 {
		d.Deadline = arrival.Add(time.Duration(b.DeadlineMs * float64(time.Millisecond)))
	}
	return d
}

// plain says the budget asks for plain iterations (solved with Picard,
// apart from solves with the model's solver).
func (b *Budget) plain() bool { return b != nil && b.Iterations > 0 }

// kind names the budget for the latency metrics.
func (b *Budget) kind() string {
	switch {
	case b == nil:
		return "default"
	case b.DeadlineMs > 0:
		return "deadline"
	case b.Iterations > 0:
		return "iterations"
	}
	return "tol"
}
