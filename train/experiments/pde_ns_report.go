package experiments

import (
	"fmt"
	"math"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/train"
)

// nsConfig is the report's configuration section of a Navier–Stokes run.
func nsConfig(s Settings, ns nsSettings, rawTrain, rawTest *datasets.NavierStokesSet, probe train.Probe, ratio nsRatio) map[string]any {
	c := rawTrain.Config
	return map[string]any{
		"problem": "navier-stokes", "grid": c.S, "viscosity": c.Nu, "forcing": fmt.Sprintf("%g·[(sin(%dy), 0) + random divergence-free part on modes ≤ %d, rms ratio %g]", c.Amplitude, c.ForceK, c.Modes, c.Perturbation),
		"steady_residual_max": max(rawTrain.Stats.MaxResidual, rawTest.Stats.MaxResidual),
		"train_draws":         rawTrain.Stats.String(), "test_draws": rawTest.Stats.String(),
		"train_samples": rawTrain.Len(), "test_samples": rawTest.Len(),
		"epochs": ns.epochs, "pretrain_epochs": ns.pretrainEpochs, "pretrain_iterations": ns.pretrainIters,
		"batch": ns.batch, "lr": ns.lr, "weight_decay": ns.weightDecay, "schedule": s.Schedule.String(), "pretrain_schedule": "constant", "clip": s.Clip,
		"loss":  "relative L2, summed over the batch (normalised units)",
		"width": ns.width, "modes": ns.modes, "projection_hidden": ns.hidden, "layers_per_block": ns.depth, "fno_plus_blocks": ns.blocks,
		"dtype": s.Dtype.String(), "solver": s.Solver.Name(), "backward": pdeBackwardName(s.Backward), "tol": s.Stop.Tol,
		"max_iter_train": s.Stop.MaxIter, "max_iter_test": ns.testIters, "test_time_relaxation": ns.evalRelax,
		"lipschitz_probe": fmt.Sprintf("%d test inputs × δω = sin(kx + ky), k ∈ %v (the 15 percentiles of K = %d), ‖δω‖ = %g (normalised), δf from the linearised steady equations",
			probe.N, nsWavenumbers(nsPercentiles, nsKMax(c)), nsKMax(c), ns.perturbNorm),
		"solution_operator_ratio_max": ratio.Max, "solution_operator_ratio_mean": ratio.Mean,
	}
}

