package main

import (
	"cmp"
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/layers/fourier"
	"github.com/implicit-ml/implicit/network"
	"github.com/implicit-ml/implicit/train"
)

// The pde experiment's default problem, steady Navier–Stokes
// (train/experiments/pde_ns.go; its nsSpec is unexported, so the models
// are built here with the same layers/fourier calls): forcing (2, 32, 32)
// → vorticity (1, 32, 32), the experiment's 1000 cached training samples
// (seed 1) standardised as it does, batch 16; the frame (lift, output
// Fourier layer, projection 128 with GELU) around
//
//   - "deq": the FNO-DEQ, G = 3 Fourier layers of width 32 and 8 modes with
//     the lift injected into each, Anderson to a relative 1e-6 within 24
//     iterations, the phantom gradient (3 steps, damping 0.8); inference
//     (as every workload's implicit model here) runs a fixed count of
//     plain iterations from z₀ = 0: 50 of the experiment's evaluation
//     map, the average ½(z + G(z));
//   - "fno": the explicit FNO, one block of the same 3 layers on the lift
//     (the implicit model's parameters exactly);
//   - "fno++2": FNO++ of 2 untied blocks from z₀ = 0, the lift injected.
//
// The loss is the relative L2 error summed over the batch.
const (
	nsSize, nsWidth, nsModes, nsHidden, nsDepth = 32, 32, 8, 128, 3
	nsTol, nsMaxIter                            = 1e-6, 24
	nsEvalRelax, nsTestIters                    = 0.5, 50
	nsTrain                                     = 1000
	pdePhantomSteps, pdePhantomDamping          = 3, 0.8
)

// pdeSetup builds the Navier–Stokes models.
func pdeSetup(f *flags) (train.Model, train.Dataset, error) {
	if f.fixed > 0 && f.model != "deq" {
		return nil, nil, fmt.Errorf("-fixed applies to the deq model, not %q", f.model)
	}
	raw, err := datasets.LoadNavierStokes("", datasets.NavierStokesConfig{}, 1, nsTrain)
	if err != nil {
		return nil, nil, err
	}
	ds, err := exportPDE("pde", raw.Normalized(raw.Norm()))
	if err != nil {
		return nil, nil, err
	}
	width := cmp.Or(f.hidden, nsWidth)
	icfg := pdeImplicit(f, nsTol, nsMaxIter)
	var body func(s *layers.Scope, relax float64) layers.Layer
	kind := train.KindExplicit
	switch f.model {
	case "deq":
		kind = train.KindImplicit
		body = func(s *layers.Scope, relax float64) layers.Layer {
			g := fourier.NewFourierStack(s, "G", nsDepth, nsSize, width, nsModes)
			g.Relax = relax
			return s.Implicit("deq", g, icfg)
		}
	case "fno", "fno++2":
		blocks, inject := 1, false
		if f.model == "fno++2" {
			blocks, inject = 2, true
		}
		body = func(s *layers.Scope, _ float64) layers.Layer {
			return fourier.NewUntied(s, "G", blocks, nsDepth, nsSize, width, nsModes, inject)
		}
	default:
		return nil, nil, fmt.Errorf("pde: model %q: want deq, fno or fno++2", f.model)
	}
	m := network.New(nsNet("pde-"+f.model, kind, f, width, func(s *layers.Scope) layers.Layer { return body(s, 1) }))
	if kind == train.KindImplicit {
		f.inferModel = m.Sharing(nsNet("pde-deq.eval", kind, f, width, func(s *layers.Scope) layers.Layer { return body(s, nsEvalRelax) }))
	}
	return m, ds, nil
}

// nsNet is the experiment's frame around body: (B, 2, S, S) → (B, 1, S, S).
func nsNet(name, kind string, f *flags, width int, body func(*layers.Scope) layers.Layer) network.Spec {
	frame := fourier.FrameConfig{Size: nsSize, In: 2, Width: width, Modes: nsModes, Hidden: nsHidden}
	return network.Spec{Name: name, Kind: kind, Dtype: f.dt, Seed: 1,
		Input: []int{2, nsSize, nsSize}, Target: []int{1, nsSize, nsSize}, Loss: fourier.RelativeL2Loss,
		Body: func(s *layers.Scope, x *G.Node) (*G.Node, error) {
			b := body(s) // first, as the experiment: the body draws its weights before the frame
			return fourier.NewFrame(s, "fno", frame, b).Fwd(x)
		}}
}

// pdeImplicit is both problems' implicit layer: Anderson forward to tol
// within maxIter (exactly f.fixed iterations with -fixed) and the
// phantom gradient, the experiment's default backward.
func pdeImplicit(f *flags, tol float64, maxIter int) layers.ImplicitConfig {
	stop := deq.Stop{Tol: cmp.Or(f.tol, tol), MaxIter: cmp.Or(f.maxIter, maxIter)}
	if f.fixed > 0 {
		stop = deq.Stop{Tol: deq.Never, MaxIter: f.fixed}
	}
	return layers.ImplicitConfig{Forward: deq.Anderson{}, Stop: stop,
		Backward: deq.Phantom{Steps: pdePhantomSteps, Damping: pdePhantomDamping}}
}
