package experiments

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"strconv"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/layers/conv"
	"github.com/implicit-ml/implicit/network"
	"github.com/implicit-ml/implicit/train"
	"github.com/implicit-ml/implicit/train/report"
)

// Reason is the looped-reasoning experiment: prefix parity, trained on
// strings of 32 bits and tested on strings up to 8x longer. A weight-tied
// causal convolutional cell, iterated as an implicit layer, carries each
// prefix's parity one position per iteration, so it answers longer strings
// when given more iterations; explicit stacks of untied copies of the cell
// reach only as far as their depth.
type Reason struct{}

// Name implements Experiment.
func (Reason) Name() string { return "reason" }

// Summary implements Experiment.
func (Reason) Summary() string {
	return "prefix parity: a looped implicit cell extrapolates to 4-8x longer strings by iterating longer; fixed-depth nets do not"
}

// Problems implements Experiment: reason has no variants.
func (Reason) Problems() []string { return nil }

// reasonTrainLen is the length of the training strings.
const reasonTrainLen = 32

// Defaults implements Experiment. -hidden sets the cell's channels. A
// constant rate: training sits on a plateau before it finds the parity
// rule, and a decaying rate can stall there in short runs.
func (Reason) Defaults(_ string, quick bool) Defaults {
	d := Defaults{Epochs: 4, Batch: 64, Hidden: 16, HiddenMeans: "cell channels", LR: 1e-2, Schedule: "constant", Clip: 1,
		Solver: "picard", Backward: "ift", Adjoint: "picard", Tol: 1e-5, MaxIter: 2*reasonTrainLen + 8, Dtype: tensor.Float32}
	if quick {
		d.Epochs = 2
	}
	return d
}

// reasonSizes are the data sizes and the baselines of a run.
type reasonSizes struct {
	trainN, testN, hidden int
	sizes                 []int
	depths                []int // explicit stacks
}

func reasonSizesFor(quick bool) reasonSizes {
	if quick {
		return reasonSizes{trainN: 8000, testN: 100, hidden: 32, sizes: []int{32, 128}, depths: []int{32}}
	}
	return reasonSizes{trainN: 8000, testN: 200, hidden: 32, sizes: []int{32, 64, 128, 256}, depths: []int{32, 64}}
}

// Run implements Experiment.
func (Reason) Run(ctx context.Context, s Settings) (*report.Report, error) {
	rs, n := reasonSizesFor(s.Quick), reasonTrainLen
	main := 4 * n // the size the report's curves are drawn at
	trainSet := datasets.ParitySequences(rs.trainN, n, s.Seed)
	tests := map[int]*datasets.ParitySet{}
	for _, sz := range slices.Concat(rs.sizes, []int{main}) {
		if tests[sz] == nil {
			tests[sz] = datasets.ParitySequences(rs.testN, sz, s.Seed+1000)
		}
	}
	ev := &reasonEval{sizes: rs.sizes, tests: tests, seed: s.Seed, main: main,
		curves: map[string]map[int][]train.CurvePoint{}, posCurves: map[string]map[int][]train.CurvePoint{}}
	c := &comparison{
		experiment: "reason", dataset: fmt.Sprintf("prefix parity, trained at n=%d, curves at n=%d", n, main),
		metric: sequenceAccuracy(), trainSet: trainSet, testSet: tests[main], models: reasonModels(s, rs),
		fit: train.Config{
			Epochs: s.Epochs, BatchSize: s.Batch, Seed: s.Seed, Schedule: s.Schedule, LogEvery: 50, Optimizer: s.Optimizer(s.LR),
			Fingerprint: map[string]string{"channels": strconv.Itoa(s.Hidden), "hidden": strconv.Itoa(rs.hidden), "dtype": s.Dtype.String(), "quick": strconv.FormatBool(s.Quick)},
		},
		ts: reasonTs(main), probe: flipProbe(tests[main], s.Seed), evalBatch: 100,
		evalView: func(m model) train.Model { return reshaped(m, []int{main}, []int{main, 2}) },
		after:    ev.after, finish: ev.figures,
		config: map[string]any{
			"train_length": n, "train_strings": rs.trainN, "test_strings_per_size": rs.testN, "sizes": rs.sizes,
			"epochs": s.Epochs, "channels": s.Hidden, "hidden": rs.hidden, "dtype": s.Dtype.String(), "explicit_depths": rs.depths,
			"solver": s.Solver.Name(), "backward": s.Backward.Name(), "tol": s.Stop.Tol, "max_iter_training": s.Stop.MaxIter,
		},
		notes: []string{
			"metric: whole-string accuracy (every prefix parity right); pos_acc: per-position accuracy. Chance is 2^-n for whole strings, 0.5 per position.",
			fmt.Sprintf("The implicit model's accuracy at each size is at t = 4n iterations from z₀ = 0 (y_t, plain iteration); its curves are drawn at n = %d (4x the training length).", main),
			"L (sensitivity ratio): the mean of ‖y(x') − y(x)‖/‖x' − x‖ over test strings with one random bit flipped (the discrete analogue of L_t), y the softmax-free readout.",
			"reason_accuracy_vs_t.png and reason_position_accuracy_vs_t.png: whole-string and per-position accuracy of the implicit model against t, one curve per size, the fixed-depth models as horizontal lines (Extra holds every value: seq_acc_nN_tT, pos_acc_nN_tT).",
		},
	}
	return c.run(ctx, s.Options)
}

