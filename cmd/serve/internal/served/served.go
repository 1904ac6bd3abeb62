// Package served describes a model loaded from a run folder to package
// serve: what cmd/serve and cmd/serve/curve serve.
package served

import (
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/serve"
	"github.com/implicit-ml/implicit/train/experiments"
)

// Model is the serve.Model of a model loaded with serve.WrapSolver as its
// solver. It takes per-sample budgets when it has one implicit layer that
// solves with the wrapped solver: not one unrolled in the graph, nor one
// that runs a fixed number of iterations (Controls.Iterations, as the
// deblur models are tested), which never calls its solver. It carries its
// contraction bound when the cell has one.
func Model(l *experiments.Loaded) serve.Model {
	m := serve.Model{Net: l.Model, Input: l.Input, Output: l.Output, Float32: l.Settings.Dtype == tensor.Float32, Stop: l.Stop}
	if len(l.Implicits) == 1 {
		cfg := l.Implicits[0].Config()
		_, wrapped := cfg.Forward.(serve.Solver)
		_, unrolled := cfg.Backward.(deq.Unrolled)
		fixed := l.Implicits[0].Controls().Iterations > 0
		m.Budgeted = wrapped && !unrolled && !fixed
	}
	if l.HasContraction {
		m.Mu, m.MuNorm = l.Contraction.Mu, l.Contraction.Norm
	}
	return m
}
