package main

import (
	"fmt"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/blur"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/layers/imaging"
	"github.com/implicit-ml/implicit/train"
	"github.com/implicit-ml/implicit/train/experiments"
)

// The deblur experiment's sizes and solver (train/experiments/deblur.go;
// experiments.DeblurModel builds its models): 28×28 images blurred by the
// 9×9 camera-shake kernel; the implicit models train on the 100th plain
// iterate from y₀ = Aᵀx with an IFT adjoint solved by Picard to a relative
// 1e-5 within 20 iterations, and are tested at 100 iterations.
const (
	deblurSide   = 28
	deblurIters  = 100
	deblurAdjTol = 1e-5
	deblurAdjCap = 20
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
		if f.model == "once" {
			return nil, nil, fmt.Errorf("-fixed applies to the implicit models, not %q", f.model)
		}
		iters, adj = f.fixed, deq.Stop{Tol: deq.Never, MaxIter: f.fixed}
	}
	icfg := layers.ImplicitConfig{Forward: deq.Anderson{}, Stop: deq.Stop{MaxIter: deblurIters}, Backward: deq.IFT{Solver: deq.Picard{}, Stop: adj}}
	m, err := experiments.DeblurModel("deblur-"+f.model, f.model, a, f.hidden, f.dt, 1, icfg, iters)
	if err != nil {
		return nil, nil, fmt.Errorf("deblur: %w", err)
	}
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
