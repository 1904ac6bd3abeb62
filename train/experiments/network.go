package experiments

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/train"
)

// NetworkSpec describes a model written with package layers: what its
// body builds from the input node, and what it trains against. It is how
// a user's own model (a notebook's, a program's) gets the experiments'
// machinery: train.Fit, train.NewEvaluator, test-time curves and reports.
type NetworkSpec struct {
	// Name identifies the model in logs, reports and checkpoints.
	Name string
	// Kind is train.KindExplicit, KindImplicit or KindUnrolled; empty
	// means implicit when Body creates implicit layers, else explicit.
	Kind string
	// Description says what the model is, for reports.
	Description string
	// Dtype is tensor.Float32 (the zero value's choice) or Float64.
	Dtype tensor.Dtype
	// Seed seeds the parameters' initialisation.
	Seed uint64
	// Input and Target are the per-sample shapes, as the dataset gives
	// them (train.Dataset's InputShape and TargetShape).
	Input, Target []int
	// Body builds the network's output from x, (batch, Input…), creating
	// its parameters in s. It is called once per graph (training,
	// inference, each batch size); the parameters are created on the first
	// call and shared by the later ones.
	Body func(s *layers.Scope, x *G.Node) (*G.Node, error)
	// Loss is "cross-entropy" (softmax, one-hot targets; the default) or
	// "mse" (padding rows masked out).
	Loss string
}

// Network is a train.Model built from a NetworkSpec.
type Network struct{ m *netModel }

var _ train.Model = (*Network)(nil)

// NewNetwork checks spec and returns the model.
func NewNetwork(spec NetworkSpec) (*Network, error) {
	switch {
	case spec.Name == "":
		return nil, fmt.Errorf("experiments: a network needs a name")
	case spec.Body == nil:
		return nil, fmt.Errorf("experiments: network %q needs a Body", spec.Name)
	case len(spec.Input) == 0 || len(spec.Target) == 0:
		return nil, fmt.Errorf("experiments: network %q needs per-sample Input and Target shapes", spec.Name)
	}
	switch spec.Kind {
	case "", train.KindExplicit, train.KindImplicit, train.KindUnrolled:
	default:
		return nil, fmt.Errorf("experiments: network %q: kind %q (want %s, %s or %s)", spec.Name, spec.Kind, train.KindExplicit, train.KindImplicit, train.KindUnrolled)
	}
	m := &netModel{name: spec.Name, kind: spec.Kind, desc: spec.Description, seed: spec.Seed,
		in: append([]int(nil), spec.Input...), out: append([]int(nil), spec.Target...), shared: &sharedScope{}}
	switch spec.Dtype {
	case tensor.Dtype{}, tensor.Float32:
		m.dt = tensor.Float32
	case tensor.Float64:
		m.dt = tensor.Float64
	default:
		return nil, fmt.Errorf("experiments: network %q: dtype %v (want float32 or float64)", spec.Name, spec.Dtype)
	}
	switch spec.Loss {
	case "", "cross-entropy":
		m.loss = crossEntropy
	case "mse":
		m.loss, m.withMask = layers.MaskedMSE, true
	default:
		return nil, fmt.Errorf("experiments: network %q: loss %q (want cross-entropy or mse)", spec.Name, spec.Loss)
	}
	m.body = func(s *layers.Scope, x *G.Node) (*G.Node, error) {
		out, err := spec.Body(s, x)
		if err == nil && m.kind == "" {
			m.kind = train.KindExplicit
			if len(s.Implicits()) > 0 {
				m.kind = train.KindImplicit
			}
		}
		return out, err
	}
	return &Network{m: m}, nil
}

// Name implements train.Model.
func (n *Network) Name() string { return n.m.name }

// Kind implements train.Model. Before the first Build of a spec with no
// Kind it is explicit.
func (n *Network) Kind() string {
	if n.m.kind == "" {
		return train.KindExplicit
	}
	return n.m.kind
}

// Build implements train.Model.
func (n *Network) Build(g *G.ExprGraph, batch int, trainGraph bool) (*train.Net, error) {
	return n.m.Build(g, batch, trainGraph)
}

// Params returns the number of trainable parameters (0 before the first
// Build).
func (n *Network) Params() int { return n.m.params }
