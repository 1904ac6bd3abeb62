package imaging

import (
	"fmt"
	"math"
)

// Default initial data steps of the cells, the paper's (deepinv's
// step sizes in the authors' deq-inv code): PGD's gradient step γ = 1 and
// HQS's proximal step γ = 4, the γ of argmin_u γ/2‖Au − x‖² + ½‖u − y‖²,
// which is HQSCell's weight β = 1/γ = DefaultHQSBeta.
const (
	DefaultPGDStep = 1.0
	DefaultHQSStep = 1 / DefaultHQSBeta
)

// CellOpt configures NewPGDCell and NewHQSCell.
type CellOpt func(*cellConfig)

type cellConfig struct {
	step float64 // 0: the cell's default
}

// InitialStep sets the initial size γ > 0 of a cell's data step, learned
// from there: PGD's gradient step γ (at most 2; default DefaultPGDStep),
// HQS's proximal step γ, i.e. its weight β = 1/γ (default DefaultHQSStep).
// InitialStep(0) keeps the default; a negative, infinite or NaN step, or a
// PGD step above 2, makes the cell fail to build (its Err says why).
//
// At a fixed point y = D(u) of either cell, with the residual denoiser
// D = I + N, the data term's gradient balances the denoiser's residual
// scaled by 1/γ: ∇f(y) = N(v)/γ for PGD (v its gradient step's output),
// ∇f(u) = N(u)/γ for HQS. So γ sets how much a denoiser of bounded
// strength can move the answer away from the data: the paper's steps
// suit its strong pretrained DRUNet; a small norm-bounded denoiser trained
// from scratch needs a smaller γ (the deblurring experiment chooses it by
// validation). A smaller γ also makes plain iteration slower.
func InitialStep(gamma float64) CellOpt { return func(c *cellConfig) { c.step = gamma } }

// initialStep is the step opts set, or def; it fails on a step that is
// not positive and finite or above hi.
func initialStep(kind, name string, def, hi float64, opts []CellOpt) (float64, error) {
	var c cellConfig
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.step == 0 {
		return def, nil
	}
	if !(c.step > 0) || math.IsInf(c.step, 0) || c.step > hi {
		return 0, fmt.Errorf("imaging: %s %q: initial step %v is not in (0, %v]", kind, name, c.step, hi)
	}
	return c.step, nil
}
