package main

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/blur"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/layers/conv"
	"github.com/implicit-ml/implicit/layers/imaging"
	"github.com/implicit-ml/implicit/network"
	"github.com/implicit-ml/implicit/train"
)

// The deblur experiment's sizes and solver (train/experiments/deblur.go,
// deblur_models.go): 28×28 images blurred by the 9×9 camera-shake kernel,
// a residual CNN denoiser of 5 3×3 convolutions with 16 channels (every
// convolution's operator norm ≤ 1 in the implicit models, kept by power
// iteration after each step), PGD with λ = 0.02; the implicit models train
// on the 100th plain iterate from y₀ = Aᵀx with an IFT adjoint solved by
// Picard to a relative 1e-5 within 20 iterations, and are tested at 100
// iterations.
const (
	deblurSide     = 28
	deblurChannels = 16
	deblurDepth    = 5
	deblurLambda   = 0.02
	deblurIters    = 100
	deblurAdjTol   = 1e-5
	deblurAdjCap   = 20
)

// deblurSetup builds "pgd" or "hqs" (the implicit models) or "once" (the
// explicit denoiser applied once to Aᵀx), on MNIST images blurred without
// noise: inputs A·x, targets x.
func deblurSetup(f *flags) (train.Model, train.Dataset, error) {
	a, err := imaging.NewBlur("shake", deblurSide, deblurSide)
	if err != nil {
		return nil, nil, err
	}
	f.fixedParams = []param{{Name: "blur.taps", Shape: []int{a.Kernel.K, a.Kernel.K}, Data: a.Kernel.W, Fixed: true}}
	iters, adj := deblurIters, deq.Stop{Tol: deblurAdjTol, MaxIter: deblurAdjCap}
	if f.fixed > 0 {
		iters, adj = f.fixed, deq.Stop{Tol: deq.Never, MaxIter: f.fixed}
	}
	icfg := layers.ImplicitConfig{Forward: deq.Anderson{}, Stop: deq.Stop{MaxIter: deblurIters}, Backward: deq.IFT{Solver: deq.Picard{}, Stop: adj}}
	ch := orInt(f.hidden, deblurChannels)
	denoiser := func(s *layers.Scope, name string, bounded bool) *conv.ResCNN {
		var opts []conv.ResOpt
		if bounded {
			opts = append(opts, conv.ResLipschitz(1))
		}
		return conv.NewResCNN(s, name, deblurSide, deblurSide, ch, deblurDepth, layers.ReLU, opts...)
	}
	kind := train.KindImplicit
	var body func(s *layers.Scope, atx *G.Node) (*G.Node, error)
	switch f.model {
	case "once":
		kind = train.KindExplicit
		body = func(s *layers.Scope, atx *G.Node) (*G.Node, error) { return denoiser(s, "D", false).Fwd(atx) }
	case "pgd", "hqs":
		body = func(s *layers.Scope, atx *G.Node) (*G.Node, error) {
			d := denoiser(s, f.model+".D", true)
			var cell layers.Cell
			if f.model == "hqs" {
				cell = imaging.NewHQSCell(s, "hqs", a, d)
			} else {
				c := imaging.NewPGDCell(s, "pgd", a, d)
				c.Lambda = deblurLambda
				cell = c
			}
			l := s.Implicit("deq", cell, icfg)
			l.SetControls(layers.Controls{Iterations: iters, StartAtInjection: true})
			return l.Fwd(atx)
		}
	default:
		return nil, nil, fmt.Errorf("deblur: model %q: want pgd, hqs or once", f.model)
	}
	if f.fixed > 0 && kind != train.KindImplicit {
		return nil, nil, fmt.Errorf("-fixed applies to the implicit models, not %q", f.model)
	}
	n := deblurSide * deblurSide
	m := network.New(network.Spec{Name: "deblur-" + f.model, Kind: kind, Dtype: f.dt, Seed: 1, Input: []int{n}, Target: []int{n},
		Loss: network.MaskedMSE, Body: func(s *layers.Scope, x *G.Node) (*G.Node, error) {
			atx, err := a.ApplyT(x)
			if err != nil {
				return nil, err
			}
			return body(s, atx)
		}})
	ds, err := blurred(f, a.Kernel, max((f.steps+f.warmup)*f.batch, 256))
	return m, ds, err
}

// blurred returns the first count MNIST training images (pixels in
// [0, 1]) as targets and their blurred versions as inputs.
func blurred(f *flags, k blur.Kernel, count int) (train.Dataset, error) {
	all, _, err := datasets.Load("mnist", f.data)
	if err != nil {
		return nil, err
	}
	count = min(count, all.Len())
	n := deblurSide * deblurSide
	d := &pairs{n: n, x: make([]float32, count*n), y: make([]float32, count*n)}
	tgt := make([]float32, 10)
	for i := 0; i < count; i++ {
		all.Sample(i, d.y[i*n:(i+1)*n], tgt)
	}
	blur.Apply(d.x, d.y, count, deblurSide, deblurSide, k, false)
	return d, nil
}

// pairs is an in-memory dataset of equal-length inputs and targets.
type pairs struct {
	n    int
	x, y []float32
}

func (p *pairs) Len() int           { return len(p.x) / p.n }
func (p *pairs) InputShape() []int  { return []int{p.n} }
func (p *pairs) TargetShape() []int { return []int{p.n} }
func (p *pairs) Sample(i int, x, y []float32) {
	copy(x, p.x[i*p.n:(i+1)*p.n])
	copy(y, p.y[i*p.n:(i+1)*p.n])
}
