// Package imaging is the image-reconstruction family of the framework in
// package layers.
//
//   - Blur: a fixed blur A with a circular boundary and its adjoint as
//     ops (each the other's gradient), on the kernels of internal/blur.
//   - PGDCell: the plug-and-play proximal-gradient operator
//     G(y, x) = D(y − γ(Aᵀ(Ay − x) + λy)) with a learned step γ, kept in
//     the range that makes G non-expansive.
//
// The denoiser D is conv.ResCNN: PGDCell's kernels iterate its numeric
// kernel (conv.ResCNNKernel), which is why this family imports package
// conv (the one import between families the architecture allows).
package imaging
