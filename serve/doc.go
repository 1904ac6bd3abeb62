// Package serve answers prediction requests with a trained implicit model,
// each request with its own compute budget: anytime inference as a
// service. cmd/serve runs it on a model loaded from a run folder
// (experiments.LoadModel); a Go program can embed it (New, then Serve on
// a listener, or Predict in process).
//
// # Protocol
//
// POST /v1/predict takes {"inputs": [[…], …], "budget": {…}}: each input
// is a sample's values flattened row-major (the model's input shape), and
// the optional budget is one of
//
//	{"iterations": t}                exactly t plain iterations from z₀ = 0: the output is y_t
//	{"tol": 1e-3, "max_iter": 30}    a solve with the model's solver (either field may be left out)
//	{"deadline_ms": 5}               on top of either (or alone, with the model's tolerance):
//	                                 the sample leaves with its best iterate when the deadline comes
//
// A body with Content-Type BinaryContentType (application/x-implicit-f32)
// is the binary form of the same request: a 40-byte header (magic "IF32",
// the number of inputs and values per input, the budget's fields), then
// the inputs as little-endian float32 (PredictRequest.MarshalBinary writes
// it). Decoding hundreds of JSON numbers per sample costs more than the
// model; the binary body costs a copy. Any other body is JSON.
//
// The answer holds the outputs and, per sample, the iterations taken, the
// residual ‖f(z) − z‖ of the returned iterate z, how the solve ended, and,
// when the cell's contraction factor μ < 1 is known (Model.Mu), the bound
// μ/(1 − μ)·‖f(z) − z‖ on the distance of the implicit layer's output f(z)
// to the fixed point. Bad input — malformed JSON, unknown fields, a binary
// body whose length is not its header's, wrong shapes, non-finite values,
// budgets out of range, bodies over the limit —
// is a 4xx with a one-line JSON message; a model error a 500; neither
// stops the server. GET /healthz says it is up; GET /metrics gives the
// Prometheus metrics (requests by code, latency by budget kind,
// iterations, residuals, batch sizes, early departures).
//
// # Micro-batching
//
// Samples of concurrent requests wait in a queue (at most Config.MaxWait,
// less for a deadline) and are solved together in batches of up to
// Config.MaxBatch, on graphs compiled for each power of two; while the
// workers are busy the next batch fills up, so batches grow with the load.
// Plain-iteration budgets and solves queue apart: they run different
// solvers.
//
// # Per-sample budgets in one batched solve
//
// A batched solve evaluates the cell on every row at once, but each
// sample has its own budget. The model's implicit layer solves with
// Solver (WrapSolver), which finds the batch's plan in the solve's
// context and runs deq.SolveBudgeted: every sample leaves the solve as
// soon as its own budget is met — its tolerance, its iteration count, or
// its deadline, judged before each evaluation by the duration of the
// last — and its iterate is fixed from then on. A sample with a deadline
// that leaves while others iterate is answered at once: a readout run
// applies the model around its iterate (the solver returns it as it is,
// the graph applies the cell once and the layers after it), on graphs of
// its own, while the batch goes on. A sample's deadline therefore holds
// whatever else shares its batch: it is answered within its deadline plus
// about one evaluation of the cell and the readout — and the fixed costs
// of any request (reading and queueing it, the layers before the implicit
// one), which a deadline cannot shorten. The other samples are
// answered when their batch ends (a readout costs the layers before the
// implicit one again, more than the wait saves them).
//
// A batch runs until its last sample leaves, and the next waits for a
// worker: a deadline sample queued behind it would see its deadline pass
// before its solve starts. So a deadline sample still queued three
// quarters of the way to its deadline leaves unsolved: the readout
// answers it from its starting point (y_1: one application of the cell),
// with batch 0 and no iterations of its own.
//
// Shutdown stops accepting requests, lets the requests in flight finish,
// then stops the workers.
package serve
