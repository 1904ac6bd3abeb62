package serve

import (
	"fmt"
	"math"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/train"
)

// Model is what a Server serves: a trained model and what the server
// needs to know of it.
type Model struct {
	// Net builds the model's inference graphs (one per batch size); its
	// parameters must hold the trained values. For per-sample budgets its
	// implicit layer must solve with a Solver of this package (see
	// WrapSolver): the model is then Budgeted.
	Net train.Model
	// Input and Output are the per-sample shapes; a request's input is
	// the sample's values flattened row-major.
	Input, Output []int
	// Float32 says the model computes in float32: inputs beyond its
	// range are refused.
	Float32 bool
	// Budgeted says Net has exactly one implicit layer, which solves with
	// WrapSolver's solver: requests may then carry budgets, and each
	// sample leaves its batch when its budget is met. Otherwise a budget
	// is refused and every sample waits for its batch.
	Budgeted bool
	// Stop is the implicit layer's stopping rule: the budget of a request
	// that gives none (its tolerance and iteration cap).
	Stop deq.Stop
	// Mu bounds the implicit cell's contraction factor in the norm MuNorm
	// ("2" or "inf"); with 0 < Mu < 1 responses carry the a-posteriori
	// bound Mu/(1 − Mu)·‖f(z) − z‖ on the state's distance to the fixed
	// point. Zero means unknown.
	Mu     float64
	MuNorm string
}

func (m Model) validate() error {
	switch {
	case m.Net == nil:
		return fmt.Errorf("serve: the model has no network")
	case size(m.Input) <= 0 || size(m.Output) <= 0:
		return fmt.Errorf("serve: model %s has input shape %v and output shape %v; both must be non-empty", m.Net.Name(), m.Input, m.Output)
	case m.Mu < 0 || math.IsNaN(m.Mu):
		return fmt.Errorf("serve: model %s has contraction bound %v", m.Net.Name(), m.Mu)
	}
	return nil
}

// bound is the a-posteriori error bound for a residual, or nil.
func (m Model) bound(residual float64) *float64 {
	if !(m.Mu > 0 && m.Mu < 1) || math.IsNaN(residual) || math.IsInf(residual, 0) {
		return nil
	}
	b := m.Mu / (1 - m.Mu) * residual
	return &b
}

// size is the number of values of a shape.
func size(shape []int) int {
	if len(shape) == 0 {
		return 0
	}
	n := 1
	for _, d := range shape {
		if d <= 0 {
			return 0
		}
		n *= d
	}
	return n
}
