package experiments

import (
	"context"
	"fmt"

	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/train"
	"github.com/implicit-ml/implicit/train/report"
)

// PDE is the scientific-computing workload, the paper's case study 2. By
// default (-problem navier-stokes) it learns the solution operator of the
// steady incompressible Navier–Stokes equations on the periodic square,
// forcing f ↦ steady vorticity ω, with the FNO-DEQ of Marwah et al. (a
// block of three Fourier layers iterated to its fixed point, the lifted
// forcing injected into every layer) against the explicit FNO of the
// same parameters and FNO++ of two and four untied blocks. It reports the
// relative L2 error and, for the implicit model, the error and the
// paper's empirical Lipschitz constant L_t of the iterate against t, and
// the regularity of the learned G (its contraction at the fixed point and
// its Lipschitz constant in the input). See nsSettings for what is scaled
// down from the paper and why.
//
// -problem darcy keeps the earlier Darcy-flow workload (pde_darcy.go).
//
// Options: Hidden sets the Fourier width; Backward is the implicit
// model's gradient, "phantom" by default (3 damped steps, damping 0.8, as
// the paper) or "ift"; Epochs, Batch, LR, Tol, MaxIter, Dtype (float32 by
// default) and Seed as usual. DataDir is the folder of the generated
// data's cache.
type PDE struct{}

// Name implements Experiment.
func (PDE) Name() string { return "pde" }

// Summary implements Experiment.
func (PDE) Summary() string {
	return "steady Navier–Stokes (or -problem darcy): implicit FNO-DEQ vs explicit FNO and FNO++; relative L2 error and L_t against t"
}

// Problems implements Experiment: steady Navier–Stokes (the default) and
// Darcy flow.
func (PDE) Problems() []string { return []string{"navier-stokes", "darcy"} }

// Defaults implements Experiment.
func (PDE) Defaults(problem string, quick bool) Defaults {
	if problem == "darcy" {
		return darcyDefaults(quick)
	}
	return nsDefaults(quick)
}

// Run implements Experiment.
func (PDE) Run(ctx context.Context, s Settings) (*report.Report, error) {
	if s.Problem == "darcy" {
		return runDarcy(ctx, s)
	}
	return runNavierStokes(ctx, s)
}

// pdeDefaults are the Defaults both problems share: a cosine schedule,
// Anderson forward and the paper's phantom gradient (3 damped steps,
// damping 0.8) for the implicit model, float32; -hidden sets the Fourier
// width.
func pdeDefaults(epochs, batch, width int, lr, tol float64, maxIter int) Defaults {
	return Defaults{Problems: PDE{}.Problems(), Epochs: epochs, Batch: batch, Hidden: width, HiddenMeans: "Fourier width",
		LR: lr, Schedule: "cosine", Solver: "anderson", Backward: "phantom", BackwardMode: deq.Phantom{Steps: 3, Damping: 0.8},
		Adjoint: "anderson", Tol: tol, MaxIter: maxIter, Dtype: tensor.Float32}
}

func pdeBackwardName(b deq.Backward) string {
	if p, ok := b.(deq.Phantom); ok {
		p = p.Resolved()
		return fmt.Sprintf("phantom (%d steps, damping %g)", p.Steps, p.Damping)
	}
	return b.Name()
}

// physicalRelativeL2 is the relative L2 error ‖ŷ − y‖/‖y‖ of outputs and
// targets that are standardised: denorm maps both back to physical units
// first (in place, on copies).
func physicalRelativeL2(denorm func([]float32)) train.Metric {
	rel := train.RelativeL2()
	return train.Metric{Name: "relative L2 error", Sample: func(out, target []float32) float64 {
		o := append([]float32(nil), out...)
		t := append([]float32(nil), target...)
		denorm(o)
		denorm(t)
		return rel.Sample(o, t)
	}}
}
