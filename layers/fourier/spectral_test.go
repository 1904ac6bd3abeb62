package fourier

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"

	"github.com/implicit-ml/implicit/internal/layertest"
	"github.com/implicit-ml/implicit/layers"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// naiveSpectral is K x written out with complex arithmetic, straight from
// the definition in spectral.go: the truncated DFT, per-mode complex
// mixing and the inverse real transform of the half spectrum.
func naiveSpectral(x, w []float64, b, s, m, cin, cout int) []float64 {
	modes := spectralModes(m)
	n := modes * cin * cout
	out := make([]float64, b*s*s*cout)
	for bi := range b {
		for j := range 2 * m {
			kx := j
			if j >= m {
				kx = s - 2*m + j
			}
			for ky := range m {
				f := make([]complex128, cin)
				for xi := range s {
					for y := range s {
						e := cmplx.Exp(complex(0, -2*math.Pi*float64(kx*xi+ky*y)/float64(s)))
						for c := range cin {
							f[c] += complex(x[((bi*s+xi)*s+y)*cin+c], 0) * e
						}
					}
				}
				alpha := 2.0
				if ky == 0 {
					alpha = 1
				}
				k := j*m + ky
				for o := range cout {
					var h complex128
					for c := range cin {
						h += f[c] * complex(w[(k*cin+c)*cout+o], w[n+(k*cin+c)*cout+o])
					}
					for xi := range s {
						for y := range s {
							e := cmplx.Exp(complex(0, 2*math.Pi*float64(kx*xi+ky*y)/float64(s)))
							out[((bi*s+xi)*s+y)*cout+o] += alpha * real(h*e) / float64(s*s)
						}
					}
				}
			}
		}
	}
	return out
}

func TestSpectralConvMatchesDFT(t *testing.T) {
	for _, c := range []struct{ b, s, m, cin, cout int }{
		{2, 8, 2, 3, 2}, {1, 8, 4, 1, 1}, {3, 6, 3, 2, 4}, {2, 7, 3, 2, 2},
	} {
		rng := rand.New(rand.NewPCG(uint64(c.s), uint64(c.m)))
		x := layertest.RandVec(rng, c.b*c.s*c.s*c.cin)
		w := layertest.RandVec(rng, 2*spectralModes(c.m)*c.cin*c.cout)
		add := layertest.RandVec(rng, c.b*c.s*c.s*c.cout)
		p := newSpectralPlan[float64](c.s, c.m, c.cin, c.cout)
		blk := blockBuf(p, w)
		got := make([]float64, len(add))
		p.apply(got, x, add, blk, c.b)
		want := naiveSpectral(x, w, c.b, c.s, c.m, c.cin, c.cout)
		var d, n float64
		for i := range want {
			want[i] += add[i]
			d = math.Max(d, math.Abs(got[i]-want[i]))
			n = math.Max(n, math.Abs(want[i]))
		}
		if d > 1e-12*n {
			t.Errorf("%+v: max |K x − naive| = %.3g (max |naive| %.3g)", c, d, n)
		}
	}
}

// TestSpectralTransposeAndWeightGrad checks ⟨g, K x⟩ = ⟨Kᵀ g, x⟩ and that
// weightGrad is the derivative of ⟨g, K x⟩, which is linear in W.
func TestSpectralTransposeAndWeightGrad(t *testing.T) {
	const b, s, m, cin, cout = 3, 8, 3, 2, 3
	rng := rand.New(rand.NewPCG(7, 8))
	x := layertest.RandVec(rng, b*s*s*cin)
	g := layertest.RandVec(rng, b*s*s*cout)
	w := layertest.RandVec(rng, 2*spectralModes(m)*cin*cout)
	dw := layertest.RandVec(rng, len(w))
	p := newSpectralPlan[float64](s, m, cin, cout)
	kx := make([]float64, len(g))
	p.apply(kx, x, nil, blockBuf(p, w), b)
	ktg := make([]float64, len(x))
	p.applyT(ktg, g, nil, blockBuf(p, w), b)
	if l, r := layertest.Dot(g, kx), layertest.Dot(ktg, x); math.Abs(l-r) > 1e-12*math.Abs(l) {
		t.Errorf("⟨g, Kx⟩ = %v, ⟨Kᵀg, x⟩ = %v", l, r)
	}
	gw := make([]float64, len(w))
	p.weightGrad(gw, x, g, b)
	kdx := make([]float64, len(g))
	p.apply(kdx, x, nil, blockBuf(p, dw), b)
	if l, r := layertest.Dot(gw, dw), layertest.Dot(g, kdx); math.Abs(l-r) > 1e-12*math.Abs(l) {
		t.Errorf("⟨∂W, δW⟩ = %v, ⟨g, K_δW x⟩ = %v", l, r)
	}
}

// spectralModel is x → SpectralConv (+ add) → tanh-free MSE against a
// random target, for finite-difference checks of every input.
func spectralModel(g *G.ExprGraph, withAdd bool) (*G.Node, G.Nodes, error) {
	const b, s, m, cin, cout = 2, 6, 2, 2, 3
	rng := rand.New(rand.NewPCG(31, 32))
	sc := layers.NewScope(g, tensor.Float64, rng)
	x := layertest.Input(g, tensor.Float64, rng, "x", b, s*s*cin)
	conv := NewSpectralConv(sc, "K", s, m, cin, cout)
	// Larger weights than the init, so every entry's gradient is well
	// above the differences' noise.
	w := conv.W.Value().Data().([]float64)
	for i := range w {
		w[i] = rng.NormFloat64()
	}
	var add *G.Node
	wrt := G.Nodes{x, conv.W}
	if withAdd {
		add = layertest.Input(g, tensor.Float64, rng, "add", b, s*s*cout)
		wrt = append(wrt, add)
	}
	y, err := conv.Apply(x, add)
	if err != nil {
		return nil, nil, err
	}
	// Square the output so the loss is not linear in it.
	sq, err := G.Square(y)
	if err != nil {
		return nil, nil, err
	}
	loss, err := layers.MSE(sq, layertest.Input(g, tensor.Float64, rng, "target", b, s*s*cout))
	return loss, wrt, err
}

func TestSpectralConvGradients(t *testing.T) {
	for name, withAdd := range map[string]bool{"plain": false, "with-addend": true} {
		t.Run(name, func(t *testing.T) {
			layertest.CheckGrads(t, 1e-7, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) { return spectralModel(g, withAdd) })
		})
	}
}

func TestSpectralConvRejectsBadSizes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, c := range []struct{ s, m, in, out int }{{8, 5, 1, 1}, {8, 0, 1, 1}, {1, 1, 1, 1}, {8, 2, 0, 1}} {
		s := layers.NewScope(G.NewGraph(), tensor.Float64, rng)
		if NewSpectralConv(s, "K", c.s, c.m, c.in, c.out); s.Err() == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	g := G.NewGraph()
	s := layers.NewScope(g, tensor.Float64, rng)
	conv := NewSpectralConv(s, "K", 8, 2, 2, 2)
	if _, err := conv.Fwd(layertest.Input(g, tensor.Float64, rng, "x", 2, 8*8)); err == nil {
		t.Error("input with the wrong channel count: no error")
	}
}

// TestSpectralConvLispMachine checks DoDiff: the LispMachine's gradients
// equal the TapeMachine's (symbolic) ones.
func TestSpectralConvLispMachine(t *testing.T) {
	layertest.CheckLispMachine(t, 1e-12, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) { return spectralModel(g, true) })
}
