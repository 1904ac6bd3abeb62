package layers

import (
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// rebuildModel builds, in s, a bounded dense layer and the two
// reparametrised weights that keep state beside their parameters; it
// returns the effective weights' nodes.
func rebuildModel(t *testing.T, s *Scope) (dense *Dense, spectral, monotone *G.Node) {
	t.Helper()
	dense = s.Dense("fc", 6, 5, Tanh, SpectralBound(0.5))
	var err error
	if spectral, err = (SpectralNorm{}).Weight(s, "sn", 5, 4); err != nil {
		t.Fatal(err)
	}
	if monotone, err = (Monotone{}).Weight(s, "mono", 4, 4); err != nil {
		t.Fatal(err)
	}
	if s.Err() != nil {
		t.Fatal(s.Err())
	}
	return dense, spectral, monotone
}

func valueOf(t *testing.T, n *G.Node) []float64 {
	t.Helper()
	v, err := Floats64(n.Value())
	if err != nil {
		t.Fatal(err)
	}
	return append([]float64(nil), v...)
}

func runGraph(t *testing.T, g *G.ExprGraph) {
	t.Helper()
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
}

// TestRebuildLeavesTheModelAlone: building another graph of a model (an
// inference graph, before or after training) neither changes its
// parameters nor draws from its random source. (The bounded dense layer
// projected the shared weights again on every build, so a rebuild after
// training rescaled a trained W, and building the evaluator before
// training gave another trained model than building it after.)
func TestRebuildLeavesTheModelAlone(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	s := NewScope(G.NewGraph(), tensor.Float64, rng)
	dense, _, _ := rebuildModel(t, s)
	w := dense.W.Value().Data().([]float64)
	for i := range w { // training moved W past its bound; Project has not run yet
		w[i] *= 3
	}
	before := map[string][]float64{}
	for _, p := range s.Params() {
		before[p.Name()] = valueOf(t, p)
	}
	control := rand.New(rand.NewPCG(1, 2))
	rebuildModel(t, NewScope(G.NewGraph(), tensor.Float64, control)) // the same draws as s's build

	r := s.Rebind(G.NewGraph())
	rebuildModel(t, r)
	for _, p := range r.Params() {
		got := valueOf(t, p)
		for i, v := range before[p.Name()] {
			if got[i] != v {
				t.Fatalf("rebuilding changed %s[%d]: %v → %v", p.Name(), i, v, got[i])
			}
		}
	}
	if a, b := rng.Uint64(), control.Uint64(); a != b {
		t.Errorf("rebuilding drew from the model's random source")
	}
}

// TestEarlyGraphSeesTrainedState: an inference graph built before
// training computes the effective weights the training graph does after
// the parameters moved and the training graph's projections ran (a
// spectral normalisation's singular vectors, a monotone cell's step α).
func TestEarlyGraphSeesTrainedState(t *testing.T) {
	early := NewScope(G.NewGraph(), tensor.Float64, rand.New(rand.NewPCG(3, 4)))
	_, spEarly, monoEarly := rebuildModel(t, early)
	tr := early.Rebind(G.NewGraph())
	_, spTrain, monoTrain := rebuildModel(t, tr)
	rng := rand.New(rand.NewPCG(5, 6))
	for _, p := range tr.Params() { // a training step moved every parameter
		v, ok := p.Value().Data().([]float64)
		if !ok {
			continue // a scalar gain
		}
		for i := range v {
			v[i] += 0.5 * rng.NormFloat64()
		}
	}
	for range 40 {
		if err := tr.Project(); err != nil {
			t.Fatal(err)
		}
	}
	runGraph(t, early.Graph())
	runGraph(t, tr.Graph())
	for _, c := range []struct {
		name        string
		early, tran *G.Node
	}{{"spectral", spEarly, spTrain}, {"monotone", monoEarly, monoTrain}} {
		a, b := valueOf(t, c.early), valueOf(t, c.tran)
		for i := range a {
			if d := a[i] - b[i]; d > 1e-12 || d < -1e-12 {
				t.Fatalf("%s: the early graph's weight[%d] = %v, the training graph's %v", c.name, i, a[i], b[i])
			}
		}
	}
}
