//go:build amd64 && !purego && !openblas

package linalg

import "golang.org/x/sys/cpu"

// hasRowsKernel selects SgemmRows' AVX-512 kernel. The OpenBLAS build
// cannot have it: a package that uses cgo may hold no Go assembly, so that
// build convolves through im2col and OpenBLAS's products.
var hasRowsKernel = cpu.X86.HasAVX512F

//go:noescape
func sgemm8x32rows(k int, a *float32, lda int, b *float32, offs *int, c *float32, ldc int, bias *float32, relu int)
