package experiments

import (
	"context"
	"fmt"
	"strconv"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/layers/fourier"
	"github.com/implicit-ml/implicit/network"
	"github.com/implicit-ml/implicit/train"
	"github.com/implicit-ml/implicit/train/report"
)

// Ablation answers "which solver and which gradient mode should I use, at
// what cost?": every forward solver × every backward mode, with and
// without Jacobian regularisation, trained the same way on one workload
// (-problem classify, the default; pde, the Darcy-flow workload (not one of the paper's)
// with the implicit Fourier cell; or reason), with time per step,
// iterations, memory, the final metric and the spectral radius of
// J_f(z*) at the end.
type Ablation struct{}

// Name implements Experiment.
func (Ablation) Name() string { return "ablation" }

// Summary implements Experiment.
func (Ablation) Summary() string {
	return "solver × gradient mode × Jacobian regularisation: time, iterations, memory, metric, spectral radius"
}

// ablationMode is one backward mode of the grid.
type ablationMode struct {
	name string
	mode func(stop deq.Stop) deq.Backward
}

func ablationModes() []ablationMode {
	return []ablationMode{
		{"ift-fixedpoint", func(s deq.Stop) deq.Backward { return deq.IFT{Solver: deq.Picard{}, Stop: s} }},
		{"ift-gmres", func(s deq.Stop) deq.Backward { return deq.IFT{Solver: deq.GMRES{}, Stop: s} }},
		{"jfb", func(deq.Stop) deq.Backward { return deq.JFB{} }},
		{"phantom-3", func(deq.Stop) deq.Backward { return deq.Phantom{Steps: 3, Damping: 0.8} }},
		{"phantom-5", func(deq.Stop) deq.Backward { return deq.Phantom{Steps: 5, Damping: 0.8} }},
	}
}

// ablationJacobian is the weight of the Jacobian penalty when it is on
// (classify and reason); ablationPdeJacobian the PDE's, whose
// normalised squared error is ~100× smaller than a cross-entropy, so
// 0.5 would make the penalty the whole loss.
const (
	ablationJacobian    = 0.5
	ablationPdeJacobian = 0.01
)

// Problems implements Experiment: the workload the grid trains on
// (pde and darcy are one).
func (Ablation) Problems() []string { return []string{"classify", "pde", "darcy", "reason"} }

// Defaults implements Experiment. The solvers and gradient modes are the
// grid's, so -solver, -backward and -adjoint are not used.
func (Ablation) Defaults(problem string, quick bool) Defaults {
	switch problem {
	case "pde", "darcy":
		ps := ablationPdeSettings(quick)
		return Defaults{Epochs: ps.epochs, Batch: ps.batch, Hidden: ps.width, HiddenMeans: "Fourier width", LR: ps.lr, Schedule: "cosine",
			Clip: 1, Tol: ps.tol, MaxIter: ps.maxIter, Dtype: tensor.Float32}
	case "reason":
		d := Defaults{Epochs: 2, Batch: 64, Hidden: 16, HiddenMeans: "cell channels", LR: 1e-2, Schedule: "constant", Clip: 1,
			Tol: 1e-5, MaxIter: 2*reasonTrainLen + 8, Dtype: tensor.Float32}
		if quick {
			d.Epochs = 1
		}
		return d
	}
	d := Defaults{Datasets: []string{"mnist", "fashion"}, Epochs: 2, Batch: 64, Hidden: 128, HiddenMeans: "hidden units", LR: 1e-3,
		Schedule: "constant", Tol: 1e-4, MaxIter: 50, Dtype: tensor.Float32}
	if quick {
		d.Epochs = 1
	}
	return d
}

// Run implements Experiment.
func (Ablation) Run(ctx context.Context, s Settings) (*report.Report, error) {
	switch s.Problem {
	case "pde", "darcy":
		return ablationPde(ctx, s)
	case "reason":
		return ablationReason(ctx, s)
	}
	return ablationClassify(ctx, s)
}

