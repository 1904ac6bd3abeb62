// Package rowkernel holds the AVX-512 tile kernel behind
// linalg.SgemmRows: C[0:8, 0:32] += A[0:8, 0:k]·B with the rows of B
// gathered through an offset table (a convolution's shifted windows read
// in place from a padded image).
//
// It is a package of its own because a Go package that uses cgo may hold
// no Go assembly: linalg's OpenBLAS build uses cgo, and keeping the kernel
// here lets that build convolve without im2col as the default build does.
// Callers go through linalg.SgemmRows, which checks the shapes; this
// package checks nothing.
package rowkernel
