package main

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/layers/conv"
	"github.com/implicit-ml/implicit/network"
	"github.com/implicit-ml/implicit/train"
)

// The reason experiment's sizes and solver (train/experiments/reason.go):
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
	stop := deq.Stop{Tol: orFloat(f.tol, reasonTol), MaxIter: orInt(f.maxIter, reasonMaxIter)}
	if f.fixed > 0 {
		stop = deq.Stop{Tol: deq.Never, MaxIter: f.fixed}
	}
	icfg := layers.ImplicitConfig{Forward: deq.Picard{}, Stop: stop, Backward: deq.IFT{Solver: deq.Picard{}, Stop: stop}}
	ch, hid := orInt(f.hidden, reasonCh), reasonHid
	cell := func(sc *layers.Scope, name string) *conv.ConvCell {
		return conv.NewConvCellHidden(sc, name, ch, hid, []int{-1}, layers.ReLU)
	}
	var body func(*layers.Scope, *G.Node) (*G.Node, error)
	kind := train.KindImplicit
	switch f.model {
	case "deq":
		body = func(sc *layers.Scope, inj *G.Node) (*G.Node, error) {
			return sc.Implicit("loop", cell(sc, "cell"), icfg).Fwd(inj)
		}
	case "unrolled":
		kind = train.KindUnrolled
		body = func(sc *layers.Scope, inj *G.Node) (*G.Node, error) {
			return (&layers.Unrolled{Cell: cell(sc, "cell"), Steps: reasonLen}).Fwd(inj)
		}
	case "explicit":
		kind = train.KindExplicit
		body = func(sc *layers.Scope, inj *G.Node) (*G.Node, error) {
			shape := tensor.Shape{inj.Shape()[0], inj.Shape()[1] / hid * ch}
			z := inj.Graph().AddNode(G.NewConstant(tensor.New(tensor.WithShape(shape...), tensor.Of(f.dt)), G.WithName("zeros")))
			for k := 0; k < reasonLen; k++ {
				var err error
				if z, err = cell(sc, fmt.Sprintf("layer%d", k)).Apply(z, G.Nodes{inj}); err != nil {
					return nil, err
				}
			}
			return z, nil
		}
	default:
		return nil, nil, fmt.Errorf("reason: model %q: want deq, unrolled or explicit", f.model)
	}
	if f.fixed > 0 && kind != train.KindImplicit {
		return nil, nil, fmt.Errorf("-fixed applies to the deq model, not %q", f.model)
	}
	return reasonNet(f.model, kind, f.dt, ch, hid, body), parity{n: max((f.steps+f.warmup)*f.batch, 256)}, nil
}

// reasonNet is the experiment's embed → body → readout over strings of
// reasonLen bits, with the per-position cross-entropy.
func reasonNet(name, kind string, dt tensor.Dtype, ch, injCh int, body func(*layers.Scope, *G.Node) (*G.Node, error)) *network.Network {
	spec := network.Spec{Name: "reason-" + name, Kind: kind, Dtype: dt, Seed: 1, Input: []int{reasonLen}, Target: []int{reasonLen, 2}}
	spec.Body = func(s *layers.Scope, x *G.Node) (*G.Node, error) {
		b, n := x.Shape()[0], x.Shape()[1]
		e, err := s.Dense("embed", 1, injCh, layers.Identity).Fwd(G.Must(G.Reshape(x, tensor.Shape{b * n, 1})))
		if err != nil {
			return nil, err
		}
		z, err := body(s, G.Must(G.Reshape(e, tensor.Shape{b, n * injCh})))
		if err != nil {
			return nil, err
		}
		h, err := s.Dense("read1", ch, ch, layers.Tanh).Fwd(G.Must(G.Reshape(z, tensor.Shape{b * n, ch})))
		if err != nil {
			return nil, err
		}
		logits, err := s.Dense("read2", ch, 2, layers.Identity).Fwd(h)
		if err != nil {
			return nil, err
		}
		return G.Reshape(logits, tensor.Shape{b, n, 2})
	}
	spec.Loss = func(out, y, _ *G.Node) (*G.Node, error) {
		s := out.Shape()
		return layers.SoftmaxCrossEntropy(G.Must(G.Reshape(out, tensor.Shape{s[0] * s[1], 2})), G.Must(G.Reshape(y, tensor.Shape{s[0] * s[1], 2})))
	}
	return network.New(spec)
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
