package main

import (
	"cmp"
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/network"
	"github.com/implicit-ml/implicit/train"
	"github.com/implicit-ml/implicit/train/experiments"
)

// The reason experiment's sizes and solver (train/experiments/reason.go;
// experiments.ReasonModel, ReasonCell and ReasonStack build its models):
// strings of 32 bits, a causal ReLU conv cell of 16 channels with a hidden
// layer of 32, Picard forward and adjoint to a relative 1e-5 within 72
// iterations.
const (
	reasonLen     = 32
	reasonCh      = 16
	reasonHid     = 32
	reasonTol     = 1e-5
	reasonMaxIter = 2*reasonLen + 8
)

// reasonSetup builds the reason experiment's model: "deq" (the implicit
// loop), "unrolled" (the cell unrolled 32 times) or "explicit" (32 untied
// conv layers), on synthetic parity strings both sides generate alike.
func reasonSetup(f *flags) (train.Model, train.Dataset, error) {
	stop := deq.Stop{Tol: cmp.Or(f.tol, reasonTol), MaxIter: cmp.Or(f.maxIter, reasonMaxIter)}
	if f.fixed > 0 {
		stop = deq.Stop{Tol: deq.Never, MaxIter: f.fixed}
	}
	icfg := layers.ImplicitConfig{Forward: deq.Picard{}, Stop: stop, Backward: deq.IFT{Solver: deq.Picard{}, Stop: stop}}
	ch, hid := cmp.Or(f.hidden, reasonCh), reasonHid
	var body func(*layers.Scope, *G.Node) (*G.Node, error)
	kind := train.KindImplicit
	switch f.model {
	case "deq":
		body = func(sc *layers.Scope, inj *G.Node) (*G.Node, error) {
			return sc.Implicit("loop", experiments.ReasonCell(sc, "cell", ch, hid), icfg).Fwd(inj)
		}
	case "unrolled":
		kind = train.KindUnrolled
		body = func(sc *layers.Scope, inj *G.Node) (*G.Node, error) {
			return (&layers.Unrolled{Cell: experiments.ReasonCell(sc, "cell", ch, hid), Steps: reasonLen}).Fwd(inj)
		}
	case "explicit":
		kind = train.KindExplicit
		body = func(sc *layers.Scope, inj *G.Node) (*G.Node, error) {
			return experiments.ReasonStack(sc, inj, ch, hid, reasonLen)
		}
	default:
		return nil, nil, fmt.Errorf("reason: model %q: want deq, unrolled or explicit", f.model)
	}
	if f.fixed > 0 && kind != train.KindImplicit {
		return nil, nil, fmt.Errorf("-fixed applies to the deq model, not %q", f.model)
	}
	spec := network.Spec{Name: "reason-" + f.model, Kind: kind, Dtype: f.dt, Seed: 1}
	return experiments.ReasonModel(spec, reasonLen, ch, hid, body), parity{n: max((f.steps+f.warmup)*f.batch, 256)}, nil
}

// parity is n strings of reasonLen pseudo-random bits with the one-hot
// prefix parities as targets; bit j of string i is parityBit(i, j), which
// bench/pytorch/reason.py computes alike.
type parity struct{ n int }

func (p parity) Len() int           { return p.n }
func (p parity) InputShape() []int  { return []int{reasonLen} }
func (p parity) TargetShape() []int { return []int{reasonLen, 2} }

func (p parity) Sample(i int, x, y []float32) {
	acc := 0
	for j := 0; j < reasonLen; j++ {
		b := parityBit(i, j)
		acc ^= b
		x[j] = float32(b)
		y[2*j], y[2*j+1] = float32(1-acc), float32(acc)
	}
}

func parityBit(i, j int) int {
	h := uint32(i*1000003+j*7919) * 2654435761
	return int(h>>16) & 1
}
