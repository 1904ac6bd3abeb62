package main

import (
	"cmp"
	"sort"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/train"
	"github.com/implicit-ml/implicit/train/experiments"
)

// workload is one experiment's benchmark: its models (with the experiment's
// shapes, solver, stopping rule and caps), its data, and how inference is
// measured. bench/pytorch/bench.py has the same table.
type workload struct {
	setup        func(f *flags) (train.Model, train.Dataset, error)
	inferBatches []int
	inferIters   int // test-time iterations of implicit models
	batch        int // the experiment's training batch
	steps        int // timed training steps: about 10 s of steps on a quiet 2-core machine
	inferSamples int // samples per inference measurement (at least 3 batches)
}

var workloads = map[string]workload{
	"classify": {setup: classifySetup, inferBatches: []int{64, 1000}, inferIters: 10, batch: 64, steps: 300, inferSamples: 100000},
	"reason":   {setup: reasonSetup, inferBatches: []int{64, 256}, inferIters: reasonLen + 1, batch: 64, steps: 100, inferSamples: 20000},
	"deblur":   {setup: deblurSetup, inferBatches: []int{16, 100}, inferIters: deblurIters, batch: 16, steps: 20, inferSamples: 300},
	"lp":       {setup: lpSetup, inferBatches: []int{25, 250}, inferIters: lpTestT, batch: 25, steps: 200, inferSamples: 10000},
	"pde":      {setup: pdeSetup, inferBatches: []int{16, 50}, inferIters: nsTestIters, batch: 16, steps: 10, inferSamples: 200},
	"darcy":    {setup: darcySetup, inferBatches: []int{20, 50}, inferIters: darcyMaxIter, batch: 20, steps: 20, inferSamples: 500},
}

func workloadNames() []string {
	var out []string
	for k := range workloads {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// classifySetup: MNIST standardised as the experiment does, the first
// (warm-up + steps) · batch images.
func classifySetup(f *flags) (train.Model, train.Dataset, error) {
	m, err := classifyModel(f.model, f.unroll, f.fixed, experiments.Options{
		Hidden: cmp.Or(f.hidden, 128), Dtype: f.dt, Tol: cmp.Or(f.tol, 1e-4), MaxIter: cmp.Or(f.maxIter, 50), AdjointSolver: f.adjoint, Seed: 1,
	})
	if err != nil {
		return nil, nil, err
	}
	all, _, err := datasets.Load("mnist", f.data)
	if err != nil {
		return nil, nil, err
	}
	mean, std := all.MeanStd()
	all.Standardize(mean, std)
	return m, all.Head(max((f.steps+f.warmup)*f.batch, 1000)), nil
}

func prod(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}
