// Package gradcheck compares the gradients Gorgonia computes for a scalar
// loss with central finite differences, in float64.
package gradcheck

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Report is the comparison for one node.
type Report struct {
	Name string
	// RelErr is ‖analytic − numeric‖ / max(‖analytic‖, ‖numeric‖).
	RelErr float64
	// Analytic and Numeric are the two gradients, flattened.
	Analytic, Numeric []float64
}

// Check builds the graph with build, computes the gradients of loss with
// respect to wrt by G.Grad on a TapeMachine, and compares each with the
// central difference (L(v+h) − L(v−h))/2h taken entry by entry. All wrt
// nodes must hold float64 tensors. h = 0 means 1e-5.
func Check(build func(g *G.ExprGraph) (loss *G.Node, wrt G.Nodes, err error), h float64) ([]Report, error) {
	if h == 0 {
		h = 1e-5
	}
	g := G.NewGraph()
	loss, wrt, err := build(g)
	if err != nil {
		return nil, err
	}
	grads, err := G.Grad(loss, wrt...)
	if err != nil {
		return nil, fmt.Errorf("gradcheck: G.Grad: %w", err)
	}
	prog, locs, err := G.Compile(g)
	if err != nil {
		return nil, fmt.Errorf("gradcheck: compile: %w", err)
	}
	vm := G.NewTapeMachine(g, G.WithPrecompiled(prog, locs))
	defer vm.Close()
	eval := func() (float64, error) {
		defer vm.Reset()
		if err := vm.RunAll(); err != nil {
			return 0, err
		}
		v, ok := loss.Value().Data().(float64)
		if !ok {
			return 0, fmt.Errorf("gradcheck: loss is %T, want a float64 scalar", loss.Value().Data())
		}
		return v, nil
	}
	if err := vm.RunAll(); err != nil {
		return nil, err
	}
	reports := make([]Report, len(wrt))
	for i, gn := range grads {
		d, ok := gn.Value().Data().([]float64)
		if !ok {
			if s, ok := gn.Value().Data().(float64); ok {
				d = []float64{s}
			} else {
				return nil, fmt.Errorf("gradcheck: gradient of %s is %T, want float64", wrt[i].Name(), gn.Value().Data())
			}
		}
		reports[i] = Report{Name: wrt[i].Name(), Analytic: append([]float64(nil), d...)}
	}
	vm.Reset()
	for i, n := range wrt {
		vals, set, err := entries(n)
		if err != nil {
			return nil, err
		}
		num := make([]float64, len(vals))
		for j, v := range vals {
			set(j, v+h)
			lp, err := eval()
			if err != nil {
				return nil, err
			}
			set(j, v-h)
			lm, err := eval()
			if err != nil {
				return nil, err
			}
			set(j, v)
			num[j] = (lp - lm) / (2 * h)
		}
		reports[i].Numeric = num
		reports[i].RelErr = relErr(reports[i].Analytic, num)
	}
	return reports, nil
}

// entries returns a copy of n's values and a setter writing into n.
func entries(n *G.Node) ([]float64, func(int, float64), error) {
	switch v := n.Value().(type) {
	case *tensor.Dense:
		d, ok := v.Data().([]float64)
		if !ok {
			return nil, nil, fmt.Errorf("gradcheck: %s is not float64", n.Name())
		}
		return append([]float64(nil), d...), func(i int, x float64) { d[i] = x }, nil
	case *G.F64:
		return []float64{float64(*v)}, func(_ int, x float64) { *v = G.F64(x) }, nil
	}
	return nil, nil, fmt.Errorf("gradcheck: %s holds a %T", n.Name(), n.Value())
}

func relErr(a, b []float64) float64 {
	var d, na, nb float64
	for i := range a {
		d += (a[i] - b[i]) * (a[i] - b[i])
		na += a[i] * a[i]
		nb += b[i] * b[i]
	}
	den := math.Sqrt(math.Max(na, nb))
	if den == 0 {
		return 0
	}
	return math.Sqrt(d) / den
}