// reasonModels are the looped cell (implicit), its weight-tied twin
// unrolled n times and the untied stacks. The cell is two ReLU layers:
// with one tanh layer 3 of 7 seeds stayed on the plateau (about 60% per
// position), with two tanh layers 3 of 7; with two ReLU layers 11 of 11
// seeds learned the rule and answered 4x longer strings.
func reasonModels(s Settings, rs reasonSizes) []model {
	n, ch, hid := reasonTrainLen, s.Hidden, rs.hidden
	icfg := layers.ImplicitConfig{Forward: s.Solver, Stop: s.Stop, Backward: s.Backward}
	spec := func(name, kind, desc string) network.Spec {
		return network.Spec{Name: name, Kind: kind, Description: desc, Dtype: s.Dtype, Seed: s.Seed}
	}
	models := []model{
		ReasonModel(spec("implicit-loop", train.KindImplicit,
			fmt.Sprintf("embed → causal ReLU conv cell (%d channels, hidden layer of %d, weight-tied, %s, %s) → readout", ch, hid, s.Solver.Name(), s.Backward.Name())),
			n, ch, hid, func(sc *layers.Scope, inj *G.Node) (*G.Node, error) {
				return sc.Implicit("loop", ReasonCell(sc, "cell", ch, hid), icfg).Fwd(inj)
			}),
		ReasonModel(spec(fmt.Sprintf("unrolled-%d", n), train.KindUnrolled,
			fmt.Sprintf("the same weight-tied cell unrolled %d times (the training length), backpropagated through", n)),
			n, ch, hid, func(sc *layers.Scope, inj *G.Node) (*G.Node, error) {
				return (&layers.Unrolled{Cell: ReasonCell(sc, "cell", ch, hid), Steps: n}).Fwd(inj)
			}),
	}
	for _, depth := range rs.depths {
		models = append(models, ReasonModel(spec(fmt.Sprintf("explicit-stack-%d", depth), train.KindExplicit,
			fmt.Sprintf("embed → %d untied causal conv layers (%d channels) → readout", depth, ch)),
			n, ch, hid, func(sc *layers.Scope, inj *G.Node) (*G.Node, error) {
				return ReasonStack(sc, inj, ch, hid, depth)
			}))
	}
	return models
}

// ReasonCell is the reason experiment's cell, named name: a causal
// convolution over each position and the one before it, ch channels
// through a ReLU hidden layer of hid, with an injection of hid channels
// per position.
func ReasonCell(sc *layers.Scope, name string, ch, hid int) *conv.ConvCell {
	return conv.NewConvCellHidden(sc, name, ch, hid, []int{-1}, layers.ReLU)
}

// ReasonStack is the body of the reason experiment's explicit stacks:
// depth untied copies of ReasonCell ("layer0", "layer1", …) applied in
// turn from z = 0, each seeing the injection inj (B, n·hid); the state is
// (B, n·ch).
func ReasonStack(sc *layers.Scope, inj *G.Node, ch, hid, depth int) (*G.Node, error) {
	shape := tensor.Shape{inj.Shape()[0], inj.Shape()[1] / hid * ch}
	z := inj.Graph().AddNode(G.NewConstant(tensor.New(tensor.WithShape(shape...), tensor.Of(inj.Dtype())), G.WithName("zeros")))
	for k := 0; k < depth; k++ {
		var err error
		if z, err = ReasonCell(sc, fmt.Sprintf("layer%d", k), ch, hid).Apply(z, G.Nodes{inj}); err != nil {
			return nil, err
		}
	}
	return z, nil
}

