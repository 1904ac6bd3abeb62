package layers

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
)

// Cell is the map f of an implicit layer, z = f(z, inj; θ). Rows of the
// state (its first dimension is the batch) must be independent: the solvers
// treat each row as its own fixed-point problem.
//
// A cell is used in two ways. Apply builds f once into the main graph,
// where Gorgonia differentiates it with respect to inj and θ; the kernels
// evaluate f and z ↦ J_f(z)ᵀv numerically inside the fixed-point and
// adjoint solves, where no graph is built per iteration.
//
// NewCell turns any Go function built from differentiable Gorgonia ops into
// a Cell; DenseCell is a built-in cell with hand-written kernels.
type Cell interface {
	// Params returns θ, in the order the kernels receive parameter values.
	Params() G.Nodes
	// StateShape returns the shape of z for injections of the given shapes.
	StateShape(inj []tensor.Shape) (tensor.Shape, error)
	// Apply builds f(z, inj; θ) in z's graph.
	Apply(z *G.Node, inj G.Nodes) (*G.Node, error)
	// Kernel64 and Kernel32 return numeric evaluators for injections of
	// the given shapes. Cells cache them: a kernel is built once per
	// (dtype, shapes).
	Kernel64(inj []tensor.Shape) (Kernel[float64], error)
	Kernel32(inj []tensor.Shape) (Kernel[float32], error)
}

// KernelInputter is implemented by cells whose kernels need other nodes
// than their trainable parameters — a reparametrised weight, computed in
// the graph from raw parameters (see Reparam). Params then lists the raw
// parameters (what an optimizer updates) and KernelInputs the values the
// kernels receive, in the order Bind expects.
type KernelInputter interface {
	KernelInputs() G.Nodes
}

// kernelInputs returns the nodes whose values a cell's kernels receive.
func kernelInputs(c Cell) G.Nodes {
	if k, ok := c.(KernelInputter); ok {
		return k.KernelInputs()
	}
	return c.Params()
}

// Kernel evaluates a cell on flat row-major buffers of T holding the whole
// batch. A kernel is used by one machine at a time.
type Kernel[T deq.Float] interface {
	// Bind fixes the injection and parameter values for the calls that
	// follow (values as a Gorgonia op receives them; not modified).
	Bind(inj, params []G.Value) error
	// Eval writes f(z) into out.
	Eval(out, z []T) error
	// Linearize fixes the point z at which VJP differentiates.
	Linearize(z []T) error
	// VJP writes J_f(z)ᵀ v into out, J_f being the Jacobian in z.
	VJP(out, v []T) error
}

// batchDim splits a state shape into batch size and per-sample size.
func batchDim(s tensor.Shape) (batch, dim int, err error) {
	if len(s) < 2 {
		return 0, 0, fmt.Errorf("layers: state shape %v has no batch dimension; states are (B, …)", s)
	}
	return s[0], s.TotalSize() / s[0], nil
}

// ShapesOf returns the shapes of nodes (copies), as Cell.StateShape and the
// kernels receive them.
func ShapesOf(ns G.Nodes) []tensor.Shape {
	out := make([]tensor.Shape, len(ns))
	for i, n := range ns {
		out[i] = n.Shape().Clone()
	}
	return out
}