// ablationGrid builds one model per (solver, mode, jacobian) plus the
// unrolled twin, with mk turning an implicit configuration (nil: unrolled)
// into a model.
func ablationGrid(s Settings, unrolled int, jac float64, mk func(name, desc string, icfg *layers.ImplicitConfig) *network.Network) []model {
	solvers := []deq.Solver{deq.Picard{}, deq.Anderson{}, deq.Broyden{}}
	modes := ablationModes()
	jacs := []float64{0, jac}
	if s.Quick {
		solvers, modes = solvers[1:3], []ablationMode{modes[0], modes[2], modes[3]}
	}
	stop := s.Stop
	var models []model
	for _, solver := range solvers {
		for _, m := range modes {
			for _, j := range jacs {
				name := solver.Name() + "/" + m.name
				desc := fmt.Sprintf("forward %s, backward %s", solver.Name(), m.name)
				if j > 0 {
					name += "/jac"
					desc += fmt.Sprintf(", Jacobian penalty %g", j)
				}
				icfg := layers.ImplicitConfig{Forward: solver, Stop: stop, Backward: m.mode(stop), JacobianWeight: j, JacobianSeed: s.Seed}
				models = append(models, mk(name, desc, &icfg))
			}
		}
	}
	return append(models, mk(fmt.Sprintf("unrolled-%d", unrolled), fmt.Sprintf("the same cell unrolled %d times, backpropagated through (no solver)", unrolled), nil))
}

func ablationClassify(ctx context.Context, s Settings) (*report.Report, error) {
	trainN, testN := 20000, 2000
	if s.Quick {
		trainN, testN = 4000, 500
	}
	all, test, err := datasets.Load(s.Dataset, s.DataDir)
	if err != nil {
		return nil, err
	}
	mean, std := all.MeanStd()
	all.Standardize(mean, std)
	test.Standardize(mean, std)
	trainSet, test := all.Head(trainN), test.Head(testN)
	hidden := s.Hidden
	in, classes := trainSet.InputShape()[0], trainSet.TargetShape()[0]
	mk := func(name, desc string, icfg *layers.ImplicitConfig) *network.Network {
		return network.New(network.Spec{Name: name, Kind: ablationKind(icfg), Description: desc, Dtype: s.Dtype, Seed: s.Seed,
			Input: trainSet.InputShape(), Target: trainSet.TargetShape(), Loss: network.CrossEntropy,
			Body: func(sc *layers.Scope, x *G.Node) (*G.Node, error) {
				cell := sc.DenseCell("cell", hidden, layers.Tanh)
				var mid layers.Layer = &layers.Unrolled{Cell: cell, Steps: 10}
				if icfg != nil {
					mid = sc.Implicit("deq", cell, *icfg)
				}
				return layers.Sequential{
					sc.Dense("inject", in, hidden, layers.Identity, layers.NoBias()), mid,
					sc.Dense("head", hidden, classes, layers.Identity),
				}.Fwd(x)
			}})
	}
	c := &comparison{
		experiment: "ablation", dataset: fmt.Sprintf("classify, %s (%d training images, %d epochs)", s.Dataset, trainN, s.Epochs),
		metric: train.Accuracy(), trainSet: trainSet, testSet: test,
		models: ablationGrid(s, 10, ablationJacobian, mk), tolerateFailures: true, pairs: [][2]string{},
		fit: train.Config{
			Epochs: s.Epochs, BatchSize: s.Batch, Seed: s.Seed, Schedule: s.Schedule, Optimizer: s.Optimizer(s.LR),
			Fingerprint: map[string]string{"hidden": strconv.Itoa(hidden), "dtype": s.Dtype.String(), "quick": strconv.FormatBool(s.Quick)},
		},
		evalBatch: 500,
		ts:        []int{1, 2, 5, 10, 20},
		probe:     train.RandomProbe(test, 50, 1, 1e-2, s.Seed),
		config:    map[string]any{"train_samples": trainN, "test_samples": testN, "epochs": s.Epochs, "hidden": hidden, "tol": s.Stop.Tol, "max_iter": s.Stop.MaxIter, "jacobian_weight": ablationJacobian, "dtype": s.Dtype.String()},
		notes:     ablationNotes(10, ablationJacobian),
	}
	return c.run(ctx, s.Options)
}

