package experiments

import (
	"fmt"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/train"
)

// netModel adapts a model written with package layers to train.Model.
// The first Build creates the parameters in a Scope; later builds rebind
// that scope to their graph, so every graph shares the parameter values.
type netModel struct {
	name, kind, desc string
	dt               tensor.Dtype
	seed             uint64
	in, out          []int // per-sample input and target shapes
	// body builds the network from the input node.
	body func(s *layers.Scope, x *G.Node) (*G.Node, error)
	// loss builds the training loss; mask is nil unless withMask.
	loss     func(out, y, mask *G.Node) (*G.Node, error)
	withMask bool
	// warm turns on per-sample warm starts in training graphs.
	warm bool
	// shared holds the scope of the first build; copies of the model
	// (views at other input sizes) share it, and with it the parameters.
	shared *sharedScope
	params int
}

type sharedScope struct{ root *layers.Scope }

var _ train.Model = (*netModel)(nil)

func (m *netModel) Name() string { return m.name }
func (m *netModel) Kind() string { return m.kind }

func (m *netModel) Build(g *G.ExprGraph, batch int, trainGraph bool) (*train.Net, error) {
	if m.shared == nil {
		m.shared = &sharedScope{}
	}
	var s *layers.Scope
	if m.shared.root == nil {
		s = layers.NewScope(g, m.dt, rand.New(rand.NewPCG(m.seed, 0x6d6f64656c)))
		m.shared.root = s
	} else {
		s = m.shared.root.Rebind(g)
	}
	x := G.NewTensor(g, m.dt, len(m.in)+1, G.WithShape(append([]int{batch}, m.in...)...), G.WithName("x"))
	out, err := m.body(s, x)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.name, err)
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", m.name, err)
	}
	m.params = layers.CountParams(s.Params())
	imps := s.Implicits()
	net := &train.Net{X: x, Out: out, Project: s.Project}
	if len(imps) > 0 {
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
				ls := l.Stats()
				st = st.Add(train.SolverStats{
					ForwardCalls: ls.ForwardCalls, BackwardCalls: ls.BackwardCalls,
					ForwardIters: ls.ForwardIters, BackwardIters: ls.BackwardIters,
					ForwardNotConverged: ls.ForwardNotConverged, ForwardSamples: ls.ForwardSamples,
					BackwardNotConverged: ls.BackwardNotConverged, BackwardSamples: ls.BackwardSamples,
				})
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
	}
	// Layers trained unrolled have no fixed point to take J_f at.
	var solved []*layers.Implicit
	for _, l := range imps {
		if _, unrolled := l.Config().Backward.(deq.Unrolled); !unrolled {
			solved = append(solved, l)
		}
	}
	if len(solved) > 0 {
		net.SpectralRadius = func() (float64, error) {
			rng := rand.New(rand.NewPCG(m.seed, 0x72686f)) // the same probe vectors every epoch
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
	if trainGraph && m.warm {
		for _, l := range imps {
			c := l.Controls()
			c.WarmStart = true
			l.SetControls(c)
		}
	}
	if trainGraph {
		y := G.NewTensor(g, m.dt, len(m.out)+1, G.WithShape(append([]int{batch}, m.out...)...), G.WithName("y"))
		var mask *G.Node
		if m.withMask {
			mask = G.NewTensor(g, m.dt, 2, G.WithShape(batch, 1), G.WithName("mask"))
		}
		loss, err := m.loss(out, y, mask)
		if err != nil {
			return nil, fmt.Errorf("%s: loss: %w", m.name, err)
		}
		for _, l := range imps { // regularisers such as the Jacobian penalty
			if p := l.Penalty(); p != nil {
				if loss, err = G.Add(loss, p); err != nil {
					return nil, fmt.Errorf("%s: penalty: %w", m.name, err)
				}
			}
		}
		net.Y, net.Mask, net.Loss, net.Params = y, mask, loss, s.Params()
	}
	return net, nil
}

// crossEntropy is the classification loss (padding rows have zero targets
// and drop out of it).
func crossEntropy(out, y, _ *G.Node) (*G.Node, error) { return layers.SoftmaxCrossEntropy(out, y) }
