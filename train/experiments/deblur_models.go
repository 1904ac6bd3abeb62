package experiments

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/layers/conv"
	"github.com/implicit-ml/implicit/layers/imaging"
	"github.com/implicit-ml/implicit/network"
	"github.com/implicit-ml/implicit/train"
)

// deblurRecipe is one model of the deblurring comparison: the denoiser
// once on Aᵀx (op "once"), K untied unfolded stages of PGD or HQS (each
// with its own denoiser), or the implicit PGD or HQS operator (stages 0).
type deblurRecipe struct {
	name   string
	op     string // "once", "pgd" or "hqs"
	stages int    // unfolded stages; 0 for the implicit models
}

func (r deblurRecipe) implicit() bool { return r.op != "once" && r.stages == 0 }

// deblurRecipes lists the models of a run: the denoiser once, the
// unfolded PGD and HQS models of every stage count, the implicit PGD and
// HQS models.
func deblurRecipes(stages []int) []deblurRecipe {
	out := []deblurRecipe{{name: deblurOnce, op: "once"}}
	for _, op := range []string{"pgd", "hqs"} {
		for _, k := range stages {
			out = append(out, deblurRecipe{name: fmt.Sprintf("unfolded-%s-%d", op, k), op: op, stages: k})
		}
	}
	return append(out, deblurRecipe{name: "implicit-pgd", op: "pgd"}, deblurRecipe{name: "implicit-hqs", op: "hqs"})
}

// deblurOnce names the equal-parameter explicit model.
const deblurOnce = "denoiser-once"

// deblurNets builds the experiment's models.
type deblurNets struct {
	a    *imaging.Blur
	st   deblurSettings
	seed uint64
	// recipes are the models by name, for their float64 twins.
	recipes map[string]deblurRecipe
}

// models builds every model of the run, the implicit ones iterating iters
// times.
func (n deblurNets) models(dt tensor.Dtype, icfg layers.ImplicitConfig, iters int) []model {
	var out []model
	for _, r := range deblurRecipes(n.st.stages) {
		m, _ := n.build(r, dt, icfg, iters, nil)
		out = append(out, m)
	}
	return out
}

// DeblurModel builds one model of the deblurring experiment, called name,
// on images blurred by a, at the experiment's sizes (a residual CNN
// denoiser of 5 3×3 convolutions with channels channels, 16 when 0; PGD's
// and HQS's λ = 0.02, a learned σ_D from 0.03): op "once" is the unconstrained denoiser applied once to Aᵀx;
// "pgd" and "hqs" are the implicit operators with every convolution's
// operator norm ≤ 1, run under icfg for iters plain iterations from
// y₀ = Aᵀx (0 solves for the fixed point from there).
func DeblurModel(name, op string, a *imaging.Blur, channels int, dt tensor.Dtype, seed uint64, icfg layers.ImplicitConfig, iters int) (*network.Network, error) {
	if op != "once" && op != "pgd" && op != "hqs" {
		return nil, fmt.Errorf("experiments: deblur model %q: want once, pgd or hqs", op)
	}
	if a == nil || channels < 0 {
		return nil, fmt.Errorf("experiments: deblur model %q needs a blur operator and channels ≥ 0 (0: 16), got %d", op, channels)
	}
	st := defaultDeblurSettings()
	if channels > 0 {
		st.channels = channels
	}
	st.trainIters, st.evalT = iters, iters // for the description
	m, _ := deblurNets{a: a, st: st, seed: seed}.build(deblurRecipe{name: name, op: op}, dt, icfg, iters, nil)
	return m, nil
}

// deblurHandle records the cell and the implicit layer a build of an
// implicit model created, for the curves.
type deblurHandle struct {
	cell  layers.Cell
	layer *layers.Implicit
}

// build returns the model r at dtype dt, sharing the parameters of share
// when it is not nil; icfg configures an implicit model's layer, which
// runs iters plain iterations from y₀ = Aᵀx (SetIterations changes the
// count; 0 solves for the fixed point from there).
func (n deblurNets) build(r deblurRecipe, dt tensor.Dtype, icfg layers.ImplicitConfig, iters int, share *network.Network) (*network.Network, *deblurHandle) {
	h := &deblurHandle{}
	kind, desc := train.KindExplicit, n.describe(r, icfg)
	if r.implicit() {
		kind = train.KindImplicit
	}
	spec := network.Spec{Name: r.name, Kind: kind, Description: desc, Dtype: dt, Seed: n.seed, Input: []int{n.a.H * n.a.W}, Target: []int{n.a.H * n.a.W},
		Loss: network.MaskedMSE, Body: func(s *layers.Scope, x *G.Node) (*G.Node, error) {
			atx, err := n.a.ApplyT(x)
			if err != nil {
				return nil, err
			}
			switch {
			case r.op == "once":
				return n.denoiser(s, "D", false).Fwd(atx)
			case r.implicit():
				return n.implicitBody(s, r, icfg, iters, atx, h)
			}
			return n.unfoldedBody(s, r, atx)
		}}
	if share != nil {
		return share.Sharing(spec), h
	}
	return network.New(spec), h
}

// deblurSigmaD is the initial noise level σ_D of every denoiser (the
// paper's 0.03, the measurement noise).
const deblurSigmaD = 0.03

