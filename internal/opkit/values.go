package opkit

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Float is the element type of every kernel: float32 or float64.
type Float interface{ ~float32 | ~float64 }

// Data returns the backing slice of a float tensor or scalar value, or an
// error when its element type is not T.
func Data[T Float](v G.Value) ([]T, error) {
	switch x := v.(type) {
	case tensor.Tensor:
		d, ok := x.Data().([]T)
		if !ok {
			if s, ok := x.Data().(T); ok { // scalar tensor
				return []T{s}, nil
			}
			return nil, fmt.Errorf("opkit: value of dtype %v where %T was expected", x.Dtype(), *new(T))
		}
		return d, nil
	case *G.F64:
		if s, ok := any(float64(*x)).(T); ok {
			return []T{s}, nil
		}
	case *G.F32:
		if s, ok := any(float32(*x)).(T); ok {
			return []T{s}, nil
		}
	}
	return nil, fmt.Errorf("opkit: value %T is not a %T tensor", v, *new(T))
}

// AccumulateGrad adds d to the gradient (dual value) of n, for the DoDiff
// methods the LispMachine calls.
func AccumulateGrad(n *G.Node, d G.Value) error {
	gv, err := n.Grad()
	if err != nil {
		return err
	}
	gt, ok := gv.(*tensor.Dense)
	if !ok {
		return fmt.Errorf("opkit: gradient of %s is a %T, not a tensor", n.Name(), gv)
	}
	dt, ok := d.(*tensor.Dense)
	if !ok {
		return fmt.Errorf("opkit: gradient contribution is a %T, not a tensor", d)
	}
	_, err = gt.Add(dt, tensor.UseUnsafe())
	return err
}

// NewTensor returns a value of dtype dt and the given shape holding vals
// (converted); a scalar for an empty shape.
func NewTensor(dt tensor.Dtype, shape tensor.Shape, vals []float64) G.Value {
	if len(shape) == 0 {
		if dt == tensor.Float32 {
			return G.NewF32(float32(vals[0]))
		}
		return G.NewF64(vals[0])
	}
	if dt == tensor.Float32 {
		v32 := make([]float32, len(vals))
		for i, v := range vals {
			v32[i] = float32(v)
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v32))
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(vals))
}

// IsFloat32 reports whether T is float32.
func IsFloat32[T Float]() bool {
	_, ok := any(T(0)).(float32)
	return ok
}

// FlushSubnormal sets subnormal values to zero. Gradients of long, strongly
// contractive unrolled passes decay into the subnormal range, where
// gonum's pure-Go matrix products run about 2x slower
// (BenchmarkDenormalGEMM in internal/linalg; OpenBLAS and the elementwise
// loops showed no penalty on this CPU). The values are below 1.2e-38 in
// float32, so dropping them changes nothing a gradient step can see; it
// is what torch.set_flush_denormal does in hardware. A value is subnormal
// (or zero) when its exponent bits are all zero; the test is one
// predictable branch per value.
func FlushSubnormal[T Float](s []T) {
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

// Btoi is 1 for true and 0 for false: the count of an optional child.
func Btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Norm2 is the Euclidean norm, summed in order (power iterations and
// projections depend on its exact value, so it is the same everywhere).
func Norm2(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v * v
	}
	return math.Sqrt(s)
}

// AllTrue is DiffWRT's answer for an op differentiable in each of its n
// children.
func AllTrue(n int) []bool {
	d := make([]bool, n)
	for i := range d {
		d[i] = true
	}
	return d
}
