// Package opkit is the shared machinery of this module's custom Gorgonia
// ops, so that an op's file holds only what is particular to it (its
// output shape, kernel and derivatives):
//
//   - Base answers the Op methods every op answers the same way — arity,
//     type, output shape, the three memory flags, hash and name — from
//     values fixed when the op is built, and owns the op's reusable output
//     tensor;
//   - Dispatch is the one float32/float64 switch, and Do the whole Do
//     method of an op whose kernels write into its output buffer;
//   - Data reads a value's backing slice with its element type checked;
//   - AccumulateGrad adds a gradient contribution in the DoDiff methods the
//     LispMachine calls;
//   - Cache memoises kernels by a string key, ShapesKey builds such keys,
//     FlushSubnormal and NewTensor are the small numeric helpers ops share.
//
// An op's hash is its Key: two nodes whose ops have equal keys and equal
// children are merged by Gorgonia's hash-consing, so a key holds every
// static setting that changes what the op computes (and a layer's identity
// where two layers must stay two nodes), never run-time state.
package opkit
