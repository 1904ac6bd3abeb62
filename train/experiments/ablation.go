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
	"github.com/implicit-ml/implicit/train"
)

// Ablation answers "which solver and which gradient mode should I use, at
// what cost?": every forward solver × every backward mode, with and
// without Jacobian regularisation, trained the same way on one workload
// (-problem classify, the default; pde, the paper's Darcy-flow workload
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

// Run implements Experiment.
func (Ablation) Run(ctx context.Context, o Options) (*train.Report, error) {
	switch o.Problem {
	case "", "classify":
		return ablationClassify(ctx, o)
	case "pde", "darcy":
		return ablationPde(ctx, o)
	case "reason":
		return ablationReason(ctx, o)
	}
	return nil, usagef("problem %q: the ablation runs on classify, pde or reason", o.Problem)
}

// ablationGrid builds one model per (solver, mode, jacobian) plus the
// unrolled twin, with mk turning an implicit configuration (nil: unrolled)
// into a model.
func ablationGrid(o Options, stop deq.Stop, unrolled int, jac float64, mk func(name, desc string, icfg *layers.ImplicitConfig) *netModel) []model {
	solvers := []deq.Solver{deq.Picard{}, deq.Anderson{}, deq.Broyden{}}
	modes := ablationModes()
	jacs := []float64{0, jac}
	if o.Quick {
		solvers, modes = solvers[1:3], []ablationMode{modes[0], modes[2], modes[3]}
	}
	var models []model
	for _, s := range solvers {
		for _, m := range modes {
			for _, j := range jacs {
				name := s.Name() + "/" + m.name
				desc := fmt.Sprintf("forward %s, backward %s", s.Name(), m.name)
				if j > 0 {
					name += "/jac"
					desc += fmt.Sprintf(", Jacobian penalty %g", j)
				}
				icfg := layers.ImplicitConfig{Forward: s, Stop: stop, Backward: m.mode(stop), JacobianWeight: j, JacobianSeed: o.Seed}
				models = append(models, mk(name, desc, &icfg))
			}
		}
	}
	return append(models, mk(fmt.Sprintf("unrolled-%d", unrolled), fmt.Sprintf("the same cell unrolled %d times, backpropagated through (no solver)", unrolled), nil))
}

func ablationClassify(ctx context.Context, o Options) (*train.Report, error) {
	trainN, testN, epochs := 20000, 2000, 2
	if o.Quick {
		trainN, testN, epochs = 4000, 500, 1
	}
	all, test, err := datasets.Load(orString(o.Dataset, "mnist"), o.DataDir)
	if err != nil {
		return nil, err
	}
	mean, std := all.MeanStd()
	all.Standardize(mean, std)
	test.Standardize(mean, std)
	trainSet, test := all.Head(trainN), test.Head(testN)
	hidden, dt := orInt(o.Hidden, 128), o.dtype()
	stop := deq.Stop{Tol: orFloat(o.Tol, 1e-4), MaxIter: orInt(o.MaxIter, 50)}
	in, classes := trainSet.InputShape()[0], trainSet.TargetShape()[0]
	mk := func(name, desc string, icfg *layers.ImplicitConfig) *netModel {
		kind := train.KindImplicit
		if icfg == nil {
			kind = train.KindUnrolled
		}
		return &netModel{name: name, kind: kind, desc: desc, dt: dt, seed: o.Seed, in: trainSet.InputShape(), out: trainSet.TargetShape(), loss: crossEntropy,
			body: func(s *layers.Scope, x *G.Node) (*G.Node, error) {
				cell := s.DenseCell("cell", hidden, layers.Tanh)
				var mid layers.Layer = &layers.Unrolled{Cell: cell, Steps: 10}
				if icfg != nil {
					mid = s.Implicit("deq", cell, *icfg)
				}
				return layers.Sequential{
					s.Dense("inject", in, hidden, layers.Identity, layers.NoBias()), mid,
					s.Dense("head", hidden, classes, layers.Identity),
				}.Fwd(x)
			}}
	}
	c := &comparison{
		experiment: "ablation", dataset: fmt.Sprintf("classify, %s (%d training images, %d epochs)", orString(o.Dataset, "mnist"), trainN, orInt(o.Epochs, epochs)),
		metric: train.Accuracy(), trainSet: trainSet, testSet: test,
		models: ablationGrid(o, stop, 10, ablationJacobian, mk), tolerateFailures: true,
		fit: train.Config{
			Epochs: orInt(o.Epochs, epochs), BatchSize: orInt(o.Batch, 64), Seed: o.Seed,
			Optimizer:   train.OptimizerConfig{Kind: o.Optimizer, LR: orFloat(o.LR, 1e-3), ClipNorm: o.Clip},
			Fingerprint: map[string]string{"hidden": strconv.Itoa(hidden), "dtype": dt.String(), "quick": strconv.FormatBool(o.Quick)},
		},
		evalBatch: 500,
		ts:        []int{1, 2, 5, 10, 20},
		probe:     train.RandomProbe(test, 50, 1, 1e-2, o.Seed),
		config:    map[string]any{"train_samples": trainN, "test_samples": testN, "epochs": orInt(o.Epochs, epochs), "hidden": hidden, "tol": stop.Tol, "max_iter": stop.MaxIter, "jacobian_weight": ablationJacobian, "dtype": dt.String()},
		notes:     ablationNotes(10, ablationJacobian),
	}
	return c.run(ctx, o)
}

