//go:build !openblas

package linalg

// Backend names the BLAS in use: gonum's pure-Go implementation, the
// default, which needs nothing installed. Build with -tags openblas for
// OpenBLAS.
const Backend = "gonum"

// splitRows is off: gonum parallelises large products itself.
const splitRows = false

// Kernel names the implementation's CPU kernel.
func Kernel() string { return "pure Go (gonum)" }

// useFastSgemm routes float32 products to the AVX2+FMA tiles (sgemm.go).
const useFastSgemm = true