// denoiser is the residual CNN of every model, with its own learned noise
// level σ_D (a constant input channel, as DRUNet's); bounded, every
// convolution has operator norm ≤ 1 (the implicit models' Lipschitz
// control, which σ_D's channel leaves intact: it does not depend on y).
func (n deblurNets) denoiser(s *layers.Scope, name string, bounded bool) *conv.ResCNN {
	opts := []conv.ResOpt{conv.ResNoiseLevel(deblurSigmaD)}
	if bounded {
		opts = append(opts, conv.ResLipschitz(1))
	}
	return conv.NewResCNN(s, name, n.a.H, n.a.W, n.st.channels, n.st.depth, layers.ReLU, opts...)
}

// cell is the PGD or HQS operator called name with denoiser d, its data
// step starting at step (0: the paper's, imaging.DefaultPGDStep or
// imaging.DefaultHQSStep).
func (n deblurNets) cell(s *layers.Scope, op, name string, d *conv.ResCNN, step float64) layers.Cell {
	var opts []imaging.CellOpt
	if step > 0 {
		opts = append(opts, imaging.InitialStep(step))
	}
	if op == "hqs" {
		c := imaging.NewHQSCell(s, name, n.a, d, opts...)
		c.Lambda = n.st.lambda
		return c
	}
	c := imaging.NewPGDCell(s, name, n.a, d, opts...)
	c.Lambda = n.st.lambda
	return c
}

func (n deblurNets) implicitBody(s *layers.Scope, r deblurRecipe, icfg layers.ImplicitConfig, iters int, atx *G.Node, h *deblurHandle) (*G.Node, error) {
	h.cell = n.cell(s, r.op, r.op, n.denoiser(s, r.op+".D", true), n.st.implicitStep)
	h.layer = s.Implicit("deq", h.cell, icfg)
	h.layer.SetControls(layers.Controls{Iterations: iters, StartAtInjection: true})
	return h.layer.Fwd(atx)
}

// unfoldedBody is K stages y_k = G_k(y_{k−1}, x) from y₀ = Aᵀx, each with
// its own denoiser and step.
func (n deblurNets) unfoldedBody(s *layers.Scope, r deblurRecipe, atx *G.Node) (*G.Node, error) {
	y := atx
	for k := range r.stages {
		name := fmt.Sprintf("stage%d", k+1)
		var err error
		if y, err = n.cell(s, r.op, name, n.denoiser(s, name+".D", false), 0).Apply(y, G.Nodes{atx}); err != nil {
			return nil, err
		}
	}
	return y, nil
}

// describe is a model's description in the report.
func (n deblurNets) describe(r deblurRecipe, icfg layers.ImplicitConfig) string {
	st := n.st
	d := fmt.Sprintf("residual CNN D (%d 3×3 convolutions, %d channels, learned noise level σ_D from %g)", st.depth, st.channels, deblurSigmaD)
	gamma, beta := imaging.DefaultPGDStep, imaging.DefaultHQSBeta
	if r.implicit() && st.implicitStep > 0 {
		gamma, beta = st.implicitStep, 1/st.implicitStep
	}
	step := map[string]string{
		"pgd": fmt.Sprintf("D(y − γ(Aᵀ(Ay − x) + %gy)), γ learned in [0, 2/(1+λ)] (initially %g)", st.lambda, gamma),
		"hqs": fmt.Sprintf("D((AᵀA + (β+%g)I)⁻¹(Aᵀx + βy)), β = e^ρ learned (initially %g)", st.lambda, beta),
	}[r.op]
	switch {
	case r.op == "once":
		return fmt.Sprintf("the %s applied once to Aᵀx (the data step frozen), unconstrained", d)
	case r.implicit():
		icfg = layers.NewImplicit("", nil, icfg).Config() // the defaults, named
		return fmt.Sprintf("y_{t+1} = %s, %s with every convolution's operator norm ≤ 1; trained on y_%d from y₀ = Aᵀx with %s gradients; tested at t = %d (fixed point by %s in extra)",
			step, d, st.trainIters, icfg.Backward.Name(), st.evalT, icfg.Forward.Name())
	}
	return fmt.Sprintf("%d untied stages y_k = %s from y₀ = Aᵀx, each with its own unconstrained %s and step", r.stages, step, d)
}

// twin64 returns an evaluator of a float64 copy of the trained model m
// (its own parameters, holding the trained values) and the handle of
// its build: the Lipschitz probes change images by 1e-2 and less, which
// float32's rounding would blur over 100 iterations.
func (n deblurNets) twin64(m *network.Network, icfg layers.ImplicitConfig, batch int) (*train.Evaluator, *deblurHandle, error) {
	r, ok := n.recipes[m.Name()]
	if !ok {
		return nil, nil, fmt.Errorf("experiments: no recipe for model %q", m.Name())
	}
	twin, h := n.build(r, tensor.Float64, icfg, n.st.evalT, nil)
	ev, err := train.NewEvaluator(twin, batch)
	if err != nil {
		return nil, nil, err
	}
	src, dst := m.Scope().Params(), twin.Scope().Params()
	if len(src) != len(dst) {
		ev.Close()
		return nil, nil, fmt.Errorf("experiments: %s: float64 copy has %d parameters, the model %d", m.Name(), len(dst), len(src))
	}
	for i := range src {
		from, err := layers.Floats64(src[i].Value())
		if err != nil {
			ev.Close()
			return nil, nil, err
		}
		copy(dst[i].Value().Data().([]float64), from)
	}
	return ev, h, nil
}
