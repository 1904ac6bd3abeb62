// Command serve answers prediction requests with a model trained by
// cmd/train, each request with its own compute budget (anytime
// inference), batching concurrent requests.
//
//	go run ./cmd/serve -run runs/classify-serve                # the run's implicit model on 127.0.0.1:8080
//	go run ./cmd/serve -run runs/x -model explicit-mlp -addr 127.0.0.1:9000
//	curl -s localhost:8080/v1/predict -d '{"inputs": [[...784 numbers...]], "budget": {"deadline_ms": 5}}'
//	curl -s localhost:8080/v1/predict -H 'Content-Type: application/x-implicit-f32' --data-binary @request.f32
//
// The second form is the binary body (a 40-byte header, then float32
// inputs; serve.BinaryContentType documents it, PredictRequest.MarshalBinary
// writes it): decoding hundreds of JSON numbers per sample costs more
// than the model.
//
// Endpoints: POST /v1/predict, GET /healthz, GET /metrics (Prometheus).
// SIGTERM or SIGINT drains the requests in flight, then exits. Run with
// -h for every flag; package serve documents the protocol.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/implicit-ml/implicit/cmd/serve/internal/served"
	"github.com/implicit-ml/implicit/serve"
	"github.com/implicit-ml/implicit/train/experiments"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case experiments.UsageError(err):
		fmt.Fprintln(os.Stderr, "usage error:", err)
		fmt.Fprintln(os.Stderr, "run 'go run ./cmd/serve -h' for the flags")
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// config is the typed command line.
type config struct {
	run, model, addr string
	server           serve.Config
	drain            time.Duration
}

// Validate checks what the flags cannot: a run folder is given.
func (c *config) Validate() error {
	if c.run == "" {
		return experiments.Usage(errors.New("-run is required: the folder of a run of go run ./cmd/train (for example runs/classify-serve)"))
	}
	if c.drain <= 0 {
		return experiments.Usage(fmt.Errorf("-drain %v must be positive", c.drain))
	}
	return nil
}

func parse(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.run, "run", "", "run folder written by cmd/train (holds run.json and checkpoints/)")
	fs.StringVar(&c.model, "model", "", "model of the run to serve (default: its implicit model)")
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.IntVar(&c.server.MaxBatch, "max-batch", serve.DefaultMaxBatch, "largest batch of samples solved together (1: no batching)")
	fs.DurationVar(&c.server.MaxWait, "max-wait", serve.DefaultMaxWait, "longest a sample waits for its batch to fill")
	fs.IntVar(&c.server.Workers, "workers", 1, "batches solved at once")
	fs.Int64Var(&c.server.MaxBodyBytes, "max-body", serve.DefaultMaxBodyBytes, "largest request body, in bytes")
	fs.IntVar(&c.server.MaxSamples, "max-samples", serve.DefaultMaxSamples, "most inputs in one request")
	fs.IntVar(&c.server.MaxIterations, "max-iter", serve.DefaultMaxIterations, "largest iterations or max_iter a budget may ask")
	fs.DurationVar(&c.server.MaxDeadline, "max-deadline", serve.DefaultMaxDeadline, "longest deadline_ms a budget may give")
	fs.DurationVar(&c.drain, "drain", 30*time.Second, "on SIGTERM, how long the requests in flight may take to finish")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, experiments.Usage(err)
	}
	if fs.NArg() > 0 {
		return nil, experiments.Usage(fmt.Errorf("unexpected arguments %v", fs.Args()))
	}
	return c, c.Validate()
}

// run loads the model, serves until ctx ends, then drains. ready, when
// set, receives the address once the server listens (for tests).
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready chan<- string) error {
	c, err := parse(args, stderr)
	if err != nil {
		return err
	}
	l, err := experiments.LoadModel(c.run, experiments.LoadOptions{Model: c.model, Solver: serve.WrapSolver})
	if err != nil {
		return err
	}
	if !l.Finished {
		fmt.Fprintf(stderr, "warning: %s stopped during training (epoch %d, step %d): serving its last checkpoint\n", l.Checkpoint, l.Epoch, l.Step)
	}
	m := served.Model(l)
	srv, err := serve.New(m, c.server)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		srv.Shutdown(context.Background())
		return fmt.Errorf("serve: %w", err)
	}
	fmt.Fprintf(stdout, "serving %s (%s run %s, input %v, output %v, per-sample budgets %v, contraction bound %s) on http://%s\n",
		l.Model.Name(), l.Experiment, c.run, l.Input, l.Output, m.Budgeted, bound(m), ln.Addr())
	if ready != nil {
		ready <- ln.Addr().String()
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		srv.Shutdown(context.Background())
		return err
	case <-ctx.Done():
	}
	fmt.Fprintln(stdout, "draining the requests in flight")
	dctx, cancel := context.WithTimeout(context.Background(), c.drain)
	defer cancel()
	err = srv.Shutdown(dctx)
	if serr := <-served; err == nil {
		err = serr
	}
	return err
}

func bound(m serve.Model) string {
	if m.Mu > 0 && m.Mu < 1 {
		return fmt.Sprintf("μ = %.3g (%s-norm)", m.Mu, m.MuNorm)
	}
	if m.Mu >= 1 {
		return fmt.Sprintf("μ ≤ %.3g, not a contraction: no error bounds", m.Mu)
	}
	return "unknown"
}
