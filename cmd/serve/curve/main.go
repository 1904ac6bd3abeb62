// Command curve measures a served classifier's test accuracy against the
// deadline its requests give (deadline_ms): the paper's accuracy against
// test-time compute, as a service-level trade-off. It serves the run's
// model in process on a loopback port, sends the test images from
// concurrent clients, one image per request, at each deadline, and
// writes serve-accuracy-deadline.png, serve-latency-deadline.png and
// serve-deadline.json into -out. Each deadline is measured twice: with the
// model's solver (Anderson for the classify DEQ), and with plain
// iterations (-plain), whose iterates are y_t.
//
//	go run ./cmd/serve/curve -run runs/classify-serve -out docs/figures
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/implicit-ml/implicit/cmd/serve/internal/served"
	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/serve"
	"github.com/implicit-ml/implicit/train/experiments"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case experiments.UsageError(err):
		fmt.Fprintln(os.Stderr, "usage error:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// config is the typed command line.
type config struct {
	run, out  string
	n         int
	clients   int
	deadlines []float64
	plain     int
	server    serve.Config
}

func parse(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	var deadlines string
	fs := flag.NewFlagSet("curve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.run, "run", "", "run folder of a classify run (cmd/train -out)")
	fs.StringVar(&c.out, "out", "docs/figures", "folder for the figures and serve-deadline.json")
	fs.IntVar(&c.n, "n", 2000, "test images per deadline")
	fs.IntVar(&c.clients, "clients", 8, "concurrent clients")
	fs.StringVar(&deadlines, "deadlines", "0.25,0.5,1,2,4,8,16,32", "deadline_ms values, comma-separated")
	fs.IntVar(&c.plain, "plain", 30, "also measure each deadline with plain iterations (Picard, at most this many; 0: not)")
	fs.IntVar(&c.server.MaxBatch, "max-batch", 32, "the server's largest batch")
	fs.DurationVar(&c.server.MaxWait, "max-wait", time.Millisecond, "the server's batch wait")
	fs.IntVar(&c.server.Workers, "workers", 1, "the server's workers (batches solved at once)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, experiments.Usage(err)
	}
	for _, f := range strings.Split(deadlines, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || !(v > 0) {
			return nil, experiments.Usage(fmt.Errorf("-deadlines: %q is not a positive number of milliseconds", f))
		}
		c.deadlines = append(c.deadlines, v)
	}
	switch {
	case c.run == "":
		return nil, experiments.Usage(errors.New("-run is required: a classify run folder"))
	case c.n <= 0 || c.clients <= 0:
		return nil, experiments.Usage(fmt.Errorf("-n %d and -clients %d must be positive", c.n, c.clients))
	case c.plain < 0 || c.plain > serve.DefaultMaxIterations:
		return nil, experiments.Usage(fmt.Errorf("-plain %d is out of range: 0 to %d", c.plain, serve.DefaultMaxIterations))
	}
	return c, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parse(args, stderr)
	if err != nil {
		return err
	}
	l, err := experiments.LoadModel(c.run, experiments.LoadOptions{Solver: serve.WrapSolver})
	if err != nil {
		return err
	}
	if l.Experiment != "classify" {
		return experiments.Usage(fmt.Errorf("%s is a %s run; the curve needs a classify run", c.run, l.Experiment))
	}
	test, err := testImages(l.Settings, c.n)
	if err != nil {
		return err
	}
	srv, err := serve.New(served.Model(l), c.server)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Shutdown(ctx)
		return err
	}
	go srv.Serve(ln)
	defer srv.Shutdown(ctx)
	base := "http://" + ln.Addr().String() + "/v1/predict"
	var points []point
	for _, b := range budgets(c.deadlines, c.plain) {
		p, err := measure(ctx, base, test, b, c.clients)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "%s: accuracy %.4f, mean iterations %.1f, latency p50 %.2f ms p99 %.2f ms\n", p.Label, p.Accuracy, p.MeanIterations, p.P50ms, p.P99ms)
		points = append(points, p)
	}
	if err := write(c.out, l, c, points); err != nil {
		return err
	}
	table(stdout, points)
	return nil
}

// testImages loads the run's test images, standardised as the classify
// experiment standardises them (the training set's mean and deviation).
func testImages(s experiments.Settings, n int) (*datasets.Labeled, error) {
	all, test, err := datasets.Load(s.Dataset, s.DataDir)
	if err != nil {
		return nil, err
	}
	mean, std := all.MeanStd()
	test.Standardize(mean, std)
	return test.Head(min(n, test.Len())), nil
}
