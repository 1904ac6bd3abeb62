package main

import (
	"encoding/json"
	"fmt"
	"os"

	G "gorgonia.org/gorgonia"
)

// param is one parameter as the PyTorch side loads it (bench.py --init):
// its name, shape and values in row-major order, in the Go layout (a
// Dense weight is in×out and multiplies from the right).
type param struct {
	Name  string    `json:"name"`
	Shape []int     `json:"shape"`
	Data  []float64 `json:"data"`
	// Fixed marks a constant of the model that is not trained (the blur
	// kernel), which the twin needs to compute the same thing.
	Fixed bool `json:"fixed,omitempty"`
}

// writeParams writes the parameters' current values to path as JSON, so
// that the PyTorch twin can start from exactly the same weights.
func writeParams(path string, params G.Nodes, fixed []param) error {
	out := make([]param, 0, len(params)+len(fixed))
	for _, n := range params {
		v := n.Value()
		if v == nil {
			return fmt.Errorf("parameter %s has no value", n.Name())
		}
		p := param{Name: n.Name(), Shape: append([]int(nil), v.Shape()...)}
		switch d := v.Data().(type) {
		case []float32:
			p.Data = make([]float64, len(d))
			for i, x := range d {
				p.Data[i] = float64(x)
			}
		case []float64:
			p.Data = append([]float64(nil), d...)
		default:
			return fmt.Errorf("parameter %s holds %T", n.Name(), d)
		}
		out = append(out, p)
	}
	b, err := json.Marshal(append(out, fixed...))
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
