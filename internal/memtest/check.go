package memtest

import (
	"fmt"
	"math"
	"testing"
)

// FlatTol is how far the held bytes of an implicit step at the high cap
// may exceed those at the low cap, as a fraction of the low cap's: wide
// enough for the heap's rounding and narrow enough that one more iterate
// kept per iteration leaves it. The bound is one-sided: the bug it guards
// against is memory that grows with the cap, and a high cap that holds
// less than the low one is the runtime's noise on the low measurement (the
// clean-clone CI once measured 0.90x), not a layer keeping its iterates.
const FlatTol = 0.1

// MinGrowth is the factor by which the unrolled twin's held bytes must
// grow from the low to the high depth: growth well outside FlatTol's band
// shows that the measurement sees the memory of the iterations at all.
const MinGrowth = 1.5

// Measure is what Check measured: the held bytes of a training step of
// the implicit model at iteration caps Low and High and of its unrolled
// twin at depths Low and High.
type Measure struct {
	Low, High    int
	ImplicitLow  float64
	ImplicitHigh float64
	UnrolledLow  float64
	UnrolledHigh float64
}

// Problems returns what breaks the claim that implicit training memory is
// flat in the iteration cap: the implicit step's bytes at the high cap
// exceed the low cap's by more than FlatTol, the unrolled twin's do not grow by MinGrowth (the measurement
// would not see the iterations' memory), or the twin at the high depth
// holds less than the implicit model.
func (m Measure) Problems() []string {
	var out []string
	if r := m.ImplicitHigh / m.ImplicitLow; !(r <= 1+FlatTol) {
		out = append(out, fmt.Sprintf("implicit model: cap %d holds %.2fx cap %d's bytes, want at most %.0f%% more", m.High, r, m.Low, 100*FlatTol))
	}
	if !(m.UnrolledHigh >= MinGrowth*m.UnrolledLow) {
		out = append(out, fmt.Sprintf("unrolled twin: depth %d holds only %.2fx depth %d's bytes, want ≥ %gx: the measurement does not see the iterations", m.High, m.UnrolledHigh/m.UnrolledLow, m.Low, MinGrowth))
	}
	if !(m.UnrolledHigh >= m.ImplicitHigh) {
		out = append(out, fmt.Sprintf("the unrolled twin at depth %d holds less than the implicit model (%.0f < %.0f bytes)", m.High, m.UnrolledHigh, m.ImplicitHigh))
	}
	return out
}

// String is the measurement for a test log.
func (m Measure) String() string {
	return fmt.Sprintf("bytes held by a training step: implicit cap %d/%d: %.0f / %.0f (%.3fx); unrolled depth %d/%d: %.0f / %.0f (%.2fx)",
		m.Low, m.High, m.ImplicitLow, m.ImplicitHigh, m.ImplicitHigh/m.ImplicitLow, m.Low, m.High, m.UnrolledLow, m.UnrolledHigh, m.UnrolledHigh/m.UnrolledLow)
}

// Check measures the training step of implicit(cap) and of its unrolled
// twin unrolled(depth) at low and high, logs the bytes and fails the test
// with Measure.Problems.
func Check(t testing.TB, low, high int, implicit, unrolled func(int) Build) Measure {
	t.Helper()
	m := Measure{Low: low, High: high}
	// A first step allocates what lives for the process (pools, kernel
	// tables, caches of the packages): build one and drop it, so that it
	// is not counted against the first measurement.
	if _, err := HeldByStep(implicit(low)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		dst   *float64
		build Build
	}{
		{&m.ImplicitLow, implicit(low)}, {&m.ImplicitHigh, implicit(high)},
		{&m.UnrolledLow, unrolled(low)}, {&m.UnrolledHigh, unrolled(high)},
	} {
		// The fewest bytes of three measurements: the runtime's own
		// allocations or a collection landing mid-measurement add noise
		// to one of them, while a layer that keeps its iterates holds
		// more in every one.
		*c.dst = math.Inf(1)
		for range 3 {
			held, err := HeldByStep(c.build)
			if err != nil {
				t.Fatal(err)
			}
			*c.dst = math.Min(*c.dst, held)
		}
	}
	t.Log(m)
	for _, p := range m.Problems() {
		t.Error(p)
	}
	return m
}

// Benchmark runs one sub-benchmark per cap for the implicit model
// (implicit/cap=N) and per depth for its unrolled twin (unrolled/K=N; none
// when unrolled is nil): each reports the bytes its step holds (held-B)
// next to the time and allocations of a step.
func Benchmark(b *testing.B, caps []int, implicit, unrolled func(int) Build) {
	for _, c := range caps {
		b.Run(fmt.Sprintf("implicit/cap=%d", c), func(b *testing.B) { benchStep(b, implicit(c)) })
	}
	if unrolled == nil {
		return
	}
	for _, c := range caps {
		b.Run(fmt.Sprintf("unrolled/K=%d", c), func(b *testing.B) { benchStep(b, unrolled(c)) })
	}
}

func benchStep(b *testing.B, build Build) {
	held, err := HeldByStep(build)
	if err != nil {
		b.Fatal(err)
	}
	s, err := Compile(build)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.Run(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer() // also deletes metrics reported before it
	for range b.N {
		if err := s.Run(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(held, "held-B")
}
