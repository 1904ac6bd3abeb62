package layers

import (
	"math"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/opkit"
	"github.com/implicit-ml/implicit/internal/vecmath"
)

// actForward replaces x by φ(x) in place.
func actForward[T deq.Float](a Activation, x []T) {
	f32 := opkit.IsFloat32[T]()
	switch {
	case a == Identity:
	case a == Tanh && f32:
		vecmath.Tanh(any(x).([]float32))
	case a == Tanh:
		for i, v := range x {
			x[i] = T(math.Tanh(float64(v)))
		}
	case a == ReLU && f32:
		relu32(any(x).([]float32))
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
// Subnormal results are flushed to zero (see opkit.FlushSubnormal).
func actGradFromOutput[T deq.Float](a Activation, s, y, g []T) {
	if opkit.IsFloat32[T]() && actGradFromOutput32(a, any(s).([]float32), any(y).([]float32), any(g).([]float32)) {
		return
	}
	defer opkit.FlushSubnormal(s)
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

// DerivFromOutput reports whether φ' can be computed from φ's output,
// which the fused ops (Affine, ActivationGrad) need: true for identity,
// tanh, ReLU, sigmoid and softplus, false for GELU.
func (a Activation) DerivFromOutput() bool {
	switch a {
	case Identity, Tanh, ReLU, Sigmoid, Softplus:
		return true
	}
	return false
}

// Activate replaces x by φ(x) and, when d is not nil, writes φ'(x) into d:
// the elementwise step of every hand-written cell kernel. Subnormal
// derivatives are flushed to zero (opkit.FlushSubnormal).
func Activate[T deq.Float](a Activation, x, d []T) {
	if a.DerivFromOutput() {
		actForward(a, x)
		if d != nil {
			for i := range d {
				d[i] = 1
			}
			actGradFromOutput(a, d, x, d)
		}
		return
	}
	for i, v := range x {
		y, dy := a.eval(float64(v))
		x[i] = T(y)
		if d != nil {
			d[i] = T(dy)
		}
	}
}
