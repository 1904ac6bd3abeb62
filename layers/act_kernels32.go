package layers

import (
	"math"

	"github.com/implicit-ml/implicit/internal/vecmath"
)

// Branch-free float32 forms of the ReLU forward pass and of the
// activation gradients with their subnormal flush fused in: on data whose
// signs are random the branches of the generic loops mispredict about half
// the time, and the separate flush pass reads the result again. They give
// the generic loops' results bit for bit (NaN → 0 in ReLU, ±0 → +0). ReLU
// and its gradient run in package vecmath (vector kernels).

// normal is all ones unless bits is a zero or subnormal float32.
func normal(bits uint32) uint32 {
	var m uint32
	if bits&0x7f800000 != 0 {
		m = ^uint32(0)
	}
	return m
}

// relu32 replaces x by max(x, 0), NaN by 0: vecmath.ReLU, eight at a
// time where the CPU allows.
func relu32(x []float32) { vecmath.ReLU(x) }

// actGradFromOutput32 is actGradFromOutput for float32 identity, tanh
// and ReLU; it reports false for the other activations.
func actGradFromOutput32(a Activation, s, y, g []float32) bool {
	switch a {
	case Identity:
		for i, v := range g {
			b := math.Float32bits(v)
			s[i] = math.Float32frombits(b & normal(b))
		}
	case Tanh:
		y = y[:len(s)]
		g = g[:len(s)]
		for i, v := range y {
			b := math.Float32bits(g[i] * (1 - v*v))
			s[i] = math.Float32frombits(b & normal(b))
		}
	case ReLU:
		vecmath.ReLUGrad(s, y, g)
	default:
		return false
	}
	return true
}
