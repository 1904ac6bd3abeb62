package conv

import (
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/internal/layertest"
	"github.com/implicit-ml/implicit/layers"
)

// noisyModel is x → ResCNN with a learned noise level → MSE against a
// random target; x, every weight and σ_D are checked.
func noisyModel(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
	rng := rand.New(rand.NewPCG(81, 82))
	s := layers.NewScope(g, tensor.Float64, rng)
	d := NewResCNN(s, "D", cvH, cvW, cvC, 3, layers.Tanh, ResSkip(0.7), ResNoiseLevel(0.3))
	if d.Err() != nil {
		return nil, nil, d.Err()
	}
	x := layertest.Input(g, tensor.Float64, rng, "x", cvB, cvH*cvW)
	y, err := d.Fwd(x)
	if err != nil {
		return nil, nil, err
	}
	loss, err := layers.MSE(y, layertest.Input(g, tensor.Float64, rng, "target", cvB, cvH*cvW))
	return loss, append(G.Nodes{x}, d.Params()...), err
}

// TestNoiseLevelGradients checks the denoiser with a noise-level channel
// against central differences in x, its weights and σ_D (float64).
func TestNoiseLevelGradients(t *testing.T) {
	layertest.CheckGrads(t, 1e-6, noisyModel)
}

// TestNoiseMapValues: the map holds u in the first channel and σ in every
// pixel of the second, per image.
func TestNoiseMapValues(t *testing.T) {
	u := []float64{1, 2, 3, 4, 5, 6}
	out := make([]float64, 12)
	NoiseMap(out, u, 0.5, 2)
	want := []float64{1, 2, 3, 0.5, 0.5, 0.5, 4, 5, 6, 0.5, 0.5, 0.5}
	layertest.Compare(t, "noise map", out, want)
}

// TestNoiseLevelKernel checks the ResCNN kernel with a noise level against
// the graph: Forward against Fwd, VJP against the graph's gradient in u.
func TestNoiseLevelKernel(t *testing.T) {
	g := G.NewGraph()
	loss, wrt, err := noisyModel(g)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := G.Grad(loss, wrt[0]); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	// Rebuild the same denoiser (same seed) for its kernel and its output.
	g2 := G.NewGraph()
	rng := rand.New(rand.NewPCG(81, 82))
	s := layers.NewScope(g2, tensor.Float64, rng)
	d := NewResCNN(s, "D", cvH, cvW, cvC, 3, layers.Tanh, ResSkip(0.7), ResNoiseLevel(0.3))
	x := layertest.Input(g2, tensor.Float64, rng, "x", cvB, cvH*cvW)
	target := layertest.Input(g2, tensor.Float64, rng, "target", cvB, cvH*cvW)
	y, err := d.Fwd(x)
	if err != nil {
		t.Fatal(err)
	}
	vm2 := G.NewTapeMachine(g2)
	defer vm2.Close()
	if err := vm2.RunAll(); err != nil {
		t.Fatal(err)
	}
	k := NewResCNNKernel[float64](d, cvB)
	var ps [][]float64
	for _, p := range d.Params() {
		ps = append(ps, p.Value().Data().([]float64))
	}
	if err := k.Bind(ps); err != nil {
		t.Fatal(err)
	}
	if err := k.Bind(ps[:len(ps)-1]); err == nil {
		t.Error("kernel bound without σ_D: no error")
	}
	if err := k.Bind(ps); err != nil {
		t.Fatal(err)
	}
	xv, yv, tv := x.Value().Data().([]float64), y.Value().Data().([]float64), target.Value().Data().([]float64)
	out := make([]float64, len(xv))
	k.Forward(out, xv, true)
	layertest.Compare(t, "kernel forward", out, yv)
	// MSE's gradient in y is 2(y − target)/len; the kernel's VJP of it is
	// the graph's gradient in x.
	v := make([]float64, len(yv))
	for i := range v {
		v[i] = 2 * (yv[i] - tv[i]) / float64(len(v))
	}
	k.VJP(out, v)
	gx, _ := wrt[0].Grad()
	layertest.Compare(t, "kernel VJP", out, gx.Data().([]float64))
}

// TestNoiseLevelStaysPositive: Project clips σ_D to MinNoiseLevel, and a
// negative initial level is an error.
func TestNoiseLevelStaysPositive(t *testing.T) {
	g := G.NewGraph()
	s := layers.NewScope(g, tensor.Float64, rand.New(rand.NewPCG(1, 2)))
	d := NewResCNN(s, "D", cvH, cvW, cvC, 3, layers.ReLU, ResNoiseLevel(0.03))
	if got := d.NoiseLevel(); got != 0.03 {
		t.Fatalf("σ_D starts at %v, want 0.03", got)
	}
	d.Sigma.Value().Data().([]float64)[0] = -2
	if err := s.Project(); err != nil {
		t.Fatal(err)
	}
	if got := d.NoiseLevel(); got != MinNoiseLevel {
		t.Errorf("σ_D = %v after projecting −2, want %v", got, MinNoiseLevel)
	}
	if d := NewResCNN(layers.NewScope(G.NewGraph(), tensor.Float64, nil), "D", cvH, cvW, cvC, 3, layers.ReLU, ResNoiseLevel(-1)); d.Err() == nil {
		t.Error("negative noise level: no error")
	}
}
