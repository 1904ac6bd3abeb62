package network

import (
	"bytes"
	"context"
	"encoding/gob"
	"fmt"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/train"
)

// Random streams: the second word of the PCG seeds whose first word is
// Spec.Seed, so that the initial parameters and the spectral-radius probe
// vectors are independent streams of one seed.
const (
	paramStream  = 0x6d6f64656c // initial parameters
	radiusStream = 0x72686f     // power-iteration vectors of the spectral-radius monitor
)

// Build implements train.Model: the network for batches of batch samples
// in g, with its loss when trainGraph.
func (n *Network) Build(g *G.ExprGraph, batch int, trainGraph bool) (*train.Net, error) {
	if n.err != nil {
		return nil, n.err
	}
	s := n.scope(g)
	x := G.NewTensor(g, n.spec.Dtype, len(n.spec.Input)+1, G.WithShape(append([]int{batch}, n.spec.Input...)...), G.WithName("x"))
	out, err := n.spec.Body(s, x)
	if err == nil {
		err = s.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.spec.Name, err)
	}
	imps := s.Implicits()
	if n.kind == "" {
		n.kind = train.KindExplicit
		if len(imps) > 0 {
			n.kind = train.KindImplicit
		}
	}
	n.count = layers.CountParams(s.Params())
	net := &train.Net{X: x, Out: out, Project: s.Project}
	if len(imps) > 0 {
		n.controls(net, imps)
	}
	if trainGraph {
		if n.spec.WarmStart {
			for _, l := range imps {
				c := l.Controls()
				c.WarmStart = true
				l.SetControls(c)
			}
		}
		if err := n.loss(net, g, batch, imps); err != nil {
			return nil, err
		}
		net.Params = s.Params()
	}
	return net, nil
}

// scope returns the scope the build creates or reuses parameters in.
func (n *Network) scope(g *G.ExprGraph) *layers.Scope {
	if n.params.root == nil {
		n.params.root = layers.NewScope(g, n.spec.Dtype, rand.New(rand.NewPCG(n.spec.Seed, paramStream)))
		return n.params.root
	}
	return n.params.root.Rebind(g)
}

// loss adds the target and mask inputs and the loss, with the implicit
// layers' penalties (the Jacobian regulariser), to a training Net.
func (n *Network) loss(net *train.Net, g *G.ExprGraph, batch int, imps []*layers.Implicit) error {
	y := G.NewTensor(g, n.spec.Dtype, len(n.spec.Target)+1, G.WithShape(append([]int{batch}, n.spec.Target...)...), G.WithName("y"))
	mask := G.NewTensor(g, n.spec.Dtype, 2, G.WithShape(batch, 1), G.WithName("mask"))
	loss, err := n.spec.Loss(net.Out, y, mask)
	if err != nil {
		return fmt.Errorf("%s: loss: %w", n.spec.Name, err)
	}
	for _, l := range imps {
		if p := l.Penalty(); p != nil {
			if loss, err = G.Add(loss, p); err != nil {
				return fmt.Errorf("%s: penalty: %w", n.spec.Name, err)
			}
		}
	}
	net.Y, net.Mask, net.Loss = y, mask, loss
	return nil
}

// controls gives the Net the handles of its implicit layers: test-time
// iterations, solve statistics, sample IDs for warm starts and the
// spectral-radius monitor.
func (n *Network) controls(net *train.Net, imps []*layers.Implicit) {
	net.SetIterations = func(t int) {
		for _, l := range imps {
			c := l.Controls()
			c.Iterations = t
			l.SetControls(c)
		}
	}
	net.SolverStats = func() train.SolverStats {
		var st train.SolverStats
		for _, l := range imps {
			st = st.Add(solverStats(l.Stats()))
		}
		return st
	}
	net.ResetSolverStats = func() {
		for _, l := range imps {
			l.ResetStats()
		}
	}
	net.SetSampleIDs = func(ids []int) {
		for _, l := range imps {
			l.SetSampleIDs(ids)
		}
	}
	net.SetContext = func(ctx context.Context) {
		for _, l := range imps {
			l.SetContext(ctx)
		}
	}
	net.State = func() ([]byte, error) { return layersState(imps) }
	net.SetState = func(b []byte) error { return setLayersState(imps, b) }
	// Layers trained unrolled have no fixed point to take J_f at.
	var solved []*layers.Implicit
	for _, l := range imps {
		if _, unrolled := l.Config().Backward.(deq.Unrolled); !unrolled {
			solved = append(solved, l)
		}
	}
	if len(solved) == 0 {
		return
	}
	seed := n.spec.Seed
	net.SpectralRadius = func() (float64, error) {
		rng := rand.New(rand.NewPCG(seed, radiusStream)) // the same probe vectors every epoch
		worst := 0.0
		for _, l := range solved {
			r, err := l.SpectralRadius(30, rng)
			if err != nil {
				return 0, err
			}
			worst = max(worst, r)
		}
		return worst, nil
	}
}

func solverStats(ls layers.Stats) train.SolverStats {
	return train.SolverStats{
		ForwardCalls: ls.ForwardCalls, BackwardCalls: ls.BackwardCalls,
		ForwardIters: ls.ForwardIters, BackwardIters: ls.BackwardIters,
		ForwardNotConverged: ls.ForwardNotConverged, ForwardSamples: ls.ForwardSamples,
		BackwardNotConverged: ls.BackwardNotConverged, BackwardSamples: ls.BackwardSamples,
	}
}

// layersState encodes the implicit layers' run-time states, in order.
func layersState(imps []*layers.Implicit) ([]byte, error) {
	states := make([][]byte, len(imps))
	for i, l := range imps {
		var err error
		if states[i], err = l.MarshalState(); err != nil {
			return nil, err
		}
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(states); err != nil {
		return nil, fmt.Errorf("network: encoding the layers' state: %w", err)
	}
	return buf.Bytes(), nil
}

// setLayersState restores what layersState saved.
func setLayersState(imps []*layers.Implicit, b []byte) error {
	var states [][]byte
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&states); err != nil {
		return fmt.Errorf("network: decoding the layers' state: %w", err)
	}
	if len(states) != len(imps) {
		return fmt.Errorf("network: the saved state is of %d implicit layers, the model has %d", len(states), len(imps))
	}
	for i, l := range imps {
		if err := l.UnmarshalState(states[i]); err != nil {
			return err
		}
	}
	return nil
}
