// Package layers builds explicit and implicit models in Gorgonia graphs.
//
// Explicit layers (Dense, Flatten, Sequential, activations, losses) are
// compositions of Gorgonia ops. An implicit layer is a Gorgonia op whose
// forward pass solves a fixed point z* = f(z*, inj; θ) with a deq solver
// and whose backward pass solves the adjoint system of the implicit
// function theorem. Both kinds live in one graph, train with Gorgonia's
// optimizers and are compared side by side by package train.
//
// # How the implicit op is wired
//
// Implicit.Fwd(inj) adds three nodes:
//
//	z*  = DEQSolve(inj, θ)         solved by deq; not differentiated
//	fz  = f(z*, inj; θ)            the cell applied once, in the graph
//	out = DEQHook(fz, z*, inj, θ)  identity forward
//
// Gorgonia differentiates fz with respect to inj and θ as usual. The hook's
// derivative replaces the incoming gradient g by the adjoint vector u of
// the Backward mode — for IFT the solution of u = g + J_f(z*)ᵀu — so the
// gradients that reach inj and θ are uᵀ∂f/∂inj and uᵀ∂f/∂θ. Training
// memory is one application of f, whatever the iteration count; the output
// is f(z*), one more iteration than the solver's best iterate.
//
// The op's hash holds the layer's identity and static configuration only,
// so two layers with the same settings stay two nodes; statistics,
// run-time controls and kernel caches live behind pointers.
//
// # Cells
//
// A Cell provides f twice: as graph ops (Apply) and as numeric kernels
// (Kernel64/Kernel32) that the solves call on flat buffers. NewCell turns
// any Builder written with differentiable Gorgonia ops into a cell; its
// kernels are private graphs compiled once per (dtype, shapes) and cached.
// DenseCell — φ(zW + inj + b) — has hand-written kernels; ElGhaouiCell is
// El Ghaoui's well-posed form with the ∞-norm projection, and WithReparam
// applies a WeightNorm, SpectralNorm or Monotone (monDEQ) weight. Cells of
// other model families (convolutional, Fourier, graph, imaging) live in
// their own packages below this one and are built from what this package
// exports: the Cell and Kernel interfaces, the fused Affine and MatMul
// ops, Activate and ActivationGrad, and the checks CheckCellKernel and
// CheckJacobianVJP.
//
// The unrolled twin of any implicit layer is Unrolled{Cell, Steps}: the
// same cell applied Steps times in the graph, the explicit baseline whose
// memory grows with depth. IterateCell runs a cell's kernel t = 1 … T in
// one pass, for test-time curves.
//
// # Explicit layers
//
// Dense, Flatten, Sequential and the activations; the losses
// SoftmaxCrossEntropy, MSE and MaskedMSE. Each documents its shapes, and
// every one is checked against central finite differences in float64
// with CheckGradients, which is exported for the layers and cells users
// write.
//
// # Stability tools
//
// Implicit layers report their solves (Stats) and the spectral radius of
// J_f(z*) (SpectralRadius); ImplicitConfig.JacobianWeight adds the
// Hutchinson estimate of ‖J_f(z*)‖²_F to the loss for cells that can
// write vᵀJ_f with once-differentiable ops (JacobianVJPer: DenseCell here);
// Controls.WarmStart restarts each sample's solve from its last fixed
// point.
//
// # Anytime inference
//
// SetContext bounds an implicit layer's solves by a context; with
// Controls.Anytime a solve the context interrupts (a deadline, a
// cancellation) returns each sample's best iterate so far instead of
// failing, and Stats say how far it got (see ExampleImplicit_SetContext).
// For a budget per sample within one batch, give the layer a forward
// solver that calls deq.SolveBudgeted, as package serve's Solver does. A
// Contractive cell bounds its contraction factor μ (DenseCell: Lip(φ)·‖W‖₂
// by SVD); when μ < 1 the residual of any iterate z bounds the error of
// the layer's output, ‖f(z) − z*‖ ≤ μ/(1 − μ)·‖f(z) − z‖
// (Contraction.Bound).
//
// # Graph facts this package relies on
//
// Compile with G.Compile and pass WithPrecompiled, so compile errors are
// errors rather than panics; Reset a machine after every RunAll; use one
// graph per batch size (Scope.Rebind shares parameter values between
// them). Graphs, machines and layers are not safe for concurrent use.
package layers
