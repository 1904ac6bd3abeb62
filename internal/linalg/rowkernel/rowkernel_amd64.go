//go:build amd64 && !purego

package rowkernel

import "golang.org/x/sys/cpu"

// Available reports whether Sgemm8x32 runs here: an amd64 CPU with
// AVX-512 and a build without the purego tag.
var Available = cpu.X86.HasAVX512F

// Sgemm8x32 adds A[0:8, 0:k]·B to C[0:8, 0:32] (row strides lda and ldc in
// values), row kk of B being the 32 values at byte offset offs[kk] from b.
// With bias not nil, C is not read: row i starts at bias[i]; with relu not
// zero the tile is clamped at zero before it is stored. Only where
// Available.
//
//go:noescape
func Sgemm8x32(k int, a *float32, lda int, b *float32, offs *int, c *float32, ldc int, bias *float32, relu int)