// ablationKind is the kind of a grid model: implicit, or unrolled when it
// has no implicit configuration.
func ablationKind(icfg *layers.ImplicitConfig) string {
	if icfg == nil {
		return train.KindUnrolled
	}
	return train.KindImplicit
}

func ablationReason(ctx context.Context, s Settings) (*report.Report, error) {
	const n, hid = reasonTrainLen, 32
	ch := s.Hidden
	trainN, testN := 8000, 100
	if s.Quick {
		trainN = 4000
	}
	trainSet := datasets.ParitySequences(trainN, n, s.Seed)
	test := datasets.ParitySequences(testN, 4*n, s.Seed+1000)
	mk := func(name, desc string, icfg *layers.ImplicitConfig) *network.Network {
		spec := network.Spec{Name: name, Kind: ablationKind(icfg), Description: desc, Dtype: s.Dtype, Seed: s.Seed}
		return ReasonModel(spec, n, ch, hid, func(sc *layers.Scope, inj *G.Node) (*G.Node, error) {
			cell := ReasonCell(sc, "cell", ch, hid)
			if icfg == nil {
				return (&layers.Unrolled{Cell: cell, Steps: n}).Fwd(inj)
			}
			return sc.Implicit("loop", cell, *icfg).Fwd(inj)
		})
	}
	c := &comparison{
		experiment: "ablation", dataset: fmt.Sprintf("reason: prefix parity, trained at n=%d, tested at n=%d with t=%d", n, 4*n, 4*4*n),
		metric: sequenceAccuracy(), trainSet: trainSet, testSet: test, models: ablationGrid(s, n, ablationJacobian, mk), tolerateFailures: true, pairs: [][2]string{},
		fit: train.Config{
			Epochs: s.Epochs, BatchSize: s.Batch, Seed: s.Seed, Schedule: s.Schedule, Optimizer: s.Optimizer(s.LR),
			Fingerprint: map[string]string{"problem": "reason", "quick": strconv.FormatBool(s.Quick)},
		},
		evalBatch: 100,
		evalView:  func(m model) train.Model { return reshaped(m, []int{4 * n}, []int{4 * n, 2}) },
		after: func(_ context.Context, m model, ev *train.Evaluator, mr *report.ModelReport) error {
			if m.Kind() != train.KindImplicit {
				return nil
			}
			ev.SetIterations(4 * 4 * n)
			e, err := ev.Evaluate(test, sequenceAccuracy())
			if err != nil {
				return err
			}
			mr.TestMetric = e.Mean
			return nil
		},
		config: map[string]any{"train_strings": trainN, "epochs": s.Epochs, "tol": s.Stop.Tol, "max_iter": s.Stop.MaxIter, "jacobian_weight": ablationJacobian},
		notes:  ablationNotes(n, ablationJacobian),
	}
	return c.run(ctx, s.Options)
}

func ablationNotes(unrolled int, jac float64) []string {
	return []string{
		fmt.Sprintf("Model names read forward solver / backward mode [/jac]: ift-fixedpoint and ift-gmres solve the adjoint system exactly (to the tolerance) by fixed-point iteration or GMRES; jfb drops it; phantom-k unrolls k damped steps (damping 0.8) at z*; jac adds the Hutchinson Jacobian penalty (weight %g).", jac),
		"train samples/s gives the time per step (batch / samples per second); fwd and bwd iters are means per step; the spectral radius of J_f(z*) is taken after the last epoch.",
		fmt.Sprintf("The unrolled twin has no solver: it backpropagates through %d copies of the cell.", unrolled),
	}
}