// reasonEval evaluates every model at every test length (and the
// implicit model's curves at each), and draws the accuracy figures.
type reasonEval struct {
	sizes             []int
	tests             map[int]*datasets.ParitySet
	seed              uint64
	main              int
	curves, posCurves map[string]map[int][]train.CurvePoint // model → size → curve
}

// after records a model's accuracies at every size (and for the implicit
// model its curves); the implicit evaluator is left at t = 4·main.
func (r *reasonEval) after(ctx context.Context, m model, ev *train.Evaluator, mr *report.ModelReport) error {
	if mr.Extra == nil {
		mr.Extra = map[string]float64{}
	}
	r.curves[m.Name()] = map[int][]train.CurvePoint{}
	r.posCurves[m.Name()] = map[int][]train.CurvePoint{}
	for _, sz := range r.sizes {
		if err := r.atSize(ctx, m, mr, sz); err != nil {
			return err
		}
	}
	if m.Kind() == train.KindImplicit {
		ev.SetIterations(4 * r.main)
	}
	return nil
}

// atSize evaluates m on the strings of length sz (the implicit model at
// t = 4·sz, and its curves against t).
func (r *reasonEval) atSize(ctx context.Context, m model, mr *report.ModelReport, sz int) error {
	e2, err := train.NewEvaluator(reshaped(m, []int{sz}, []int{sz, 2}), 100)
	if err != nil {
		return err
	}
	defer e2.Close()
	e2.SetContext(ctx)
	implicit := m.Kind() == train.KindImplicit
	if implicit {
		e2.SetIterations(4 * sz)
	}
	sa, err := e2.Evaluate(r.tests[sz], sequenceAccuracy())
	if err != nil {
		return err
	}
	pa, err := e2.Evaluate(r.tests[sz], positionAccuracy())
	if err != nil {
		return err
	}
	mr.Extra[fmt.Sprintf("seq_acc_n%d", sz)] = sa.Mean
	mr.Extra[fmt.Sprintf("pos_acc_n%d", sz)] = pa.Mean
	if sz == r.main {
		mr.TestMetric = sa.Mean
	}
	if !implicit {
		return nil
	}
	cv, err := e2.Curve(r.tests[sz], sequenceAccuracy(), reasonTs(sz), flipProbe(r.tests[sz], r.seed))
	if err != nil {
		return err
	}
	r.curves[m.Name()][sz] = cv
	pc, err := e2.Curve(r.tests[sz], positionAccuracy(), reasonTs(sz), train.Probe{})
	if err != nil {
		return err
	}
	r.posCurves[m.Name()][sz] = pc
	for _, p := range pc {
		mr.Extra[fmt.Sprintf("pos_acc_n%d_t%d", sz, p.T)] = p.Metric
	}
	for _, p := range cv {
		mr.Extra[fmt.Sprintf("seq_acc_n%d_t%d", sz, p.T)] = p.Metric
	}
	return nil
}

// figures draws the two accuracy figures.
func (r *reasonEval) figures(dir string, rep *report.Report) error {
	if err := reasonFigure(filepath.Join(dir, "reason_accuracy_vs_t.png"), rep, r.curves, r.sizes, "seq_acc", "whole-string accuracy"); err != nil {
		return err
	}
	return reasonFigure(filepath.Join(dir, "reason_position_accuracy_vs_t.png"), rep, r.posCurves, r.sizes, "pos_acc", "per-position accuracy")
}

// ReasonModel builds a model of the reason experiment, embed → body →
// readout over strings of length n with the per-position cross-entropy;
// body maps the injection (B, n·injCh) to the state (B, n·ch). spec names
// the model (Name, Kind, Description, Dtype, Seed); ReasonModel sets its
// Input, Target, Body and Loss.
func ReasonModel(spec network.Spec, n, ch, injCh int, body func(*layers.Scope, *G.Node) (*G.Node, error)) *network.Network {
	m := spec
	m.Input, m.Target = []int{n}, []int{n, 2}
	m.Body = func(s *layers.Scope, x *G.Node) (*G.Node, error) {
		b, sz := x.Shape()[0], x.Shape()[1]
		xr, err := G.Reshape(x, tensor.Shape{b * sz, 1})
		if err != nil {
			return nil, err
		}
		e, err := s.Dense("embed", 1, injCh, layers.Identity).Fwd(xr)
		if err != nil {
			return nil, err
		}
		inj, err := G.Reshape(e, tensor.Shape{b, sz * injCh})
		if err != nil {
			return nil, err
		}
		z, err := body(s, inj)
		if err != nil {
			return nil, err
		}
		zr, err := G.Reshape(z, tensor.Shape{b * sz, ch})
		if err != nil {
			return nil, err
		}
		h, err := s.Dense("read1", ch, ch, layers.Tanh).Fwd(zr)
		if err != nil {
			return nil, err
		}
		logits, err := s.Dense("read2", ch, 2, layers.Identity).Fwd(h)
		if err != nil {
			return nil, err
		}
		return G.Reshape(logits, tensor.Shape{b, sz, 2})
	}
	m.Loss = func(out, y, _ *G.Node) (*G.Node, error) {
		s := out.Shape()
		o2, err := G.Reshape(out, tensor.Shape{s[0] * s[1], 2})
		if err != nil {
			return nil, err
		}
		y2, err := G.Reshape(y, tensor.Shape{s[0] * s[1], 2})
		if err != nil {
			return nil, err
		}
		return layers.SoftmaxCrossEntropy(o2, y2)
	}
	return network.New(m)
}

