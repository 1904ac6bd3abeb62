//go:build !amd64 || purego || openblas

package linalg

const (
	hasFMA    = false
	hasAVX512 = false
)

func sgemm4x16(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int) {}

func sgemm1x16(k int, a *float32, b *float32, ldb int, c *float32) {}

func sgemm8x32(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int) {}
