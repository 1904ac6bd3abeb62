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

// Classify is the main job: on MNIST (or Fashion-MNIST) an explicit MLP
// (784 → 128 → 128 → 10, tanh), an implicit dense DEQ (784 → implicit
// 128 → 10) and the DEQ cell's unrolled weight-tied twin, trained one after
// another on the same data in the same order, then compared: accuracy,
// time, memory, iterations, and the implicit model's accuracy and
// empirical Lipschitz constant against test-time iterations.
type Classify struct{}

// Name implements Experiment.
func (Classify) Name() string { return "classify" }

// Summary implements Experiment.
func (Classify) Summary() string {
	return "MNIST/Fashion-MNIST: explicit MLP vs implicit DEQ vs its unrolled twin; accuracy and L_t against test-time iterations"
}

// classifySet is the classify experiment's three models and their
// solver settings.
type classifySet struct {
	mlp, deq, twin *netModel
	solver         deq.Solver
	backward       deq.Backward
	stop           deq.Stop
	dt             tensor.Dtype
}

// classifyModels builds the three models for inputs and one-hot targets of
// the given shapes.
func classifyModels(o Options, hidden, unroll int, inShape, outShape []int) classifySet {
	stop := deq.Stop{Tol: orFloat(o.Tol, 1e-4), MaxIter: orInt(o.MaxIter, 50)}
	solver, _ := ParseSolver(o.Solver)
	backward, _ := ParseBackward(o.Backward, o.AdjointSolver, stop)
	in, classes := inShape[0], outShape[0]
	dt := o.dtype()
	mk := func(name, kind, desc string, body func(*layers.Scope, *G.Node) (*G.Node, error)) *netModel {
		return &netModel{name: name, kind: kind, desc: desc, dt: dt, seed: o.Seed, in: inShape, out: outShape, body: body, loss: crossEntropy, warm: o.WarmStart}
	}
	mlp := mk("explicit-mlp", train.KindExplicit, fmt.Sprintf("%d→%d→%d→%d MLP, tanh", in, hidden, hidden, classes),
		func(s *layers.Scope, x *G.Node) (*G.Node, error) {
			return layers.Sequential{
				s.Dense("fc1", in, hidden, layers.Tanh),
				s.Dense("fc2", hidden, hidden, layers.Tanh),
				s.Dense("head", hidden, classes, layers.Identity),
			}.Fwd(x)
		})
	icfg := layers.ImplicitConfig{Forward: solver, Stop: stop, Backward: backward}
	deqModel := mk("implicit-deq", train.KindImplicit,
		fmt.Sprintf("%d→implicit %d (z = tanh(zW + xU + b), %s, %s)→%d", in, hidden, solver.Name(), backward.Name(), classes),
		func(s *layers.Scope, x *G.Node) (*G.Node, error) {
			return layers.Sequential{
				s.Dense("inject", in, hidden, layers.Identity, layers.NoBias()),
				s.Implicit("deq", s.DenseCell("cell", hidden, layers.Tanh), icfg),
				s.Dense("head", hidden, classes, layers.Identity),
			}.Fwd(x)
		})
	twin := mk(fmt.Sprintf("unrolled-%d", unroll), train.KindUnrolled,
		fmt.Sprintf("the DEQ's cell unrolled %d times, weight-tied", unroll),
		func(s *layers.Scope, x *G.Node) (*G.Node, error) {
			return layers.Sequential{
				s.Dense("inject", in, hidden, layers.Identity, layers.NoBias()),
				&layers.Unrolled{Cell: s.DenseCell("cell", hidden, layers.Tanh), Steps: unroll},
				s.Dense("head", hidden, classes, layers.Identity),
			}.Fwd(x)
		})
	return classifySet{mlp: mlp, deq: deqModel, twin: twin, solver: solver, backward: backward, stop: stop, dt: dt}
}

// ClassifyModel returns one of the classify experiment's models — "mlp",
// "deq" or "unrolled" (K = unroll) — for MNIST-shaped data, configured by
// opts (Hidden, Dtype, Solver, Backward, AdjointSolver, Tol, MaxIter,
// Seed). Benchmarks use it to train exactly what the experiment trains.
func ClassifyModel(kind string, unroll int, opts Options) (train.Model, error) {
	if err := opts.Validate(); err != nil {
		return nil, Usage(err)
	}
	ms := classifyModels(opts, orInt(opts.Hidden, 128), orInt(unroll, 10), []int{784}, []int{10})
	switch kind {
	case "mlp":
		return ms.mlp, nil
	case "deq":
		return ms.deq, nil
	case "unrolled":
		return ms.twin, nil
	}
	return nil, usagef("classify model %q: want mlp, deq or unrolled", kind)
}

