// Package deq is the numerical core of implicit (deep-equilibrium) models.
//
// It solves batches of independent fixed-point problems z = F(z), computes
// adjoint vectors for their gradients, and provides the stability tools and
// the empirical Lipschitz estimator the experiments report. It knows nothing
// of models or Gorgonia graphs: every map is a callback on flat, row-major
// buffers holding Batch samples of Dim values each, in float32 or float64.
//
// # Three separable values
//
// A solve is described by three independent values, in the manner of
// optimistix:
//
//   - the Solver (Picard, Anderson, Broyden) that finds z* = F(z*);
//   - the Stop rule (absolute or relative residual per sample, MaxIter);
//   - the Backward mode (IFT, JFB, Phantom, Unrolled) that turns an incoming
//     gradient g into the adjoint vector u used by the implicit function
//     theorem: u = g + J_F(z*)ᵀ u.
//
// Settings are plain structs whose zero value is the documented default, so
// deq.Anderson{} is a sensible solver and deq.IFT{} an exact gradient mode.
//
// # Termination is data
//
// Every solve returns a Result holding the solution (the best iterate per
// sample, by residual), a Status and Stats (iterations, per-sample residuals,
// the residual trace). Non-convergence, divergence and NaN/Inf are statuses;
// Result.Err turns them into an error that says what to do. Nothing in this
// package panics on numerical trouble.
//
// # Batches
//
// Rows of a batch are independent problems: solvers keep per-sample memory
// (Anderson coefficients, Broyden updates, GMRES Krylov bases) and per-sample
// stopping. A sample that has converged keeps its iterate while the others
// continue; F is still evaluated on the whole batch, because the maps of
// interest are batched matrix products whose cost barely depends on how many
// rows are live.
package deq
