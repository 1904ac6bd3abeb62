// Package linalg holds the dense kernels the built-in cells share, generic
// over float32 and float64 and dispatched to gonum's BLAS (blas32/blas64),
// so that a faster implementation installed with blas64.Use / blas32.Use
// (see the openblas build tag) serves them too.
package linalg