func ablationReason(ctx context.Context, o Options) (*train.Report, error) {
	const n, ch, hid = 32, 16, 32
	trainN, epochs, testN := 8000, 2, 100
	if o.Quick {
		trainN, epochs = 4000, 1
	}
	trainSet := datasets.ParitySequences(trainN, n, o.Seed)
	test := datasets.ParitySequences(testN, 4*n, o.Seed+1000)
	stop := deq.Stop{Tol: orFloat(o.Tol, 1e-5), MaxIter: orInt(o.MaxIter, 2*n+8)}
	dt := o.dtype()
	mk := func(name, desc string, icfg *layers.ImplicitConfig) *netModel {
		kind := train.KindImplicit
		if icfg == nil {
			kind = train.KindUnrolled
		}
		return reasonModel(name, kind, desc, dt, o.Seed, n, ch, hid, func(s *layers.Scope, inj *G.Node) (*G.Node, error) {
			cell := s.ConvCellHidden("cell", ch, hid, []int{-1}, layers.ReLU)
			if icfg == nil {
				return (&layers.Unrolled{Cell: cell, Steps: n}).Fwd(inj)
			}
			return s.Implicit("loop", cell, *icfg).Fwd(inj)
		})
	}
	models := ablationGrid(o, stop, n, ablationJacobian, mk)
	c := &comparison{
		experiment: "ablation", dataset: fmt.Sprintf("reason: prefix parity, trained at n=%d, tested at n=%d with t=%d", n, 4*n, 4*4*n),
		metric: sequenceAccuracy(), trainSet: trainSet, testSet: test, models: models, tolerateFailures: true,
		fit: train.Config{
			Epochs: orInt(o.Epochs, epochs), BatchSize: orInt(o.Batch, 64), Seed: o.Seed,
			Optimizer:   train.OptimizerConfig{Kind: o.Optimizer, LR: orFloat(o.LR, 1e-2), ClipNorm: orFloat(o.Clip, 1)},
			Fingerprint: map[string]string{"problem": "reason", "quick": strconv.FormatBool(o.Quick)},
		},
		evalBatch: 100,
		evalView: func(m model) train.Model {
			view := *m.(*netModel)
			view.in, view.out = []int{4 * n}, []int{4 * n, 2}
			return &view
		},
		after: func(m model, ev *train.Evaluator, mr *train.ModelReport) error {
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
		config: map[string]any{"train_strings": trainN, "epochs": epochs, "tol": stop.Tol, "max_iter": stop.MaxIter, "jacobian_weight": ablationJacobian},
		notes:  ablationNotes(n, ablationJacobian),
	}
	return c.run(ctx, o)
}

func ablationNotes(unrolled int, jac float64) []string {
	return []string{
		fmt.Sprintf("Model names read forward solver / backward mode [/jac]: ift-fixedpoint and ift-gmres solve the adjoint system exactly (to the tolerance) by fixed-point iteration or GMRES; jfb drops it; phantom-k unrolls k damped steps (damping 0.8) at z*; jac adds the Hutchinson Jacobian penalty (weight %g).", jac),
		"train samples/s gives the time per step (batch / samples per second); fwd and bwd iters are means per step; the spectral radius of J_f(z*) is taken after the last epoch.",
		fmt.Sprintf("The unrolled twin has no solver: it backpropagates through %d copies of the cell.", unrolled),
	}
}

// ablationPde runs the grid on the paper's Darcy-flow workload: the
// implicit FNO of the pde experiment at a reduced size (width 8, 6
// modes, 500 training samples, 6 epochs), trained with each solver and gradient
// mode, against the Fourier cell unrolled 10 times.
func ablationPde(ctx context.Context, o Options) (*train.Report, error) {
	ps := defaultPdeSettings().quick()
	ps.trainN, ps.testN, ps.epochs, ps.probeN = 500, 100, 6, 5
	if o.Quick {
		ps.trainN, ps.testN, ps.epochs = 100, 20, 1
	}
	ps.epochs = orInt(o.Epochs, ps.epochs)
	ps.width = orInt(o.Hidden, ps.width)
	rawTrain, rawTest, err := datasets.DarcySplits(o.DataDir, datasets.DarcyConfig{}, o.Seed, ps.trainN, ps.testN)
	if err != nil {
		return nil, err
	}
	norm := rawTrain.Norm()
	trainSet, testSet := rawTrain.Normalized(norm), rawTest.Normalized(norm)
	size, dt := trainSet.S, o.dtype(tensor.Float32)
	stop := deq.Stop{Tol: orFloat(o.Tol, ps.tol), MaxIter: orInt(o.MaxIter, ps.maxIter)}
	const unrolled = 10
	mk := func(name, desc string, icfg *layers.ImplicitConfig) *netModel {
		kind := train.KindImplicit
		if icfg == nil {
			kind = train.KindUnrolled
		}
		return &netModel{name: name, kind: kind, desc: desc, dt: dt, seed: o.Seed,
			in: []int{1, size, size}, out: []int{1, size, size}, loss: layers.MaskedMSE, withMask: true,
			body: func(s *layers.Scope, x *G.Node) (*G.Node, error) {
				cell := s.FNOCell("cell", size, ps.width, ps.modes, ps.cellAct)
				var body layers.Layer = &layers.Unrolled{Cell: cell, Steps: unrolled}
				if icfg != nil {
					body = s.Implicit("deq", cell, *icfg)
				}
				return s.FNO("fno", size, ps.width, ps.hidden, ps.projAct, body).Fwd(x)
			}}
	}
	lr, batch := orFloat(o.LR, ps.lr), orInt(o.Batch, ps.batch)
	c := &comparison{
		experiment: "ablation", dataset: fmt.Sprintf("pde: Darcy flow %d×%d, %d training samples, %d epochs", size, size, ps.trainN, ps.epochs),
		metric: pdeRelativeL2(norm), trainSet: trainSet, testSet: testSet,
		models: ablationGrid(o, stop, unrolled, ablationPdeJacobian, mk), tolerateFailures: true,
		fit: train.Config{
			Epochs: ps.epochs, BatchSize: batch, Seed: o.Seed, Schedule: train.Cosine{},
			Optimizer:   train.OptimizerConfig{Kind: o.Optimizer, LR: lr, ClipNorm: orFloat(o.Clip, 1)},
			Fingerprint: map[string]string{"problem": "pde", "train": strconv.Itoa(ps.trainN), "width": strconv.Itoa(ps.width), "dtype": dt.String(), "quick": strconv.FormatBool(o.Quick)},
		},
		evalBatch: ps.evalBatch,
		ts:        []int{1, 2, 5, 10, 20, 30},
		probe:     pdeSineProbe(testSet, ps.probeN, ps.perturbFreqs, ps.perturbNorm),
		config: map[string]any{
			"problem": "pde (darcy)", "grid": size, "train_samples": ps.trainN, "test_samples": ps.testN, "epochs": ps.epochs,
			"batch": batch, "lr": lr, "width": ps.width, "modes": ps.modes, "projection_hidden": ps.hidden, "dtype": dt.String(),
			"tol": stop.Tol, "max_iter": stop.MaxIter, "jacobian_weight": ablationPdeJacobian,
		},
		notes: append(ablationNotes(unrolled, ablationPdeJacobian),
			"metric: relative L2 error of u in physical units (lower is better), as in the pde experiment; the Fourier cell is z = φ(Kz + zW + v + b) with the lifted input v."),
	}
	return c.run(ctx, o)
}
