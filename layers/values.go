package layers

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
)

// data returns the backing slice of a float tensor or scalar value.
func data[T deq.Float](v G.Value) ([]T, error) {
	switch x := v.(type) {
	case tensor.Tensor:
		d, ok := x.Data().([]T)
		if !ok {
			if s, ok := x.Data().(T); ok { // scalar tensor
				return []T{s}, nil
			}
			return nil, fmt.Errorf("layers: value of dtype %v where %T was expected", x.Dtype(), *new(T))
		}
		return d, nil
	case *G.F64:
		if s, ok := any(scalarOf(x)).(T); ok {
			return []T{s}, nil
		}
	case *G.F32:
		if s, ok := any(scalarOf(x)).(T); ok {
			return []T{s}, nil
		}
	}
	return nil, fmt.Errorf("layers: value %T is not a %T tensor", v, *new(T))
}

// Floats64 returns a copy of a node's current value as float64s,
// whatever its float dtype: convenient for reading losses and outputs.
func Floats64(v G.Value) ([]float64, error) {
	if v == nil {
		return nil, fmt.Errorf("layers: no value (has the machine run?)")
	}
	if d, err := data[float64](v); err == nil {
		return append([]float64(nil), d...), nil
	}
	d, err := data[float32](v)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(d))
	for i, x := range d {
		out[i] = float64(x)
	}
	return out, nil
}

// Scalar returns a scalar node's value as float64.
func Scalar(n *G.Node) (float64, error) {
	d, err := Floats64(n.Value())
	if err != nil {
		return 0, err
	}
	if len(d) != 1 {
		return 0, fmt.Errorf("layers: node %s holds %d values, not a scalar", n.Name(), len(d))
	}
	return d[0], nil
}

func scalarOf(v G.Value) any {
	switch x := v.(type) {
	case *G.F64:
		return float64(*x)
	case *G.F32:
		return float32(*x)
	}
	return nil
}
