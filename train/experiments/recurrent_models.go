package experiments

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/layers/attention"
	"github.com/implicit-ml/implicit/network"
	"github.com/implicit-ml/implicit/train"
)

// recurrentModel is the recurrent-depth transformer's training network
// (its graph holds Backprop in-graph core iterations) with the evaluation
// view that shares its parameters (one in-graph iteration, so that
// SetIterations(r) runs exactly r).
type recurrentModel struct {
	*network.Network
	view *network.Network
	// rec draws each batch's r; backprop is k.
	rec      attention.Recurrence
	backprop int
	seed     uint64
}

// Build implements train.Model. In a training graph every batch iterates
// the core r times, r drawn by rec from a stream named by the seed and
// the batch's sample indices: the draws are those of the data order, so
// a run resumed from a checkpoint draws what the uninterrupted run drew.
func (m *recurrentModel) Build(g *G.ExprGraph, batch int, trainGraph bool) (*train.Net, error) {
	net, err := m.Network.Build(g, batch, trainGraph)
	if err != nil || !trainGraph {
		return net, err
	}
	if net.SetIterations == nil {
		return nil, fmt.Errorf("experiments: %s has no implicit core", m.Name())
	}
	ids := net.SetSampleIDs
	net.SetSampleIDs = func(idx []int) {
		if ids != nil {
			ids(idx)
		}
		r := m.rec.Draw(rand.New(rand.NewPCG(m.seed, batchKey(idx))))
		net.SetIterations(r - m.backprop + 1)
	}
	return net, nil
}

// batchKey hashes a batch's sample indices.
func batchKey(idx []int) uint64 {
	h := fnv.New64a()
	for _, i := range idx {
		fmt.Fprint(h, i, ",")
	}
	return h.Sum64()
}

// recurrentSpec is a network on token ids (B, T) with next-token logits
// (B, T, V) trained by the cross-entropy of the answer positions (the
// targets are zero elsewhere).
func recurrentSpec(name, kind, desc string, dt tensor.Dtype, seed uint64, seqLen, vocab int, body func(*layers.Scope, *G.Node) (*G.Node, error)) network.Spec {
	return network.Spec{Name: name, Kind: kind, Description: desc, Dtype: dt, Seed: seed, Input: []int{seqLen}, Target: []int{seqLen, vocab},
		Body: func(s *layers.Scope, x *G.Node) (*G.Node, error) {
			logits, err := body(s, x)
			if err != nil {
				return nil, err
			}
			return G.Reshape(logits, tensor.Shape{x.Shape()[0], seqLen, vocab})
		},
		Loss: func(out, y, _ *G.Node) (*G.Node, error) {
			s := out.Shape()
			o2, err := G.Reshape(out, tensor.Shape{s[0] * s[1], s[2]})
			if err != nil {
				return nil, err
			}
			y2, err := G.Reshape(y, tensor.Shape{s[0] * s[1], s[2]})
			if err != nil {
				return nil, err
			}
			return layers.SoftmaxCrossEntropy(o2, y2)
		}}
}

// newRecurrentModel builds the recurrent-depth model and its view.
func newRecurrentModel(s Settings, sz recurrentSizes, seqLen int) *recurrentModel {
	cfg := attention.RecurrentConfig{Vocab: sz.vocab, Core: attention.CoreConfig{Block: sz.block(s.Hidden, seqLen), Layers: sz.core},
		Prelude: sz.prelude, Coda: sz.coda, Positions: true, Backprop: sz.backprop, Solver: s.Solver, Stop: s.Stop}
	desc := fmt.Sprintf("embed → %d prelude block(s) → weight-tied core (adapter on [z, e], %d sandwich block(s)) iterated r times, r ~ %s per batch, truncated backprop through the last %d → %d coda block(s) → norm → logits",
		sz.prelude, sz.core, sz.recurrenceName(), sz.backprop, sz.coda)
	body := func(c attention.RecurrentConfig) func(*layers.Scope, *G.Node) (*G.Node, error) {
		return func(sc *layers.Scope, x *G.Node) (*G.Node, error) {
			return attention.NewRecurrentDepth(sc, "rd", c).Fwd(x)
		}
	}
	n := network.New(recurrentSpec("recurrent-depth", train.KindImplicit, desc, s.Dtype, s.Seed, seqLen, sz.vocab, body(cfg)))
	view := cfg
	view.Backprop = 1
	return &recurrentModel{Network: n, view: n.Sharing(recurrentSpec("recurrent-depth", train.KindImplicit, desc, s.Dtype, s.Seed, seqLen, sz.vocab, body(view))),
		rec: sz.recurrence(), backprop: sz.backprop, seed: s.Seed}
}

// newTransformer builds an untied transformer of the given depth.
func newTransformer(s Settings, sz recurrentSizes, seqLen, depth int, name, desc string) *network.Network {
	blk := sz.block(s.Hidden, seqLen)
	return network.New(recurrentSpec(name, train.KindExplicit, desc, s.Dtype, s.Seed, seqLen, sz.vocab,
		func(sc *layers.Scope, x *G.Node) (*G.Node, error) {
			return attention.NewTransformer(sc, "tf", attention.TransformerConfig{Vocab: sz.vocab, Depth: depth, Block: blk, Positions: true}).Fwd(x)
		}))
}
