// Package memtest measures the memory a compiled training step holds
// between steps, for the memory tests and benchmarks of package layers and
// its model families: an implicit layer keeps one application of its cell
// for the backward pass, whatever the number of forward and adjoint
// iterations, so the bytes a step holds must not grow with the iteration
// cap, where an unrolled twin's grow with its depth.
//
// Held measures the live heap a value keeps (two collections before and
// after, as machines have finalizers); Compile builds one training step —
// gradients, a tape machine, Adam — from a Build; Check measures an
// implicit model and its unrolled twin at a low and a high cap and
// reports a step that is not flat (Measure.Problems), and Benchmark
// reports the held bytes of each cap as the metric held-B next to the
// step's time and allocations.
//
// Held bytes are what a step keeps alive, not its peak: buffers a solve
// allocates and drops (a Krylov basis, Anderson's history) are freed by
// the next collection. B/op in the benchmarks counts them.
package memtest
