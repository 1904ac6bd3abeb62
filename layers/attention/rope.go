package attention

import (
	"fmt"
	"math"

	"github.com/implicit-ml/implicit/internal/opkit"
)

// DefaultRoPEBase is the base of the rotary angles when a configuration
// leaves it zero (RoFormer's and Huginn's).
const DefaultRoPEBase = 10000

// ropeTable holds the rotary position encoding of one head width: the
// cosines and sines of the angles t·θ_i, θ_i = base^(−2i/dh), for
// positions t < T and pairs i < dh/2, as (T, dh/2) row-major tables. Pair
// i is the interleaved pair of coordinates (2i, 2i+1) (RoFormer's and
// Huginn's layout), rotated as the complex number x_{2i} + i·x_{2i+1}.
// A nil table is no rotation.
type ropeTable struct {
	half     int
	cos, sin []float64
}

// newRopeTable returns the table for seqLen positions and head width
// headDim (even), or nil when base is 0 (no rotation).
func newRopeTable(seqLen, headDim int, base float64) *ropeTable {
	if base == 0 {
		return nil
	}
	half := headDim / 2
	r := &ropeTable{half: half, cos: make([]float64, seqLen*half), sin: make([]float64, seqLen*half)}
	for i := range half {
		theta := math.Pow(base, -2*float64(i)/float64(headDim))
		for t := range seqLen {
			r.cos[t*half+i], r.sin[t*half+i] = math.Cos(float64(t)*theta), math.Sin(float64(t)*theta)
		}
	}
	return r
}

// checkRoPE validates a RoPE base for a head width.
func checkRoPE(base float64, headDim int) error {
	switch {
	case base < 0 || math.IsNaN(base) || math.IsInf(base, 0):
		return fmt.Errorf("attention: RoPE base %v must be positive (or 0 for no rotation)", base)
	case base > 0 && headDim%2 != 0:
		return fmt.Errorf("attention: RoPE rotates pairs of coordinates, so the head width must be even, got %d; change Dim or Heads, or set NoRoPE", headDim)
	}
	return nil
}

// rotate writes scale·R(t)x into dst for one head vector x at position t:
// R(t) turns pair i by the angle t·θ_i. x and dst hold dh values and may
// not overlap.
func rotate[T opkit.Float](r *ropeTable, dst, x []T, t int, scale T) {
	turn(r, dst, x, t, scale, 1)
}

// rotateBack writes scale·R(t)ᵀx, the inverse rotation (R(t) is
// orthogonal), into dst: the adjoint of rotate, which carries gradients
// back through it.
func rotateBack[T opkit.Float](r *ropeTable, dst, x []T, t int, scale T) {
	turn(r, dst, x, t, scale, -1)
}

// turn is rotate (sign 1) or rotateBack (sign −1): R(t)ᵀ turns each pair
// by the opposite angle, so only the sines change sign.
func turn[T opkit.Float](r *ropeTable, dst, x []T, t int, scale, sign T) {
	if r == nil {
		for j, v := range x {
			dst[j] = scale * v
		}
		return
	}
	cs, sn := r.cos[t*r.half:(t+1)*r.half], r.sin[t*r.half:(t+1)*r.half]
	for i := range r.half {
		c, s := T(cs[i]), sign*T(sn[i])
		a, b := x[2*i], x[2*i+1]
		dst[2*i] = scale * (a*c - b*s)
		dst[2*i+1] = scale * (a*s + b*c)
	}
}
