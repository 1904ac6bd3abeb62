// Package conv is the convolutional model family of the framework in
// package layers.
//
//   - Conv2D: a K×K convolution on NCHW images (im2col and one product per
//     sample), with an optional bound on its operator norm that Project
//     enforces (ConvBound), the data gradient as a flipped convolution and
//     a fused bias and activation.
//   - ResCNN: the residual CNN denoiser D(u) = skip·u + N(u) of the
//     deblurring workload, with Lipschitz control (ResLipschitz, ResSkip);
//     ResCNNKernel evaluates it and its input VJP on flat buffers for cells
//     built on it (imaging.PGDCell).
//   - ConvCell: a weight-tied causal 1-D convolution over sequences, the
//     looped cell of the reasoning workload, with hand-written kernels and
//     the vᵀJ the Jacobian penalty needs (layers.JacobianVJPer).
//
// Constructors take the scope the parameters live in (NewConv2D(s, …));
// every op is checked against central finite differences in float64.
package conv
