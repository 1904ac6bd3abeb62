package experiments

import (
	"context"
	"fmt"
	"strconv"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/network"
	"github.com/implicit-ml/implicit/train"
	"github.com/implicit-ml/implicit/train/report"
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

// Problems implements Experiment: classify has no variants.
func (Classify) Problems() []string { return nil }

// Defaults implements Experiment.
func (Classify) Defaults(_ string, quick bool) Defaults {
	d := Defaults{Datasets: []string{"mnist", "fashion"}, Epochs: 4, Batch: 64, Hidden: 128, HiddenMeans: "hidden units",
		LR: 1e-3, Schedule: "cosine", Solver: "anderson", Backward: "ift", Adjoint: "anderson", Tol: 1e-4, MaxIter: 50, Dtype: tensor.Float32}
	if quick {
		d.Epochs = 1
	}
	return d
}

// classifySizes are the data and evaluation sizes of the default run (a
// few minutes on two cores) and of -quick (well under two minutes).
type classifySizes struct {
	unroll, maxT                int
	trainN, valN, testN, probeN int // trainN and testN 0: all
}

func classifySizesFor(quick bool) classifySizes {
	if quick {
		return classifySizes{unroll: 10, maxT: 15, trainN: 3000, valN: 500, testN: 1000, probeN: 100}
	}
	return classifySizes{unroll: 10, maxT: 40, valN: 5000, probeN: 200}
}

// classifySet is the classify experiment's three models.
type classifySet struct{ mlp, deq, twin *network.Network }

// classifyModels builds the three models for inputs and one-hot targets of
// the given shapes.
func classifyModels(s Settings, unroll int, inShape, outShape []int) classifySet {
	in, classes, hidden := inShape[0], outShape[0], s.Hidden
	mk := func(name, kind, desc string, body func(*layers.Scope, *G.Node) (*G.Node, error)) *network.Network {
		return network.New(network.Spec{Name: name, Kind: kind, Description: desc, Dtype: s.Dtype, Seed: s.Seed,
			Input: inShape, Target: outShape, Body: body, Loss: network.CrossEntropy, WarmStart: s.WarmStart})
	}
	mlp := mk("explicit-mlp", train.KindExplicit, fmt.Sprintf("%d→%d→%d→%d MLP, tanh", in, hidden, hidden, classes),
		func(sc *layers.Scope, x *G.Node) (*G.Node, error) {
			return layers.Sequential{
				sc.Dense("fc1", in, hidden, layers.Tanh),
				sc.Dense("fc2", hidden, hidden, layers.Tanh),
				sc.Dense("head", hidden, classes, layers.Identity),
			}.Fwd(x)
		})
	icfg := layers.ImplicitConfig{Forward: s.Solver, Stop: s.Stop, Backward: s.Backward}
	deqModel := mk("implicit-deq", train.KindImplicit,
		fmt.Sprintf("%d→implicit %d (z = tanh(zW + xU + b), %s, %s)→%d", in, hidden, s.Solver.Name(), s.Backward.Name(), classes),
		func(sc *layers.Scope, x *G.Node) (*G.Node, error) {
			return layers.Sequential{
				sc.Dense("inject", in, hidden, layers.Identity, layers.NoBias()),
				sc.Implicit("deq", sc.DenseCell("cell", hidden, layers.Tanh), icfg),
				sc.Dense("head", hidden, classes, layers.Identity),
			}.Fwd(x)
		})
	twin := mk(fmt.Sprintf("unrolled-%d", unroll), train.KindUnrolled,
		fmt.Sprintf("the DEQ's cell unrolled %d times, weight-tied", unroll),
		func(sc *layers.Scope, x *G.Node) (*G.Node, error) {
			return layers.Sequential{
				sc.Dense("inject", in, hidden, layers.Identity, layers.NoBias()),
				&layers.Unrolled{Cell: sc.DenseCell("cell", hidden, layers.Tanh), Steps: unroll},
				sc.Dense("head", hidden, classes, layers.Identity),
			}.Fwd(x)
		})
	return classifySet{mlp: mlp, deq: deqModel, twin: twin}
}

// ClassifyModel returns one of the classify experiment's models — "mlp",
// "deq" or "unrolled" (K = unroll) — for MNIST-shaped data, configured by
// opts (Hidden, Dtype, Solver, Backward, AdjointSolver, Tol, MaxIter,
// Seed). Benchmarks use it to train exactly what the experiment trains.
func ClassifyModel(kind string, unroll int, opts Options) (train.Model, error) {
	s, err := Resolve(Classify{}, opts)
	if err != nil {
		return nil, err
	}
	ms := classifyModels(s, orInt(unroll, 10), []int{784}, []int{10})
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

// classifyData loads the dataset, standardised with the training
// statistics, and splits off the validation set.
func classifyData(s Settings, z classifySizes) (trainSet, val, test *datasets.Labeled, err error) {
	all, test, err := datasets.Load(s.Dataset, s.DataDir)
	if err != nil {
		return nil, nil, nil, err
	}
	if all.Len() <= z.valN {
		return nil, nil, nil, fmt.Errorf("experiments: the %s training set in %s has %d images, and classify holds out %d of them for validation; give it the full set (-data)",
			s.Dataset, orString(s.DataDir, "the default location"), all.Len(), z.valN)
	}
	mean, std := all.MeanStd()
	all.Standardize(mean, std)
	test.Standardize(mean, std)
	trainSet, val = all.Split(z.valN, s.Seed)
	if z.trainN > 0 {
		trainSet = trainSet.Head(z.trainN)
	}
	if z.testN > 0 {
		test = test.Head(z.testN)
	}
	return trainSet, val, test, nil
}

// Run implements Experiment.
func (Classify) Run(ctx context.Context, s Settings) (*report.Report, error) {
	z := classifySizesFor(s.Quick)
	trainSet, val, test, err := classifyData(s, z)
	if err != nil {
		return nil, err
	}
	ms := classifyModels(s, z.unroll, trainSet.InputShape(), trainSet.TargetShape())
	c := &comparison{
		experiment: "classify", dataset: s.Dataset, metric: train.Accuracy(),
		trainSet: trainSet, valSet: val, testSet: test,
		models: []model{ms.mlp, ms.deq, ms.twin},
		fit: train.Config{
			Epochs: s.Epochs, BatchSize: s.Batch, Seed: s.Seed, Schedule: s.Schedule, Optimizer: s.Optimizer(s.LR),
			Fingerprint: map[string]string{
				"dataset": s.Dataset, "hidden": strconv.Itoa(s.Hidden), "dtype": s.Dtype.String(),
				"solver": s.Solver.Name(), "backward": s.Backward.Name(), "tol": fmt.Sprint(s.Stop.Tol), "quick": strconv.FormatBool(s.Quick),
			},
		},
		ts:        train.IterationCounts(z.maxT),
		probe:     train.RandomProbe(test, z.probeN, 2, 1e-2, s.Seed),
		evalBatch: 500,
		config: map[string]any{
			"epochs": s.Epochs, "batch": s.Batch, "hidden": s.Hidden, "lr": s.LR, "dtype": s.Dtype.String(), "schedule": s.Schedule.String(),
			"solver": s.Solver.Name(), "backward": s.Backward.Name(), "tol": s.Stop.Tol, "max_iter": s.Stop.MaxIter,
			"train_samples": trainSet.Len(), "validation_samples": val.Len(), "test_samples": test.Len(),
			"unroll": z.unroll, "lipschitz_probe": fmt.Sprintf("%d test images × 2 random directions of norm 1e-2", z.probeN),
		},
		notes: []string{
			"L is the empirical Lipschitz constant of x ↦ logits: the largest ‖y(x+δ) − y(x)‖/‖δ‖ over the probe.",
			"The implicit model's curve evaluates y_t, t iterations of the cell from z₀ = 0; its test accuracy is at the solver's result (tol and max_iter above; extra.test_not_converged_fraction is the share of test samples whose solve missed the tolerance).",
		},
	}
	return c.run(ctx, s.Options)
}
