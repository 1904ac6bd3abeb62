//go:build amd64 && !purego && !openblas

package linalg

import "golang.org/x/sys/cpu"

// hasFMA selects the AVX2+FMA float32 product kernel; hasAVX512 the
// AVX-512 one for the 8 × 32 tiles it covers.
var (
	hasFMA    = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	hasAVX512 = hasFMA && cpu.X86.HasAVX512F
)

//go:noescape
func sgemm4x16(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int)

//go:noescape
func sgemm1x16(k int, a *float32, b *float32, ldb int, c *float32)

//go:noescape
func sgemm8x32(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int)
