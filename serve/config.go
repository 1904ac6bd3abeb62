package serve

import (
	"fmt"
	"time"
)

// Config configures a Server. Its zero value batches up to 32 samples,
// waiting at most 2 ms for a batch to fill, with one worker.
type Config struct {
	// MaxBatch is the largest batch a solve runs (samples of concurrent
	// requests together); zero means 32, and 1 turns batching off.
	MaxBatch int
	// MaxWait is how long the first sample of a batch waits for others
	// before the batch runs anyway; zero means 2 ms. A batch that is full,
	// or whose first sample waited while the workers were busy, runs at
	// once.
	MaxWait time.Duration
	// Workers is the number of batches solved at once, each with its own
	// graphs; zero means 1.
	Workers int
	// MaxBodyBytes bounds a request body; zero means 8 MiB. A larger body
	// is refused with 413.
	MaxBodyBytes int64
	// MaxSamples bounds the inputs of one request; zero means 256.
	MaxSamples int
	// MaxIterations bounds a budget's iterations and max_iter; zero means
	// 1000.
	MaxIterations int
	// MaxDeadline bounds a budget's deadline_ms; zero means one minute.
	MaxDeadline time.Duration
}

// Defaults of a zero Config.
const (
	DefaultMaxBatch      = 32
	DefaultMaxWait       = 2 * time.Millisecond
	DefaultMaxBodyBytes  = 8 << 20
	DefaultMaxSamples    = 256
	DefaultMaxIterations = 1000
	DefaultMaxDeadline   = time.Minute
)

// resolved fills in the defaults and checks the values.
func (c Config) resolved() (Config, error) {
	switch {
	case c.MaxBatch < 0, c.Workers < 0, c.MaxBodyBytes < 0, c.MaxSamples < 0, c.MaxIterations < 0, c.MaxWait < 0, c.MaxDeadline < 0:
		return c, fmt.Errorf("serve: negative setting in %+v; every limit is ≥ 0 (0: the default)", c)
	case c.MaxBatch > 1<<12:
		return c, fmt.Errorf("serve: MaxBatch %d is above 4096; one graph is compiled per power of two up to it", c.MaxBatch)
	}
	c.MaxBatch = or(c.MaxBatch, DefaultMaxBatch)
	c.Workers = or(c.Workers, 1)
	c.MaxSamples = or(c.MaxSamples, DefaultMaxSamples)
	c.MaxIterations = or(c.MaxIterations, DefaultMaxIterations)
	c.MaxBodyBytes = or(c.MaxBodyBytes, DefaultMaxBodyBytes)
	c.MaxWait = or(c.MaxWait, DefaultMaxWait)
	c.MaxDeadline = or(c.MaxDeadline, DefaultMaxDeadline)
	return c, nil
}

func or[T int | int64 | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}
