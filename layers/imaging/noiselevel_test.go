package imaging

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/layertest"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/layers/conv"
)

// noisyCells builds the PGD and HQS cells (HQS also with a Tikhonov
// weight λ) on a denoiser with a learned noise level σ_D
// (conv.ResNoiseLevel).
var noisyCells = map[string]func(s *layers.Scope, a *Blur, d *conv.ResCNN) layers.Cell{
	"pgd": func(s *layers.Scope, a *Blur, d *conv.ResCNN) layers.Cell {
		c := NewPGDCell(s, "c", a, d)
		c.Lambda = 0.3
		return c
	},
	"hqs": func(s *layers.Scope, a *Blur, d *conv.ResCNN) layers.Cell { return NewHQSCell(s, "c", a, d) },
	"hqs-tikhonov": func(s *layers.Scope, a *Blur, d *conv.ResCNN) layers.Cell {
		c := NewHQSCell(s, "c", a, d)
		c.Lambda = 0.3
		return c
	},
}

// TestNoisyCellKernels checks both cells' kernels with a noise-level
// channel against the cells built in a graph and against central
// differences (float64).
func TestNoisyCellKernels(t *testing.T) {
	for name, mk := range noisyCells {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(83, 84))
			g := G.NewGraph()
			s := layers.NewScope(g, tensor.Float64, rng)
			a, err := NewBlur("shake", cvH+2, cvW+2)
			if err != nil {
				t.Fatal(err)
			}
			cell := mk(s, a, conv.NewResCNN(s, "c.D", a.H, a.W, cvC, 4, layers.Tanh, conv.ResNoiseLevel(0.2)))
			perturb(cell.Params(), rng, 0.2)
			n := a.H * a.W
			y := layertest.Input(g, tensor.Float64, rng, "y", cvB, n)
			inj := layertest.Input(g, tensor.Float64, rng, "inj", cvB, n)
			if err := layers.CheckCellKernel(cell, y, inj, rng); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// noisyModel is x → Aᵀx → the implicit cell (IFT backward, fixed point
// from y₀ = Aᵀx) → MSE; x, the step, the weights and σ_D are checked.
func noisyModel(g *G.ExprGraph, op string) (*G.Node, G.Nodes, error) {
	rng := rand.New(rand.NewPCG(85, 86))
	s := layers.NewScope(g, tensor.Float64, rng)
	a, err := NewBlur("shake", 9, 10)
	if err != nil {
		return nil, nil, err
	}
	x := layertest.Input(g, tensor.Float64, rng, "x", cvB, a.H*a.W)
	atx, err := a.ApplyT(x)
	if err != nil {
		return nil, nil, err
	}
	d := conv.NewResCNN(s, op+".D", a.H, a.W, 2, 3, layers.ReLU, conv.ResSkip(0.4), conv.ResNoiseLevel(0.3))
	cell := noisyCells[op](s, a, d)
	perturb(d.Params(), rng, 0.05)
	return solvedLoss(g, s, rng, a, cell, x, atx, deq.IFT{Stop: gradStop})
}

// TestNoisyImplicitGradients checks the implicit PGD and HQS layers' exact
// (IFT) gradients, σ_D's included, against central differences.
func TestNoisyImplicitGradients(t *testing.T) {
	for op := range noisyCells {
		t.Run(op, func(t *testing.T) {
			layertest.CheckGrads(t, 1e-6, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) { return noisyModel(g, op) })
		})
	}
}

// TestNoiseLevelKeepsHQSContract: the constant channel adds no dependence
// on y, so a bounded denoiser (skip 0.5, Lip(N) ≤ 0.4) keeps the HQS
// operator a contraction in y whatever σ_D is: plain iteration from two
// starts reaches one fixed point with the weights pushed far out and
// projected back, and σ_D made large.
func TestNoiseLevelKeepsHQSContract(t *testing.T) {
	rng := rand.New(rand.NewPCG(87, 88))
	g := G.NewGraph()
	s := layers.NewScope(g, tensor.Float64, rng)
	a, err := NewBlur("shake", 9, 10)
	if err != nil {
		t.Fatal(err)
	}
	d := conv.NewResCNN(s, "D", a.H, a.W, cvC, 4, layers.ReLU, conv.ResSkip(0.5), conv.ResLipschitz(0.4), conv.ResNoiseLevel(0.03))
	cell := NewHQSCell(s, "hqs", a, d)
	for _, p := range d.Params() {
		v := p.Value().Data().([]float64)
		for i := range v {
			v[i] = 3*v[i] + 0.2*rng.NormFloat64()
		}
	}
	d.Sigma.Value().Data().([]float64)[0] = 50
	cell.LogBeta.Value().Data().([]float64)[0] = math.Log(3)
	for range 20 {
		if err := s.Project(); err != nil {
			t.Fatal(err)
		}
	}
	sameFixedPoint(t, cell, rng, cvB, a.H*a.W, 500)
}