// nsNotes are the report's notes of a Navier–Stokes run.
func nsNotes(ns nsSettings, probe train.Probe, ratio nsRatio) []string {
	return []string{
		"metric: relative L2 error ‖ω̂ − ω‖/‖ω‖ per test sample in physical units, mean ± standard deviation over the test set (the paper's metric).",
		fmt.Sprintf("L / L_t (the paper's probe): max over %d test inputs and the wavenumbers of ‖ω̂(x+δx) − ω̂(x)‖/‖δx‖ in normalised units, where δω = sin(kx + ky) of norm %g and δx is the forcing perturbation that moves the true steady state by δω to first order. For reference the true solution operator's own ratio ‖δω‖/‖δx‖ over the same directions is %.3g (max), %.3g (mean).", probe.N, ns.perturbNorm, ratio.Max, ratio.Mean),
		fmt.Sprintf("The implicit model is trained as the paper's, iterating G (Anderson, phantom gradient). At test time it iterates the averaged map T(z) = (1−α)z + α·G(z), α = %g, which has G's fixed points and contracts where plain iteration of G oscillates (eigenvalues of J_G below −1, which Anderson's solves do not mind; an 8-epoch run of width 32 learned such a G, ρ(J_G) = 1.05 at its test fixed points, while short runs need not: the measured note below says which this run's is). The curve evaluates ω̂_t after t iterations of T from z₀ = 0; the test error is at T's fixed point (Anderson, up to max_iter_test iterations) — G's. The paper's curve runs Anderson with t steps instead, and scores the perturbed inputs too; explicit models are horizontal lines.", ns.evalRelax),
		"Regularity of the learned operator (extra, at the fixed points z* of the probe's inputs, float64): g_ and t_spectral_radius_max/mean are ρ(J_G(z*)) and ρ(J_T(z*)) by power iteration (below 1: a contraction there), g_lipschitz_x G's largest ‖G(z*, x+δ) − G(z*, x)‖/‖δ‖ over the probe's perturbations and random ones of the same norm (T's is α times it); spectral_radius is the training loop's estimate of ρ(J_G) at the last training batch, test_spectral_radius the runner's of ρ(J_T) at the test fixed points.",
		fmt.Sprintf("Training as the paper's code: the first %d epoch(s) pre-train every model — the implicit one as %d plain iterations of G from z₀ = 0, differentiated through; the explicit ones as they are — then every model trains the remaining epochs (the implicit one with Anderson forward and the phantom gradient). The optimizer restarts between the phases for every model; the paper keeps one Adam and pre-trains for its first 300 steps (1.07 of its 500 epochs).", ns.pretrainEpochs, ns.pretrainIters),
		"Compared with the paper (Marwah et al.'s data and set-up): generated data (32² grid, ν = 0.01 with a weak forcing so that every sample has a steady state; see datasets.NavierStokesConfig) instead of their jax-cfd Kolmogorov data on 128²; 8 modes instead of 12; no padding (the domain is periodic) and no instance norms in G; tanh-form GELU; sizes, epochs and the schedule as in the config. Their numbers (FNO 0.179 → FNO-DEQ 0.078, L_t 23 → 367) are not comparable as values.",
		"pde_samples.png: rows are test samples; columns curl f, ω, the FNO's ω̂, the FNO-DEQ's ω̂, |ω̂ − ω| FNO, |ω̂ − ω| FNO-DEQ (viridis; each row's ω and predictions share one scale, its errors another).",
	}
}

// nsPanels are the rows of the Navier–Stokes figure: curl f, ω, the two
// models' ω̂ and their errors, in physical units.
func nsPanels(test *datasets.NavierStokesSet, nm datasets.NavierStokesNorm, preds map[string][]float64, explicit, implicit string, rows int) [][]pdePanel {
	p := test.S * test.S
	grid := test.Grid()
	var out [][]pdePanel
	for r := range min(rows, test.Len()) {
		curl, err := grid.Curl(test.Forcing(r))
		if err != nil {
			curl = nil // a blank panel; the set's own samples always have a curl
		}
		out = append(out, pdeRow(curl, test.Vorticity(r), pdePrediction(preds[explicit], r, p, nm.DenormalizeTarget),
			pdePrediction(preds[implicit], r, p, nm.DenormalizeTarget)))
	}
	return out
}

// nsCurveTargets states, as measured, the two targets for the
// curve of an implicit model evaluated on n test samples: its error
// falls and stays (at the last t it is no more than one standard error
// of the mean, MetricStd/√n, above its minimum over t) and L_t rises
// (its last value above its first). A curve of fewer than two points
// meets neither.
func nsCurveTargets(name string, c []train.CurvePoint, n int) string {
	if len(c) < 2 || n < 1 {
		return fmt.Sprintf("%s: curve targets not measured (%d points)", name, len(c))
	}
	first, last, best := c[0], c[len(c)-1], c[0]
	for _, p := range c {
		if p.Metric < best.Metric {
			best = p
		}
	}
	se := last.MetricStd / math.Sqrt(float64(n))
	rise := last.Metric - best.Metric
	falls := "met"
	if rise > se || best.Metric >= first.Metric {
		falls = "not met"
	}
	rises := "met"
	if last.Lipschitz <= first.Lipschitz {
		rises = "not met"
	}
	return fmt.Sprintf("%s, targets of the curve: the error falls from %.4g (t = %d) to its minimum %.4g (t = %d) and ends at %.4g (t = %d), %.2g above it against a standard error of %.2g: %s; L_t goes from %.4g to %.4g: rising %s.",
		name, first.Metric, first.T, best.Metric, best.T, last.Metric, last.T, rise, se, falls, first.Lipschitz, last.Lipschitz, rises)
}
