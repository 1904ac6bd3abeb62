// Package imaging is the image-reconstruction family of the framework in
// package layers.
//
//   - Blur: a fixed blur A with a circular boundary and its adjoint as
//     ops (each the other's gradient), on the kernels of internal/blur,
//     and Blur.HQSStep, the exact half-quadratic-splitting data step
//     (AᵀA + βI)⁻¹(Aᵀx + βy) in the Fourier basis, differentiable in y,
//     Aᵀx and log β.
//   - PGDCell: the plug-and-play proximal-gradient operator
//     G(y, x) = D(y − γ(Aᵀ(Ay − x) + λy)) with a learned step γ, kept in
//     the range that makes the step non-expansive.
//   - HQSCell: the plug-and-play HQS operator
//     G(y, x) = D((AᵀA + βI)⁻¹(Aᵀx + βy)) with a learned β = e^ρ > 0.
//
// Both cells take Aᵀx as their injection and iterate the same denoiser D,
// conv.ResCNN: their kernels iterate its numeric kernel
// (conv.ResCNNKernel), which is why this family imports package conv (the
// one import between families the architecture allows). D takes no
// noise-level input σ_D, as the paper's DRUNet does: a constant
// noise-level map entering D's first convolution would add a multiple of
// one fixed pattern to that layer's output, which its bias already spans
// away from the zero-padded border, so a learned σ_D would add a
// parameter and almost no function to a denoiser trained from scratch.
package imaging
