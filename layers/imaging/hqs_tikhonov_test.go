package imaging

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/internal/blur"
	"github.com/implicit-ml/implicit/internal/layertest"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/layers/conv"
)

// normalResidual is the largest entry of (AᵀA + cI)z − rhs over a batch
// of n images, relative to the largest entry of rhs.
func normalResidual(a *Blur, z, rhs []float64, n int, c float64) float64 {
	t1, t2 := make([]float64, len(z)), make([]float64, len(z))
	blur.Apply(t1, z, n, a.H, a.W, a.Kernel, false)
	blur.Apply(t2, t1, n, a.H, a.W, a.Kernel, true)
	var res, scale float64
	for i := range z {
		res = max(res, math.Abs(t2[i]+c*z[i]-rhs[i]))
		scale = max(scale, math.Abs(rhs[i]))
	}
	return res / scale
}

// TestHQSTikhonovStepOp checks the step with a Tikhonov weight λ: its value
// solves (AᵀA + (β+λ)I)z = Aᵀx + βy, and its gradients in y, x and ρ match
// central differences (float64), at two values of β.
func TestHQSTikhonovStepOp(t *testing.T) {
	const lambda = 0.3
	for _, a := range hqsBlurs(t) {
		for _, beta := range []float64{0.05, 2} {
			t.Run(fmt.Sprintf("%s β=%g", a.Kernel.Name, beta), func(t *testing.T) {
				// The loss's ops may overwrite z's value: the forward check builds none.
				step := func(g *G.ExprGraph, withLoss bool) (*G.Node, *G.Node, G.Nodes, error) {
					rng := rand.New(rand.NewPCG(89, 90))
					n := a.H * a.W
					y := layertest.Input(g, tensor.Float64, rng, "y", 2, n)
					x := layertest.Input(g, tensor.Float64, rng, "x", 2, n)
					r := G.NewTensor(g, tensor.Float64, 2, G.WithShape(1, 1), G.WithName("rho"), G.WithValue(tensor.New(tensor.WithShape(1, 1), tensor.WithBacking([]float64{math.Log(beta)}))))
					atx, err := a.ApplyT(x)
					if err != nil {
						return nil, nil, nil, err
					}
					z, err := a.HQSStepTikhonov(y, atx, r, lambda)
					if err != nil || !withLoss {
						return nil, z, G.Nodes{y, x, r, atx}, err
					}
					loss, err := layers.MSE(z, layertest.Input(g, tensor.Float64, rng, "target", 2, n))
					return loss, z, G.Nodes{y, x, r, atx}, err
				}
				g := G.NewGraph()
				_, z, in, err := step(g, false)
				if err != nil {
					t.Fatal(err)
				}
				vm := G.NewTapeMachine(g)
				defer vm.Close()
				if err := vm.RunAll(); err != nil {
					t.Fatal(err)
				}
				zv := append([]float64(nil), z.Value().Data().([]float64)...)
				yv, atx := in[0].Value().Data().([]float64), in[3].Value().Data().([]float64)
				rhs := make([]float64, len(zv))
				for i := range rhs {
					rhs[i] = atx[i] + beta*yv[i]
				}
				if res := normalResidual(a, zv, rhs, 2, beta+lambda); res > 1e-10 {
					t.Errorf("(AᵀA + (β+λ)I)z − (Aᵀx + βy): relative residual %.3g", res)
				}
				layertest.CheckGrads(t, 1e-6, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
					loss, _, wrt, err := step(g, true)
					return loss, wrt[:3], err
				})
			})
		}
	}
	if _, err := hqsBlurs(t)[0].HQSStepTikhonov(nil, nil, nil, -1); err == nil {
		t.Error("negative λ: no error")
	}
}

// TestHQSTikhonovLimit: with the identity as denoiser, plain iteration of
// the HQS cell with λ > 0 converges to the Tikhonov solution
// (AᵀA + λI)y = Aᵀx (with λ = 0 it would drift towards the unregularised
// inverse, the noise amplification behind implicit HQS's falling PSNR(t)).
func TestHQSTikhonovLimit(t *testing.T) {
	rng := rand.New(rand.NewPCG(93, 94))
	g := G.NewGraph()
	s := layers.NewScope(g, tensor.Float64, rng)
	a, err := NewBlur("shake", 9, 10)
	if err != nil {
		t.Fatal(err)
	}
	d := conv.NewResCNN(s, "D", a.H, a.W, cvC, 3, layers.ReLU)
	last := d.Convs[len(d.Convs)-1]
	for _, p := range last.Params() { // D = I exactly
		clear(p.Value().Data().([]float64))
	}
	cell := NewHQSCell(s, "hqs", a, d)
	cell.Lambda = 0.2
	n := a.H * a.W
	atx := layertest.RandVec(rng, cvB*n)
	var y []float64
	err = layers.IterateCell(cell, []G.Value{tensor.New(tensor.WithShape(cvB, n), tensor.WithBacking(atx))}, append([]float64(nil), atx...), 200,
		func(_ int, z []float64) error {
			y = append(y[:0], z...)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if res := normalResidual(a, y, atx, cvB, cell.Lambda); res > 1e-8 {
		t.Errorf("(AᵀA + λI)y − Aᵀx at y₂₀₀: relative residual %.3g, want the Tikhonov solution", res)
	}
}
