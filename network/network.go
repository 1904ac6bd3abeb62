package network

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/train"
)

// Spec describes a model written with package layers.
type Spec struct {
	// Name identifies the model in logs, reports and checkpoints.
	// Required.
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
	// them (train.Dataset's InputShape and TargetShape). Required.
	Input, Target []int
	// Body builds the network's output from x, (batch, Input…), creating
	// its parameters in s. It is called once per graph (training,
	// inference, each batch size); the parameters are created on the first
	// call and shared by the later ones. Required.
	Body func(s *layers.Scope, x *G.Node) (*G.Node, error)
	// Loss builds the training loss; nil means CrossEntropy.
	Loss Loss
	// WarmStart starts every implicit solve of the training graph from
	// the sample's own fixed point of the previous epoch.
	WarmStart bool
}

// Loss builds a scalar training loss from the model's output, the
// targets (batch, Target…) and the mask (batch, 1), which is 1 for the
// rows of real samples and 0 for the padding rows of the last partial
// batch. A loss that does not vanish on zero targets must use the mask.
type Loss func(out, target, mask *G.Node) (*G.Node, error)

// CrossEntropy is the softmax cross-entropy against one-hot targets; the
// padding rows have zero targets and drop out of it without the mask.
func CrossEntropy(out, target, _ *G.Node) (*G.Node, error) {
	return layers.SoftmaxCrossEntropy(out, target)
}

// MaskedMSE is the mean squared error over the real rows.
func MaskedMSE(out, target, mask *G.Node) (*G.Node, error) {
	return layers.MaskedMSE(out, target, mask)
}

// Network is a train.Model built from a Spec.
type Network struct {
	spec Spec
	err  error // the spec's, returned by Err and every Build
	// kind is the resolved kind (empty until the first Build when the spec
	// leaves it to the body).
	kind string
	// params holds the scope of the first build of this network or of
	// any network sharing its parameters.
	params *paramStore
	count  int
}

// paramStore is the scope whose parameters a family of sharing networks
// owns.
type paramStore struct{ root *layers.Scope }

var _ train.Model = (*Network)(nil)

// New returns the model spec describes. Like the layers of package layers
// it never fails: an invalid spec's error is returned by Err and by every
// Build, so it cannot be lost.
func New(spec Spec) *Network {
	n := &Network{params: &paramStore{}}
	if n.err = spec.validate(); n.err != nil {
		n.spec = Spec{Name: spec.Name}
		return n
	}
	if spec.Dtype == (tensor.Dtype{}) {
		spec.Dtype = tensor.Float32
	}
	if spec.Loss == nil {
		spec.Loss = CrossEntropy
	}
	spec.Input = append([]int(nil), spec.Input...)
	spec.Target = append([]int(nil), spec.Target...)
	n.spec, n.kind = spec, spec.Kind
	return n
}

// Err returns the spec's error, if it is invalid.
func (n *Network) Err() error { return n.err }

func (s Spec) validate() error {
	switch {
	case s.Name == "":
		return fmt.Errorf("network: a network needs a name")
	case s.Body == nil:
		return fmt.Errorf("network: network %q needs a Body", s.Name)
	case len(s.Input) == 0 || len(s.Target) == 0:
		return fmt.Errorf("network: network %q needs per-sample Input and Target shapes", s.Name)
	}
	for _, d := range append(append([]int(nil), s.Input...), s.Target...) {
		if d <= 0 {
			return fmt.Errorf("network: network %q has shapes Input %v and Target %v; every size must be positive", s.Name, s.Input, s.Target)
		}
	}
	switch s.Kind {
	case "", train.KindExplicit, train.KindImplicit, train.KindUnrolled:
	default:
		return fmt.Errorf("network: network %q: kind %q (want %s, %s or %s)", s.Name, s.Kind, train.KindExplicit, train.KindImplicit, train.KindUnrolled)
	}
	switch s.Dtype {
	case tensor.Dtype{}, tensor.Float32, tensor.Float64:
	default:
		return fmt.Errorf("network: network %q: dtype %v (want float32 or float64)", s.Name, s.Dtype)
	}
	return nil
}

// Sharing returns a network built from spec whose parameters are n's: a
// parameter its body creates under a name n's body used is the same
// tensor. Use it for a view of n at other input sizes, a phase of n's
// training with another body, or a readout of n's state; spec.Seed only
// matters for parameters n does not have.
func (n *Network) Sharing(spec Spec) *Network {
	m := New(spec)
	m.params = n.params
	return m
}

// Spec returns the network's specification (with its defaults filled
// in), for Sharing a variant of it.
func (n *Network) Spec() Spec {
	s := n.spec
	s.Input, s.Target = append([]int(nil), s.Input...), append([]int(nil), s.Target...)
	return s
}

// Name implements train.Model.
func (n *Network) Name() string { return n.spec.Name }

// Kind implements train.Model. Before the first Build of a spec with no
// Kind it is explicit.
func (n *Network) Kind() string {
	if n.kind == "" {
		return train.KindExplicit
	}
	return n.kind
}

// Description says what the model is.
func (n *Network) Description() string { return n.spec.Description }

// Params returns the number of trainable parameters (0 before the first
// Build).
func (n *Network) Params() int { return n.count }

// Scope returns the scope of the first build among the networks sharing
// n's parameters (nil before it): its Params hold the trained values.
func (n *Network) Scope() *layers.Scope { return n.params.root }
