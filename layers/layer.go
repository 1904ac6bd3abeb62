package layers

import (
	"fmt"

	G "gorgonia.org/gorgonia"
)

// Layer is a differentiable block of a model: it maps a node to a node in
// the same graph and owns its parameters.
type Layer interface {
	// Fwd builds the layer's output for input x.
	Fwd(x *G.Node) (*G.Node, error)
	// Params returns the parameters the layer owns, in a fixed order.
	Params() G.Nodes
}

// Sequential applies layers in order.
type Sequential []Layer

// Fwd implements Layer.
func (s Sequential) Fwd(x *G.Node) (*G.Node, error) {
	for i, l := range s {
		if l == nil {
			return nil, fmt.Errorf("layers: Sequential entry %d is nil", i)
		}
		var err error
		if x, err = l.Fwd(x); err != nil {
			return nil, err
		}
	}
	return x, nil
}

// Params implements Layer: every layer's parameters, in order.
func (s Sequential) Params() G.Nodes {
	var ps G.Nodes
	for _, l := range s {
		if l != nil {
			ps = append(ps, l.Params()...)
		}
	}
	return ps
}

// Projector is implemented by layers and cells whose parameters live in a
// constraint set (for instance El Ghaoui cells, ‖W‖₁ ≤ κ): Project maps
// them back into it in place. Training loops call it after every
// optimizer step.
type Projector interface {
	Project() error
}

// Project calls Project on every layer that is a Projector.
func (s Sequential) Project() error {
	for _, l := range s {
		if p, ok := l.(Projector); ok {
			if err := p.Project(); err != nil {
				return err
			}
		}
	}
	return nil
}

// Flatten reshapes (B, d1, d2, …) to (B, d1·d2·…). It has no parameters.
type Flatten struct{}

// Fwd implements Layer.
func (Flatten) Fwd(x *G.Node) (*G.Node, error) {
	s := x.Shape()
	if len(s) < 2 {
		return nil, fmt.Errorf("layers: Flatten needs a batch dimension, got shape %v", s)
	}
	if len(s) == 2 {
		return x, nil
	}
	return G.Reshape(x, []int{s[0], s.TotalSize() / s[0]})
}

// Params implements Layer.
func (Flatten) Params() G.Nodes { return nil }

// CountParams returns the number of scalar parameters in ps.
func CountParams(ps G.Nodes) int {
	n := 0
	for _, p := range ps {
		n += p.Shape().TotalSize()
	}
	return n
}
