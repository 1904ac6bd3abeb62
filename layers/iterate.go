package layers

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
)

// IterateCell applies a cell repeatedly on flat buffers, without graphs:
// z_t = f(z_{t−1}, inj; θ) for t = 1 … steps from z0 (nil means zeros),
// with θ the values its parameter nodes hold now, calling visit(t, z_t)
// after each application (z_t is only valid during the call). One pass
// gives every iterate of a test-time curve, where re-running a layer at
// each fixed count t would cost Σt applications.
//
// inj are the injection values, as the implicit layer would receive them;
// the cell's parameters must hold values of element type T.
func IterateCell[T deq.Float](c Cell, inj []G.Value, z0 []T, steps int, visit func(t int, z []T) error) error {
	if c == nil || steps < 0 || visit == nil {
		return fmt.Errorf("layers: IterateCell needs a cell, steps ≥ 0 and a visit function (got steps = %d)", steps)
	}
	shapes := make([]tensor.Shape, len(inj))
	for i, v := range inj {
		if v == nil {
			return fmt.Errorf("layers: IterateCell: injection %d has no value", i)
		}
		shapes[i] = v.Shape()
	}
	st, err := c.StateShape(shapes)
	if err != nil {
		return err
	}
	k, err := kernelFor[T](c, inj)
	if err != nil {
		return err
	}
	var params []G.Value
	for _, p := range kernelInputs(c) {
		if p.Value() == nil {
			return fmt.Errorf("layers: IterateCell: parameter %s has no value", p.Name())
		}
		params = append(params, p.Value())
	}
	if err := k.Bind(inj, params); err != nil {
		return err
	}
	n := st.TotalSize()
	z, next := make([]T, n), make([]T, n)
	if z0 != nil {
		if len(z0) != n {
			return fmt.Errorf("layers: IterateCell: z0 has %d values, the state %v needs %d", len(z0), st, n)
		}
		copy(z, z0)
	}
	for t := 1; t <= steps; t++ {
		if err := k.Eval(next, z); err != nil {
			return err
		}
		z, next = next, z
		if err := visit(t, z); err != nil {
			return err
		}
	}
	return nil
}
