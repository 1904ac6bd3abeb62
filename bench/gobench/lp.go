package main

import (
	"cmp"
	"fmt"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/network"
	"github.com/implicit-ml/implicit/train"
	"github.com/implicit-ml/implicit/train/experiments"
)

// The LP experiment's default recipe (train/experiments/lp.go, -problem
// fast; experiments.LPExplicitModel and LPImplicitModel build its models)
// at one width: random LPs of 10 constraints and 50 variables (seed 1,
// the experiment's 2500 training instances, from the dataset cache), batch
// 25, the implicit network trained unrolled for 6 iterations (the last
// phase of the paper's protocol) and tested at 8 plain iterations from
// y₀ = 0.
const (
	lpProblem = "fast"
	lpEmb     = 16
	lpUnroll  = 6
	lpTestT   = 8
	lpTrain   = 2500
	lpTest    = 1000
)

// lpSetup builds "explicit" (four bipartite convolutions) or "implicit"
// (the GNN cell, unrolled lpUnroll times in training; its inference is
// the experiment's evaluation view, which iterates the cell's kernel
// lpTestT times). Neither has a solve whose iteration count could differ
// between the two sides, so neither has a fixed-iteration variant.
func lpSetup(f *flags) (train.Model, train.Dataset, error) {
	if f.fixed > 0 {
		return nil, nil, fmt.Errorf("-fixed: the LP models have no stopping rule (the implicit one trains as %d unrolled iterations)", lpUnroll)
	}
	tr, _, _, err := datasets.LPSplits("", 1, lpTrain, lpTest) // the cache bench/pytorch/lp.py reads
	if err != nil {
		return nil, nil, err
	}
	lay, emb := tr.Layout(), cmp.Or(f.hidden, lpEmb)
	switch f.model {
	case "explicit":
		spec, err := experiments.LPExplicitModel(lpProblem, emb, lay, f.dt, 1)
		if err != nil {
			return nil, nil, err
		}
		return network.New(spec), tr, nil
	case "implicit":
		spec, err := experiments.LPImplicitModel(lpProblem, emb, lay, f.dt, 1, layers.ImplicitConfig{Backward: deq.Unrolled{Steps: lpUnroll}})
		if err != nil {
			return nil, nil, err
		}
		m := network.New(spec)
		view, err := experiments.LPImplicitModel(lpProblem, emb, lay, f.dt, 1,
			layers.ImplicitConfig{Forward: deq.Anderson{}, Backward: deq.IFT{Solver: deq.GMRES{}}})
		if err != nil {
			return nil, nil, err
		}
		view.Name += ".eval"
		f.inferModel = m.Sharing(view)
		return m, tr, nil
	}
	return nil, nil, fmt.Errorf("lp: model %q: want explicit or implicit", f.model)
}
