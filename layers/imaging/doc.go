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
//     G(y, x) = D((AᵀA + (β+λ)I)⁻¹(Aᵀx + βy)) with a learned β = e^ρ > 0
//     and an optional fixed Tikhonov weight λ ≥ 0 (Blur.HQSStepTikhonov).
//   - InitialStep: where either cell's learned step starts (the paper's
//     γ = 1 for PGD and β = 1/4 for HQS by default). At a fixed point the
//     data term's gradient balances the denoiser's residual divided by the
//     step, so a weak denoiser needs a smaller step than a strong one.
//
// Both cells take Aᵀx as their injection and iterate the same denoiser D,
// conv.ResCNN: their kernels iterate its numeric kernel
// (conv.ResCNNKernel), which is why this family imports package conv (the
// one import between families the architecture allows). D may take a
// learned noise level σ_D, as the paper's DRUNet does (conv.ResNoiseLevel:
// a constant map σ_D·1 as a second input channel). Trained from scratch at
// one noise level, σ_D adds little function: its channel adds a multiple
// of one fixed pattern to the first layer's output, which that layer's bias
// already spans away from the zero-padded border. The map does not depend
// on y, so it leaves the cells' Lipschitz bounds in y unchanged.
package imaging
