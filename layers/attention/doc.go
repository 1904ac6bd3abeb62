// Package attention is the transformer family of the framework in package
// layers: the pieces of a recurrent-depth transformer (Huginn, Geiping et
// al. 2025) — a prelude of explicit blocks, one weight-tied core iterated
// r times with the prelude's output injected at every step, a coda and
// the logits — for small synthetic reasoning tasks.
//
//   - Embedding: token ids (B, T) → rows of a learned (V, D) table;
//     PositionEmbedding adds a learned (T, D) table (optional: the
//     attention's rotary encoding already carries positions).
//   - RMSNorm: x/√(mean(x²)+ε) ⊙ gain, one fused op (NormRMS).
//   - Attention: causal multi-head self-attention with rotary positions;
//     the core — RoPE, scores, causal softmax, weighted sum — is one op
//     (CausalSelfAttention) with a hand-written backward.
//   - MLP: D → Hidden → D with SiLU or GELU, optionally gated (Huginn's
//     SwiGLU); the nonlinearities differentiate from their input, which
//     layers' fused ops (φ' from φ's output) cannot.
//   - Block: pre-norm, or Huginn's sandwich norm.
//   - CoreCell: the recurrent core as a layers.Cell, for layers.Unrolled
//     (Huginn's r iterations) or an implicit layer (the fixed point).
//   - RecurrentDepth: the whole model — embedding, prelude, the core as an
//     implicit layer (exactly r iterations, or solved for its fixed
//     point), coda, logits — trained by truncated backpropagation through
//     its last Backprop iterations; Recurrence draws each training
//     batch's r from Huginn's heavy-tailed sampler.
//   - Transformer: the untied baseline, Depth blocks with their own
//     parameters.
//
// # Truncated backpropagation
//
// A training graph of RecurrentDepth holds the implicit layer and
// Backprop−1 more applications of the core. The layer runs its first
// iterations inside its op and applies the core once in the graph; its
// gradient mode is JFB, which treats the iterate entering that
// application as a constant. So the gradient is exactly
// backpropagation through the last Backprop iterations, the earlier
// ones cut off (Huginn's scheme), and a graph built once serves every r ≥
// Backprop: r is the layer's run-time Controls.Iterations plus
// Backprop−1 (RecurrentDepth.SetRecurrence). TestRecurrentDepthTruncated
// checks the gradient against a graph fed z_{r−k} as a constant, and the
// output against r unrolled iterations.
//
// # Shapes
//
// Activations are (B·T, D) matrices: one row per token, batch-major (row
// b·T + t is token t of sequence b), B and T fixed per graph. The ids
// are a float tensor (B, T) of integers in the model's dtype. Cells see
// one row per sequence instead, (B, T·D), because the solvers treat rows
// as independent problems and attention mixes a sequence's tokens;
// ToState and ToTokens convert (a reshape: the memory layout is the
// same).
//
// # Gradients
//
// Every op has an exact hand-written derivative as ops (SymDiff, for the
// TapeMachine) and on values (DoDiff, for the LispMachine), float32 and
// float64 kernels, and is checked against central differences in
// float64; the attention core also against a naive implementation, and
// causality bit for bit. The derivatives are not differentiated again,
// so the Jacobian penalty (layers.JacobianVJPer) is not available for the
// core. Attention keeps no weights between the passes: its backward op
// recomputes them from [Q | K | V], memory O(B·H·T²) per pass.
//
// # The core's kernels
//
// CoreCell's numeric kernels are layers.NewCell's private graphs of the
// same ops (BenchmarkCoreCellKernel). At B = T = 32, D = 64 with one
// sandwich block, Eval costs what the block's forward pass costs in a
// main graph: the builder adds no measurable overhead. VJP reruns the
// forward pass and the whole backward pass, parameter gradients included
// (Gorgonia compiles every node SymDiff creates), about four Evals; a
// hand-written VJP that kept Linearize's activations and skipped the
// parameter gradients would cost well under half of that. Only the adjoint
// solves of IFT training would feel it: Huginn-style training unrolls
// the core (layers.Unrolled, Controls.Iterations), where the kernels are
// not used.
package attention