// sequenceAccuracy scores 1 when every position's argmax is right.
func sequenceAccuracy() train.Metric {
	return train.Metric{Name: "whole-string accuracy", HigherIsBetter: true, Sample: func(out, target []float32) float64 {
		for i := 0; i+1 < len(out); i += 2 {
			if (out[i+1] > out[i]) != (target[i+1] > target[i]) {
				return 0
			}
		}
		return 1
	}}
}

// positionAccuracy scores the fraction of positions whose argmax is right.
func positionAccuracy() train.Metric {
	return train.Metric{Name: "per-position accuracy", HigherIsBetter: true, Sample: func(out, target []float32) float64 {
		right := 0
		for i := 0; i+1 < len(out); i += 2 {
			if (out[i+1] > out[i]) == (target[i+1] > target[i]) {
				right++
			}
		}
		return float64(right) / float64(len(out)/2)
	}}
}

// reasonTs are the iteration counts of the curves at length n: dense
// early, then multiples of n/4 up to 4n.
func reasonTs(n int) []int {
	set := map[int]bool{1: true, 2: true, 4: true}
	for _, f := range []int{1, 2, 3, 4, 5, 6, 8, 10, 12, 16} {
		if t := f * n / 4; t >= 1 && t <= 4*n {
			set[t] = true
		}
	}
	set[n+1] = true
	var ts []int
	for t := range set {
		ts = append(ts, t)
	}
	sort.Ints(ts)
	return ts
}

// flipProbe flips one random bit (±1 → ∓1) of every string.
func flipProbe(s *datasets.ParitySet, seed uint64) train.Probe {
	rng := rand.New(rand.NewPCG(seed, flipStream))
	p := train.Probe{N: s.N, X: make([]float64, s.N*s.Length), Mean: true}
	d := make([]float64, len(p.X))
	x, y := make([]float32, s.Length), make([]float32, 2*s.Length)
	for k := 0; k < s.N; k++ {
		s.Sample(k, x, y)
		for i, v := range x {
			p.X[k*s.Length+i] = float64(v)
		}
		i := rng.IntN(s.Length)
		d[k*s.Length+i] = -2 * float64(x[i])
	}
	p.Deltas = [][]float64{d}
	return p
}

// reasonFigure draws an accuracy (whole-string or per-position: key is the
// Extra prefix of the baselines' values) against t for each size.
func reasonFigure(path string, rep *report.Report, curves map[string]map[int][]train.CurvePoint, sizes []int, key, label string) error {
	var series []report.Series
	for _, sz := range sizes {
		cv := curves["implicit-loop"][sz]
		s := report.Series{Name: fmt.Sprintf("implicit, n = %d", sz), Points: true}
		for _, p := range cv {
			s.X, s.Y = append(s.X, float64(p.T)), append(s.Y, p.Metric)
		}
		series = append(series, s)
	}
	for _, m := range rep.Models {
		if m.Kind == train.KindImplicit {
			continue
		}
		for _, sz := range sizes {
			v := m.Extra[fmt.Sprintf("%s_n%d", key, sz)]
			series = append(series, report.Series{Name: fmt.Sprintf("%s, n = %d", m.Name, sz), X: []float64{1, float64(4 * sizes[len(sizes)-1])}, Y: []float64{v, v}, Dashed: true})
		}
	}
	return report.LinePlot(path, "prefix parity: "+label+" against iterations", "test-time iterations t", label, true, false, series)
}

// flipStream is the second word of the PCG seed of the bits flipProbe
// flips ("flip").
const flipStream = 0x666c6970
