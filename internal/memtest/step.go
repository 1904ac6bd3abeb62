package memtest

import (
	"fmt"

	G "gorgonia.org/gorgonia"
)

// Build makes the graph of one training step in g and returns its scalar
// loss and the parameters the step trains.
type Build func(g *G.ExprGraph) (loss *G.Node, params G.Nodes, err error)

// Step is one compiled training step: a tape machine that runs the loss
// and its gradients, and Adam, which applies them.
type Step struct {
	vm     G.VM
	solver G.Solver
	params G.Nodes
}

// Compile builds the graph of build, differentiates the loss in the
// parameters and compiles the step; Close it.
func Compile(build Build) (*Step, error) {
	g := G.NewGraph()
	loss, params, err := build(g)
	if err != nil {
		return nil, err
	}
	if loss == nil || len(params) == 0 {
		return nil, fmt.Errorf("memtest: the build returned no loss or no parameters")
	}
	if _, err := G.Grad(loss, params...); err != nil {
		return nil, fmt.Errorf("memtest: %w", err)
	}
	prog, locs, err := G.Compile(g)
	if err != nil {
		return nil, fmt.Errorf("memtest: %w", err)
	}
	return &Step{
		vm:     G.NewTapeMachine(g, G.WithPrecompiled(prog, locs), G.BindDualValues(params...)),
		solver: G.NewAdamSolver(G.WithLearnRate(1e-4)),
		params: params,
	}, nil
}

// Run takes one training step: forward, backward, the Adam update.
func (s *Step) Run() error {
	defer s.vm.Reset()
	if err := s.vm.RunAll(); err != nil {
		return err
	}
	return s.solver.Step(G.NodesToValueGrads(s.params))
}

// Close releases the machine.
func (s *Step) Close() error { return s.vm.Close() }

// HeldByStep returns the bytes a compiled step of build holds after two
// steps (the first allocates what later steps reuse).
func HeldByStep(build Build) (float64, error) {
	return Held(func() (any, error) {
		s, err := Compile(build)
		if err != nil {
			return nil, err
		}
		for range 2 {
			if err := s.Run(); err != nil {
				s.Close()
				return nil, err
			}
		}
		return s, nil
	})
}
