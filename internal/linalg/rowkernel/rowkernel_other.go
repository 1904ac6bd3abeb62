//go:build !amd64 || purego

package rowkernel

// Available is false: this build has no kernel.
const Available = false

// Sgemm8x32 does nothing here (Available is false).
func Sgemm8x32(k int, a *float32, lda int, b *float32, offs *int, c *float32, ldc int, bias *float32, relu int) {
}
