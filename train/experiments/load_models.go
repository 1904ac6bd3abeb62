package experiments

import (
	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/layers/imaging"
)

// Per-sample shapes that the experiments take from their data when they
// run, and a loaded model must know without it.
const (
	mnistPixels  = 784 // 28×28 MNIST and Fashion-MNIST images
	mnistSide    = 28
	mnistClasses = 10
	// darcyGrid is datasets.DarcyConfig's default S, the grid pde runs on.
	darcyGrid = 32
	// lpM and lpN are datasets.LPConfig's default size, the LPs lp runs on.
	lpM, lpN = 10, 50
)

// servedModels rebuilds the models an experiment's Run builds under s,
// as they are evaluated on the test set (for the LP and deblurring
// experiments, the views with the evaluation's solver and stopping
// rule). Each case mirrors the experiment's Run: a change to how a Run
// builds its models must be made here too (TestLoadModelEveryExperiment
// checks that each case builds).
func servedModels(s Settings) ([]model, error) {
	switch s.Experiment {
	case "classify":
		ms := classifyModels(s, classifySizesFor(s.Quick).unroll, []int{mnistPixels}, []int{mnistClasses})
		return []model{ms.mlp, ms.deq, ms.twin}, nil
	case "toy":
		return toyModels(s), nil
	case "reason":
		return reasonModels(s, reasonSizesFor(s.Quick)), nil
	case "pde":
		return servedPDE(s), nil
	case "deblur":
		return servedDeblur(s)
	case "lp":
		return servedLP(s), nil
	}
	return nil, usagef("serving a %s run is not supported: its models are built inside its Run; serve a classify, toy, reason, pde, deblur or lp run", s.Experiment)
}

// servedPDE mirrors PDE.Run (Darcy flow on its default 32×32 grid).
func servedPDE(s Settings) []model {
	ps := defaultPdeSettings()
	if s.Quick {
		ps = ps.quick()
	}
	ps.width = s.Hidden
	icfg := layers.ImplicitConfig{Forward: s.Solver, Stop: s.Stop, Backward: s.Backward}
	return pdeModels(ps, darcyGrid, s.Dtype, s.Seed, icfg)
}

// servedDeblur mirrors Deblur.Run, the implicit model with the
// evaluation's stopping rule.
func servedDeblur(s Settings) ([]model, error) {
	st := defaultDeblurSettings()
	if s.Quick {
		st = st.quick()
	}
	st.channels = s.Hidden
	a, err := imaging.NewBlur(s.Problem, mnistSide, mnistSide)
	if err != nil {
		return nil, err
	}
	net := deblurNets{a: a, st: st, seed: s.Seed, copies: map[string]int{}}
	var models []model
	for _, k := range st.stacks {
		models = append(models, net.explicit(k, s.Dtype))
	}
	evalCfg := layers.ImplicitConfig{Forward: s.Solver, Stop: deq.Stop{Tol: 1e-4, MaxIter: st.evalMaxIter}, Backward: s.Backward}
	implicit, _ := net.implicit(s.Dtype, evalCfg, nil)
	return append(models, implicit), nil
}

// servedLP mirrors LP.Run on the default 10×50 LPs: the explicit
// networks, and the implicit ones' views that solve with the kernels.
func servedLP(s Settings) []model {
	st := lpSizes(s.Quick)
	if s.Hidden > 0 {
		st.embs = []int{s.Hidden}
	}
	training := s.Backward
	if _, unrolled := training.(deq.Unrolled); unrolled {
		training = nil
	}
	lay := datasets.NewLPLayout(lpM, lpN)
	ms := lpModels(s, st, lay, training)
	ev := &lpEval{s: s, lay: lay, embOf: ms.embOf,
		evalCfg: layers.ImplicitConfig{Forward: s.Solver, Stop: s.Stop, Backward: deq.IFT{Solver: deq.GMRES{}, Stop: s.Stop}}}
	out := make([]model, len(ms.models))
	for i, m := range ms.models {
		out[i] = ev.view(m).(model)
	}
	return out
}