// ablationPde runs the grid on the Darcy-flow workload: the implicit FNO
// of the pde experiment at a reduced size (ablationPdeSettings), trained
// with each solver and gradient mode, against the Fourier cell unrolled
// 10 times.
func ablationPde(ctx context.Context, s Settings) (*report.Report, error) {
	ps := ablationPdeSettings(s.Quick)
	ps.epochs, ps.width, ps.lr, ps.batch = s.Epochs, s.Hidden, s.LR, s.Batch
	rawTrain, rawTest, err := datasets.DarcySplits(s.DataDir, datasets.DarcyConfig{}, s.Seed, ps.trainN, ps.testN)
	if err != nil {
		return nil, err
	}
	norm := rawTrain.Norm()
	trainSet, testSet := rawTrain.Normalized(norm), rawTest.Normalized(norm)
	size := trainSet.S
	const unrolled = 10
	mk := func(name, desc string, icfg *layers.ImplicitConfig) *network.Network {
		return network.New(network.Spec{Name: name, Kind: ablationKind(icfg), Description: desc, Dtype: s.Dtype, Seed: s.Seed,
			Input: []int{1, size, size}, Target: []int{1, size, size}, Loss: network.MaskedMSE,
			Body: func(sc *layers.Scope, x *G.Node) (*G.Node, error) {
				cell := fourier.NewFNOCell(sc, "cell", size, ps.width, ps.modes, ps.cellAct)
				var body layers.Layer = &layers.Unrolled{Cell: cell, Steps: unrolled}
				if icfg != nil {
					body = sc.Implicit("deq", cell, *icfg)
				}
				return fourier.NewFNO(sc, "fno", size, ps.width, ps.hidden, ps.projAct, body).Fwd(x)
			}})
	}
	c := &comparison{
		experiment: "ablation", dataset: fmt.Sprintf("pde: Darcy flow %d×%d, %d training samples, %d epochs", size, size, ps.trainN, ps.epochs),
		metric: pdeRelativeL2(norm), trainSet: trainSet, testSet: testSet,
		models: ablationGrid(s, unrolled, ablationPdeJacobian, mk), tolerateFailures: true, pairs: [][2]string{},
		fit: train.Config{
			Epochs: ps.epochs, BatchSize: ps.batch, Seed: s.Seed, Schedule: s.Schedule, Optimizer: s.Optimizer(ps.lr),
			Fingerprint: map[string]string{"problem": "pde", "train": strconv.Itoa(ps.trainN), "width": strconv.Itoa(ps.width), "dtype": s.Dtype.String(), "quick": strconv.FormatBool(s.Quick)},
		},
		evalBatch: ps.evalBatch,
		ts:        []int{1, 2, 5, 10, 20, 30},
		probe:     pdeSineProbe(testSet, ps.probeN, ps.perturbFreqs, ps.perturbNorm),
		config: map[string]any{
			"problem": "pde (darcy)", "grid": size, "train_samples": ps.trainN, "test_samples": ps.testN, "epochs": ps.epochs,
			"batch": ps.batch, "lr": ps.lr, "width": ps.width, "modes": ps.modes, "projection_hidden": ps.hidden, "dtype": s.Dtype.String(),
			"tol": s.Stop.Tol, "max_iter": s.Stop.MaxIter, "jacobian_weight": ablationPdeJacobian,
		},
		notes: append(ablationNotes(unrolled, ablationPdeJacobian),
			"metric: relative L2 error of u in physical units (lower is better), as in the pde experiment; the Fourier cell is z = φ(Kz + zW + v + b) with the lifted input v."),
	}
	return c.run(ctx, s.Options)
}

// ablationPdeSettings are the sizes of the grid on Darcy flow: the pde
// experiment's quick model (width 8, 6 modes) on 500 training samples
// for 6 epochs.
func ablationPdeSettings(quick bool) pdeSettings {
	ps := defaultPdeSettings().quick()
	ps.trainN, ps.testN, ps.epochs, ps.probeN = 500, 100, 6, 5
	if quick {
		ps.trainN, ps.testN, ps.epochs = 100, 20, 1
	}
	return ps
}
