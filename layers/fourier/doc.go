// Package fourier is the Fourier-neural-operator family of the framework
// in package layers.
//
//   - SpectralConv: the spectral convolution K of an FNO on S×S grids —
//     truncated 2-D DFT, a complex mixing of the lowest modes, the inverse
//     real transform — with its transpose and weight gradient as ops (so
//     vᵀJ of a cell built on it differentiates once more).
//   - FourierBlock: φ(Kv + vW + b), one Fourier layer of the Darcy
//     models; FNOCell: z = φ(Kz + zW + v + b) with the lifted input v
//     injected at every iteration, with hand-written kernels and vᵀJ
//     (layers.JacobianVJPer); FNO: their frame, the lift of (input, x, y)
//     to the width and the two-layer projection back.
//   - The FNO-DEQ of Marwah et al. (2023), the operator of the paper's
//     steady Navier–Stokes case study: FourierLayer, GELU(MLP(Kz) + zW +
//     b + inj) with a pointwise MLP; FourierStack, a block of such layers
//     sharing one injection — the implicit model's G, a layers.Cell with
//     hand-written kernels, and the block of the explicit baselines
//     (Untied: the FNO, or FNO++ with injection); Frame, the lift of the
//     input channels and coordinates, an output Fourier layer and a GELU
//     projection around a body.
//   - RelativeL2Loss, the operator-learning loss. The GELUs are
//     layers.FusedGELU (an op whose gradient takes GELU' from the
//     pre-activation) and, in the kernels, layers.EvalGELU.
//
// Constructors take the scope the parameters live in (NewFNOCell(s, …)).
package fourier
