// Package blur holds the forward operator of the deblurring workload: a
// fixed point-spread function applied to H×W images by circular
// convolution, its adjoint (correlation with the same kernel), and its
// singular values and vectors — with a circular boundary A is diagonal in
// the Fourier basis, so its singular vectors are Fourier modes and its
// singular values the magnitudes of the kernel's DFT.
//
// Both the data generator (datasets) and the differentiable operator
// (layers) use these kernels, so the measurements and the model's physics
// are the same numbers.
package blur
