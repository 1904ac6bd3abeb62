package served

import (
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/network"
	"github.com/implicit-ml/implicit/serve"
	"github.com/implicit-ml/implicit/train/experiments"
)

// loaded builds a small DEQ with the given implicit configuration and
// controls, as LoadModel returns it.
func loaded(t *testing.T, cfg layers.ImplicitConfig, ctl layers.Controls) *experiments.Loaded {
	t.Helper()
	var imp *layers.Implicit
	net := network.New(network.Spec{Name: "deq", Dtype: tensor.Float64, Seed: 1, Input: []int{4}, Target: []int{2}, Loss: network.CrossEntropy,
		Body: func(s *layers.Scope, x *G.Node) (*G.Node, error) {
			imp = s.Implicit("deq", s.DenseCell("cell", 8, layers.Tanh), cfg)
			imp.SetControls(ctl)
			return layers.Sequential{s.Dense("inject", 4, 8, layers.Identity, layers.NoBias()), imp, s.Dense("head", 8, 2, layers.Identity)}.Fwd(x)
		}})
	if _, err := net.Build(G.NewGraph(), 1, false); err != nil {
		t.Fatal(err)
	}
	return &experiments.Loaded{Model: net, Input: []int{4}, Output: []int{2}, Implicits: []*layers.Implicit{imp}, Stop: cfg.Stop}
}

// TestBudgetedOnlyWhenTheSolverRuns: a model takes budgets only when its
// implicit layer solves with serve's solver; a layer unrolled in the
// graph, one that runs a fixed number of iterations, or one with another
// solver would ignore them, and is served without.
func TestBudgetedOnlyWhenTheSolverRuns(t *testing.T) {
	stop := deq.Stop{Tol: 1e-6, MaxIter: 50}
	wrapped := serve.WrapSolver(deq.Anderson{})
	for _, c := range []struct {
		name string
		cfg  layers.ImplicitConfig
		ctl  layers.Controls
		want bool
	}{
		{"serve's solver", layers.ImplicitConfig{Forward: wrapped, Stop: stop}, layers.Controls{}, true},
		{"another solver", layers.ImplicitConfig{Forward: deq.Anderson{}, Stop: stop}, layers.Controls{}, false},
		{"unrolled", layers.ImplicitConfig{Forward: wrapped, Stop: stop, Backward: deq.Unrolled{}}, layers.Controls{}, false},
		{"fixed iterations", layers.ImplicitConfig{Forward: wrapped, Stop: stop}, layers.Controls{Iterations: 5}, false},
	} {
		if got := Model(loaded(t, c.cfg, c.ctl)).Budgeted; got != c.want {
			t.Errorf("%s: Budgeted %v, want %v", c.name, got, c.want)
		}
	}
}
