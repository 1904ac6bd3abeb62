package layers

import (
	"math"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/vecmath"
)

// actForward replaces x by φ(x) in place.
func actForward[T deq.Float](a Activation, x []T) {
	f32 := isFloat32[T]()
	switch {
	case a == Identity:
	case a == Tanh && f32:
		vecmath.Tanh(any(x).([]float32))
	case a == Tanh:
		for i, v := range x {
			x[i] = T(math.Tanh(float64(v)))
		}
	case a == ReLU:
		for i, v := range x {
			if !(v > 0) {
				x[i] = 0
			}
		}
	case a == Sigmoid && f32:
		// σ(x) = ½ + ½·tanh(x/2), through the vector tanh.
		x32 := any(x).([]float32)
		for i := range x32 {
			x32[i] *= 0.5
		}
		vecmath.Tanh(x32)
		for i := range x32 {
			x32[i] = 0.5 + 0.5*x32[i]
		}
	default:
		for i, v := range x {
			y, _ := a.eval(float64(v))
			x[i] = T(y)
		}
	}
}

// actGradFromOutput writes g ⊙ φ'(x) into s, given y = φ(x); it exists
// for the activations whose derivative is a function of their output.
// Subnormal results are flushed to zero (see flushSubnormal).
func actGradFromOutput[T deq.Float](a Activation, s, y, g []T) {
	defer flushSubnormal(s)
	switch a {
	case Identity:
		copy(s, g)
	case Tanh:
		for i, v := range y {
			s[i] = g[i] * (1 - v*v)
		}
	case ReLU:
		for i, v := range y {
			if v > 0 {
				s[i] = g[i]
			} else {
				s[i] = 0
			}
		}
	case Sigmoid:
		for i, v := range y {
			s[i] = g[i] * v * (1 - v)
		}
	case Softplus:
		for i, v := range y {
			s[i] = g[i] * T(-math.Expm1(-float64(v)))
		}
	}
}

// derivFromOutput reports whether φ' can be computed from φ's output,
// which the fused ops need.
func (a Activation) derivFromOutput() bool {
	switch a {
	case Identity, Tanh, ReLU, Sigmoid, Softplus:
		return true
	}
	return false
}

func isFloat32[T deq.Float]() bool {
	_, ok := any(T(0)).(float32)
	return ok
}

// flushSubnormal sets subnormal values to zero. Gradients of long, strongly
// contractive unrolled passes decay into the subnormal range, where
// gonum's pure-Go matrix products run about 2x slower
// (BenchmarkDenormalGEMM in internal/linalg; OpenBLAS and the elementwise
// loops showed no penalty on this CPU). The values are below 1.2e-38 in
// float32, so dropping them changes nothing a gradient step can see; it
// is what torch.set_flush_denormal does in hardware. A value is subnormal
// (or zero) when its exponent bits are all zero; the test is one
// predictable branch per value.
func flushSubnormal[T deq.Float](s []T) {
	switch x := any(s).(type) {
	case []float32:
		for i, v := range x {
			if math.Float32bits(v)&0x7f800000 == 0 {
				x[i] = 0
			}
		}
	case []float64:
		for i, v := range x {
			if math.Float64bits(v)&0x7ff0000000000000 == 0 {
				x[i] = 0
			}
		}
	}
}
