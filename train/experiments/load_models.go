package experiments

import (
	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
)

// Per-sample shapes that the experiments take from their data when they
// run, and a loaded model must know without it.
const (
	mnistPixels  = 784 // 28×28 MNIST and Fashion-MNIST images
	mnistClasses = 10
	// darcyGrid is datasets.DarcyConfig's default S, the grid pde runs on.
	darcyGrid = 32
	// lpM and lpN are datasets.LPConfig's default size, the LPs lp runs on.
	lpM, lpN = 10, 50
)

// servable is implemented by experiments that rebuild their models for
// LoadModel themselves: servedModels returns them as Run builds (and
// evaluates) them under s. An experiment whose models are built in a file
// that changes often should implement it there, next to its Run.
type servable interface {
	servedModels(s Settings) ([]model, error)
}

// servedModels rebuilds the models an experiment's Run builds under s,
// as they are evaluated on the test set (for the LP experiment, the views
// with the evaluation's solver and stopping rule). The cases here mirror
// their experiment's Run: a change to how a Run builds its models must be
// made here too (TestLoadModelEveryExperiment checks that each builds and
// restores).
func servedModels(s Settings) ([]model, error) {
	if sv, ok := All()[s.Experiment].(servable); ok {
		return sv.servedModels(s)
	}
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
	case "lp":
		return servedLP(s), nil
	}
	return nil, usagef("serving a %s run is not supported: this code cannot rebuild its models outside its Run", s.Experiment)
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

// servedLP mirrors LP.Run on the default 10×50 LPs: the explicit
// networks, and the implicit ones' views that solve with the kernels.
func servedLP(s Settings) []model {
	st := lpSizes(s.Problem, s.Quick)
	if s.Hidden > 0 {
		st.embs = []int{s.Hidden}
	}
	training := s.Backward
	if _, unrolled := training.(deq.Unrolled); unrolled {
		training = nil
	}
	lay := datasets.NewLPLayout(lpM, lpN)
	ms := lpModels(s, st, lay, training)
	ev := &lpEval{s: s, lay: lay, embOf: ms.embOf, arch: st.arch,
		evalCfg: layers.ImplicitConfig{Forward: s.Solver, Stop: s.Stop, Backward: deq.IFT{Solver: deq.GMRES{}, Stop: s.Stop}}}
	out := make([]model, len(ms.models))
	for i, m := range ms.models {
		out[i] = ev.view(m).(model)
	}
	return out
}
