package layers

import (
	"fmt"

	"github.com/implicit-ml/implicit/internal/opkit"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Floats64 returns a copy of a node's current value as float64s,
// whatever its float dtype: convenient for reading losses and outputs.
func Floats64(v G.Value) ([]float64, error) {
	if v == nil {
		return nil, fmt.Errorf("layers: no value (has the machine run?)")
	}
	if d, err := opkit.Data[float64](v); err == nil {
		return append([]float64(nil), d...), nil
	}
	d, err := opkit.Data[float32](v)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(d))
	for i, x := range d {
		out[i] = float64(x)
	}
	return out, nil
}

// setFloats64 writes vals into t, converting them to t's float dtype:
// the inverse of Floats64, for ops that compute in float64 whatever
// their dtype. t holds len(vals) values.
func setFloats64(t *tensor.Dense, vals []float64) {
	switch d := t.Data().(type) {
	case []float64:
		copy(d, vals)
	case []float32:
		for i, v := range vals {
			d[i] = float32(v)
		}
	}
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
