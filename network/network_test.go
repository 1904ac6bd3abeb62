package network

import (
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/train"
)

func identityBody(s *layers.Scope, x *G.Node) (*G.Node, error) { return x, nil }

// TestSpecErrorsAreNeverLost: an invalid spec's error is returned by Err
// and by Build, and says what is missing.
func TestSpecErrorsAreNeverLost(t *testing.T) {
	for _, c := range []struct {
		name string
		spec Spec
		want string
	}{
		{"no name", Spec{Input: []int{1}, Target: []int{1}, Body: identityBody}, "needs a name"},
		{"no body", Spec{Name: "m", Input: []int{1}, Target: []int{1}}, "needs a Body"},
		{"no shapes", Spec{Name: "m", Body: identityBody}, "Input and Target"},
		{"zero size", Spec{Name: "m", Input: []int{0}, Target: []int{1}, Body: identityBody}, "positive"},
		{"bad kind", Spec{Name: "m", Kind: "deep", Input: []int{1}, Target: []int{1}, Body: identityBody}, "kind"},
		{"bad dtype", Spec{Name: "m", Dtype: tensor.Int, Input: []int{1}, Target: []int{1}, Body: identityBody}, "dtype"},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := New(c.spec)
			if err := n.Err(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Err() = %v, want one mentioning %q", err, c.want)
			}
			if _, err := n.Build(G.NewGraph(), 2, true); err == nil {
				t.Error("Build of an invalid spec succeeded")
			}
		})
	}
}

// TestKindFollowsTheBody: a spec without a Kind is implicit exactly when
// its body creates implicit layers; the loss is added and the mask is
// bound for training graphs only.
func TestKindFollowsTheBody(t *testing.T) {
	explicit := New(Spec{Name: "e", Input: []int{3}, Target: []int{2}, Dtype: tensor.Float64,
		Body: func(s *layers.Scope, x *G.Node) (*G.Node, error) { return s.Dense("d", 3, 2, layers.Identity).Fwd(x) }})
	implicit := New(Spec{Name: "i", Input: []int{3}, Target: []int{3}, Dtype: tensor.Float64, Loss: MaskedMSE,
		Body: func(s *layers.Scope, x *G.Node) (*G.Node, error) {
			return s.Implicit("deq", s.DenseCell("cell", 3, layers.Tanh), layers.ImplicitConfig{}).Fwd(x)
		}})
	for _, c := range []struct {
		n    *Network
		kind string
	}{{explicit, train.KindExplicit}, {implicit, train.KindImplicit}} {
		net, err := c.n.Build(G.NewGraph(), 4, true)
		if err != nil {
			t.Fatal(err)
		}
		if c.n.Kind() != c.kind || net.Loss == nil || net.Mask == nil || net.Y == nil {
			t.Errorf("%s: kind %s (want %s), loss %v, mask %v", c.n.Name(), c.n.Kind(), c.kind, net.Loss, net.Mask)
		}
		if (net.SetIterations != nil) != (c.kind == train.KindImplicit) {
			t.Errorf("%s: test-time controls present: %v", c.n.Name(), net.SetIterations != nil)
		}
		inf, err := c.n.Build(G.NewGraph(), 4, false)
		if err != nil {
			t.Fatal(err)
		}
		if inf.Loss != nil || inf.Y != nil || inf.Params != nil {
			t.Errorf("%s: an inference graph has a loss, targets or trainable parameters", c.n.Name())
		}
	}
	if explicit.Params() != 3*2+2 {
		t.Errorf("explicit model has %d parameters, want 8", explicit.Params())
	}
}
