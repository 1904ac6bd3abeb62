package main

import (
	"cmp"
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/layers/fourier"
	"github.com/implicit-ml/implicit/network"
	"github.com/implicit-ml/implicit/train"
)

// The pde experiment's Darcy problem (-problem darcy;
// train/experiments/pde_darcy.go, whose pdeModels is unexported, so the
// models are built here with the same calls): coefficient a (1, 32, 32) →
// solution u, the experiment's 1000 training samples (seed 1, from the
// dataset cache) standardised as it does, batch 20, mean squared error;
// the FNO frame (lift of (a, x, y) to width 16, projection 64 with ReLU)
// around
//
//   - "implicit": one Fourier cell z = ReLU(Kz + zW + v + b), 8 modes,
//     Anderson to a relative 1e-3 within 30 iterations, the phantom
//     gradient (3 steps, damping 0.8), tested at 30 plain iterations;
//   - "explicit": one Fourier layer ReLU(Kv + vW + b) (the experiment's
//     explicit-fno-1, the same parameters).
const (
	darcySize, darcyWidth, darcyModes, darcyHidden = 32, 16, 8, 64
	darcyTol, darcyMaxIter                         = 1e-3, 30
	darcyTrain                                     = 1000
)

// darcySetup builds the Darcy models.
func darcySetup(f *flags) (train.Model, train.Dataset, error) {
	if f.fixed > 0 && f.model != "implicit" {
		return nil, nil, fmt.Errorf("-fixed applies to the implicit model, not %q", f.model)
	}
	raw, err := datasets.LoadDarcy("", datasets.DarcyConfig{}, 1, darcyTrain)
	if err != nil {
		return nil, nil, err
	}
	ds, err := exportPDE("darcy", raw.Normalized(raw.Norm()))
	if err != nil {
		return nil, nil, err
	}
	width := cmp.Or(f.hidden, darcyWidth)
	var body func(s *layers.Scope) layers.Layer
	kind := train.KindExplicit
	switch f.model {
	case "implicit":
		kind = train.KindImplicit
		icfg := pdeImplicit(f, darcyTol, darcyMaxIter)
		body = func(s *layers.Scope) layers.Layer {
			return s.Implicit("deq", fourier.NewFNOCell(s, "cell", darcySize, width, darcyModes, layers.ReLU), icfg)
		}
	case "explicit":
		body = func(s *layers.Scope) layers.Layer {
			return layers.Sequential{fourier.NewFourierBlock(s, "block0", darcySize, width, darcyModes, layers.ReLU)}
		}
	default:
		return nil, nil, fmt.Errorf("darcy: model %q: want explicit or implicit", f.model)
	}
	return network.New(network.Spec{Name: "darcy-" + f.model, Kind: kind, Dtype: f.dt, Seed: 1,
		Input: []int{1, darcySize, darcySize}, Target: []int{1, darcySize, darcySize}, Loss: network.MaskedMSE,
		Body: func(s *layers.Scope, x *G.Node) (*G.Node, error) {
			return fourier.NewFNO(s, "fno", darcySize, width, darcyHidden, layers.ReLU, body(s)).Fwd(x)
		}}), ds, nil
}