// classifyDefaults are the settings of the default run (a few minutes on
// two cores) and of -quick (well under two minutes).
type classifyDefaults struct {
	epochs, batch, hidden, unroll, maxT int
	lr                                  float64
	trainN, valN, testN, probeN         int
}

func (d classifyDefaults) quick() classifyDefaults {
	d.epochs, d.trainN, d.valN, d.testN, d.probeN, d.maxT = 1, 3000, 500, 1000, 100, 15
	return d
}

// Run implements Experiment.
func (Classify) Run(ctx context.Context, o Options) (*train.Report, error) {
	d := classifyDefaults{epochs: 4, batch: 64, hidden: 128, unroll: 10, maxT: 40, lr: 1e-3, valN: 5000, probeN: 200}
	if o.Quick {
		d = d.quick()
	}
	name := o.Dataset
	if name == "" {
		name = "mnist"
	}
	if name != "mnist" && name != "fashion" {
		return nil, usagef("dataset %q: classify runs on mnist or fashion", name)
	}
	all, test, err := datasets.Load(name, o.DataDir)
	if err != nil {
		return nil, err
	}
	// Standardise with the training statistics, then hold out validation.
	mean, std := all.MeanStd()
	all.Standardize(mean, std)
	test.Standardize(mean, std)
	trainSet, val := all.Split(d.valN, o.Seed)
	if d.trainN > 0 {
		trainSet = trainSet.Head(d.trainN)
	}
	if d.testN > 0 {
		test = test.Head(d.testN)
	}

	epochs := orInt(o.Epochs, d.epochs)
	batch := orInt(o.Batch, d.batch)
	hidden := orInt(o.Hidden, d.hidden)
	ms := classifyModels(o, hidden, d.unroll, trainSet.InputShape(), trainSet.TargetShape())
	solver, backward, stop, dt := ms.solver, ms.backward, ms.stop, ms.dt
	mlp, deqModel, twin := ms.mlp, ms.deq, ms.twin

	sched, _ := train.ParseSchedule(orString(o.Schedule, "cosine"))
	c := &comparison{
		experiment: "classify", dataset: name, metric: train.Accuracy(),
		trainSet: trainSet, valSet: val, testSet: test,
		models: []model{mlp, deqModel, twin},
		fit: train.Config{
			Epochs: epochs, BatchSize: batch, Seed: o.Seed, Schedule: sched,
			Optimizer: train.OptimizerConfig{Kind: o.Optimizer, LR: orFloat(o.LR, d.lr), ClipNorm: o.Clip},
			Fingerprint: map[string]string{
				"dataset": name, "hidden": strconv.Itoa(hidden), "dtype": dt.String(),
				"solver": solver.Name(), "backward": backward.Name(), "tol": fmt.Sprint(stop.Tol), "quick": strconv.FormatBool(o.Quick),
			},
		},
		ts:        train.IterationCounts(d.maxT),
		probe:     train.RandomProbe(test, d.probeN, 2, 1e-2, o.Seed),
		evalBatch: 500,
		config: map[string]any{
			"epochs": epochs, "batch": batch, "hidden": hidden, "lr": orFloat(o.LR, d.lr), "dtype": dt.String(), "schedule": sched.String(),
			"solver": solver.Name(), "backward": backward.Name(), "tol": stop.Tol, "max_iter": stop.MaxIter,
			"train_samples": trainSet.Len(), "validation_samples": val.Len(), "test_samples": test.Len(),
			"unroll": d.unroll, "lipschitz_probe": fmt.Sprintf("%d test images × 2 random directions of norm 1e-2", d.probeN),
		},
		notes: []string{
			"L is the empirical Lipschitz constant of x ↦ logits: the largest ‖y(x+δ) − y(x)‖/‖δ‖ over the probe.",
			"The implicit model's curve evaluates y_t, t iterations of the cell from z₀ = 0; its test accuracy is at convergence.",
		},
	}
	return c.run(ctx, o)
}
