// Package fourier is the Fourier-neural-operator family of the framework
// in package layers.
//
//   - SpectralConv: the spectral convolution K of an FNO on S×S grids —
//     truncated 2-D DFT, a complex mixing of the lowest modes, the inverse
//     real transform — with its transpose and weight gradient as ops (so
//     vᵀJ of a cell built on it differentiates once more).
//   - FourierBlock: φ(Kv + vW + b), one Fourier layer.
//   - FNOCell: z = φ(Kz + zW + v + b) with the lifted input v injected at
//     every iteration, with hand-written kernels and vᵀJ (layers.JacobianVJPer).
//   - FNO: the frame around a body — the lift of (input, x, y) to the width
//     and the two-layer projection back.
//
// Constructors take the scope the parameters live in (NewFNOCell(s, …)).
package fourier
