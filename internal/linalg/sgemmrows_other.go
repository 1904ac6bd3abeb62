//go:build !amd64 || purego || openblas

package linalg

const hasRowsKernel = false

func sgemm8x32rows(k int, a *float32, lda int, b *float32, offs *int, c *float32, ldc int, bias *float32, relu int) {
}
