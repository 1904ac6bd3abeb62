package experiments

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strconv"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/train"
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

// reasonSettings are the defaults and the -quick reductions.
type reasonSettings struct {
	trainLen, trainN, testN, epochs, channels, hidden int
	sizes                                             []int
	depths                                            []int // explicit stacks
}

func (r reasonSettings) quick() reasonSettings {
	r.trainN, r.testN, r.epochs, r.sizes, r.depths = 8000, 100, 2, []int{32, 128}, []int{32}
	return r
}

// Run implements Experiment.
func (Reason) Run(ctx context.Context, o Options) (*train.Report, error) {
	rs := reasonSettings{trainLen: 32, trainN: 8000, testN: 200, epochs: 4, channels: 16, hidden: 32, sizes: []int{32, 64, 128, 256}, depths: []int{32, 64}}
	if o.Quick {
		rs = rs.quick()
	}
	rs.epochs = orInt(o.Epochs, rs.epochs)
	rs.channels = orInt(o.Hidden, rs.channels)
	dt := o.dtype(tensor.Float32)
	n := rs.trainLen
	trainSet := datasets.ParitySequences(rs.trainN, n, o.Seed)
	main := 4 * n // the size the report's curves are drawn at
	tests := map[int]*datasets.ParitySet{}
	for _, sz := range rs.sizes {
		tests[sz] = datasets.ParitySequences(rs.testN, sz, o.Seed+1000)
	}
	if tests[main] == nil {
		tests[main] = datasets.ParitySequences(rs.testN, main, o.Seed+1000)
	}
	stop := deq.Stop{Tol: orFloat(o.Tol, 1e-5), MaxIter: orInt(o.MaxIter, 2*n+8)}
	solver := deq.Solver(deq.Picard{})
	if o.Solver != "" {
		solver, _ = ParseSolver(o.Solver)
	}
	adj := orString(o.AdjointSolver, "picard")
	backward, _ := ParseBackward(o.Backward, adj, stop)
	icfg := layers.ImplicitConfig{Forward: solver, Stop: stop, Backward: backward}

	var models []model
	implicit := reasonModel("implicit-loop", train.KindImplicit,
		fmt.Sprintf("embed → causal ReLU conv cell (%d channels, hidden layer of %d, weight-tied, %s, %s) → readout", rs.channels, rs.hidden, solver.Name(), backward.Name()),
		dt, o.Seed, n, rs.channels, rs.hidden, func(s *layers.Scope, inj *G.Node) (*G.Node, error) {
			return s.Implicit("loop", s.ConvCellHidden("cell", rs.channels, rs.hidden, []int{-1}, layers.ReLU), icfg).Fwd(inj)
		})
	models = append(models, implicit,
		reasonModel(fmt.Sprintf("unrolled-%d", n), train.KindUnrolled,
			fmt.Sprintf("the same weight-tied cell unrolled %d times (the training length), backpropagated through", n),
			dt, o.Seed, n, rs.channels, rs.hidden, func(s *layers.Scope, inj *G.Node) (*G.Node, error) {
				return (&layers.Unrolled{Cell: s.ConvCellHidden("cell", rs.channels, rs.hidden, []int{-1}, layers.ReLU), Steps: n}).Fwd(inj)
			}))
	for _, depth := range rs.depths {
		depth := depth
		models = append(models, reasonModel(fmt.Sprintf("explicit-stack-%d", depth), train.KindExplicit,
			fmt.Sprintf("embed → %d untied causal conv layers (%d channels) → readout", depth, rs.channels),
			dt, o.Seed, n, rs.channels, rs.hidden, func(s *layers.Scope, inj *G.Node) (*G.Node, error) {
				shape := tensor.Shape{inj.Shape()[0], inj.Shape()[1] / rs.hidden * rs.channels}
				z := inj.Graph().AddNode(G.NewConstant(tensor.New(tensor.WithShape(shape...), tensor.Of(dt)), G.WithName("zeros")))
				for k := 0; k < depth; k++ {
					var err error
					if z, err = s.ConvCellHidden(fmt.Sprintf("layer%d", k), rs.channels, rs.hidden, []int{-1}, layers.ReLU).Apply(z, G.Nodes{inj}); err != nil {
						return nil, err
					}
				}
				return z, nil
			}))
	}

	seqAcc := sequenceAccuracy()
	posAcc := positionAccuracy()
	ts := reasonTs(main)
	curves := map[string]map[int][]train.CurvePoint{}    // model → size → curve
	posCurves := map[string]map[int][]train.CurvePoint{} // per-position accuracy
	// A constant rate: training sits on a plateau before it finds the
	// parity rule, and a decaying rate can stall there in short runs. The
	// cell is two ReLU layers: with one tanh layer 3 of 7 seeds stayed on
	// the plateau (about 60% per position), with two tanh layers 3 of 7;
	// with two ReLU layers 11 of 11 seeds learned the rule and answered 4x
	// longer strings.
	sched, _ := train.ParseSchedule(orString(o.Schedule, "constant"))
	c := &comparison{
		experiment: "reason", dataset: fmt.Sprintf("prefix parity, trained at n=%d, curves at n=%d", n, main),
		metric: seqAcc, trainSet: trainSet, testSet: tests[main], models: models,
		fit: train.Config{
			Epochs: rs.epochs, BatchSize: orInt(o.Batch, 64), Seed: o.Seed, Schedule: sched, LogEvery: 50,
			Optimizer:   train.OptimizerConfig{Kind: o.Optimizer, LR: orFloat(o.LR, 1e-2), ClipNorm: orFloat(o.Clip, 1)},
			Fingerprint: map[string]string{"channels": strconv.Itoa(rs.channels), "hidden": strconv.Itoa(rs.hidden), "dtype": dt.String(), "quick": strconv.FormatBool(o.Quick)},
		},
		ts: ts, probe: flipProbe(tests[main], o.Seed), evalBatch: 100,
		evalView: func(m model) train.Model {
			view := *m.(*netModel)
			view.in, view.out = []int{main}, []int{main, 2}
			return &view
		},
		config: map[string]any{
			"train_length": n, "train_strings": rs.trainN, "test_strings_per_size": rs.testN, "sizes": rs.sizes,
			"epochs": rs.epochs, "channels": rs.channels, "hidden": rs.hidden, "dtype": dt.String(), "explicit_depths": rs.depths,
			"solver": solver.Name(), "backward": backward.Name(), "tol": stop.Tol, "max_iter_training": stop.MaxIter,
		},
		notes: []string{
			"metric: whole-string accuracy (every prefix parity right); pos_acc: per-position accuracy. Chance is 2^-n for whole strings, 0.5 per position.",
			fmt.Sprintf("The implicit model's accuracy at each size is at t = 4n iterations from z₀ = 0 (y_t, plain iteration); its curves are drawn at n = %d (4x the training length).", main),
			"L (sensitivity ratio): the mean of ‖y(x') − y(x)‖/‖x' − x‖ over test strings with one random bit flipped (the discrete analogue of L_t), y the softmax-free readout.",
			"reason_accuracy_vs_t.png and reason_position_accuracy_vs_t.png: whole-string and per-position accuracy of the implicit model against t, one curve per size, the fixed-depth models as horizontal lines (Extra holds every value: seq_acc_nN_tT, pos_acc_nN_tT).",
		},
		after: func(m model, ev *train.Evaluator, mr *train.ModelReport) error {
			nm := m.(*netModel)
			if mr.Extra == nil {
				mr.Extra = map[string]float64{}
			}
			curves[m.Name()] = map[int][]train.CurvePoint{}
			posCurves[m.Name()] = map[int][]train.CurvePoint{}
			for _, sz := range rs.sizes {
				view := *nm
				view.in, view.out = []int{sz}, []int{sz, 2}
				e2, err := train.NewEvaluator(&view, 100)
				if err != nil {
					return err
				}
				if m.Kind() == train.KindImplicit {
					e2.SetIterations(4 * sz)
				}
				sa, err := e2.Evaluate(tests[sz], seqAcc)
				if err != nil {
					e2.Close()
					return err
				}
				pa, err := e2.Evaluate(tests[sz], posAcc)
				if err != nil {
					e2.Close()
					return err
				}
				mr.Extra[fmt.Sprintf("seq_acc_n%d", sz)] = sa.Mean
				mr.Extra[fmt.Sprintf("pos_acc_n%d", sz)] = pa.Mean
				if sz == main {
					mr.TestMetric = sa.Mean
				}
				if m.Kind() == train.KindImplicit {
					cv, err := e2.Curve(tests[sz], seqAcc, reasonTs(sz), flipProbe(tests[sz], o.Seed))
					if err != nil {
						e2.Close()
						return err
					}
					curves[m.Name()][sz] = cv
					pc, err := e2.Curve(tests[sz], posAcc, reasonTs(sz), train.Probe{})
					if err != nil {
						e2.Close()
						return err
					}
					posCurves[m.Name()][sz] = pc
					for _, p := range pc {
						mr.Extra[fmt.Sprintf("pos_acc_n%d_t%d", sz, p.T)] = p.Metric
					}
					for _, p := range cv {
						mr.Extra[fmt.Sprintf("seq_acc_n%d_t%d", sz, p.T)] = p.Metric
					}
				}
				e2.Close()
			}
			if m.Kind() == train.KindImplicit {
				ev.SetIterations(4 * main)
			}
			return nil
		},
		finish: func(dir string, rep *train.Report) error {
			if err := reasonFigure(filepath.Join(dir, "reason_accuracy_vs_t.png"), rep, curves, rs.sizes, "seq_acc", "whole-string accuracy"); err != nil {
				return err
			}
			return reasonFigure(filepath.Join(dir, "reason_position_accuracy_vs_t.png"), rep, posCurves, rs.sizes, "pos_acc", "per-position accuracy")
		},
	}
	return c.run(ctx, o)
}

// reasonModel builds embed → body → readout over strings of length n;
// body maps the injection (B, n·inj) to the state (B, n·ch).
func reasonModel(name, kind, desc string, dt tensor.Dtype, seed uint64, n, ch, injCh int, body func(*layers.Scope, *G.Node) (*G.Node, error)) *netModel {
	m := &netModel{name: name, kind: kind, desc: desc, dt: dt, seed: seed, in: []int{n}, out: []int{n, 2}, shared: &sharedScope{}}
	m.body = func(s *layers.Scope, x *G.Node) (*G.Node, error) {
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
	m.loss = func(out, y, _ *G.Node) (*G.Node, error) {
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
	return m
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
	rng := rand.New(rand.NewPCG(seed, 0x666c6970))
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
func reasonFigure(path string, rep *train.Report, curves map[string]map[int][]train.CurvePoint, sizes []int, key, label string) error {
	var series []train.Series
	for _, sz := range sizes {
		cv := curves["implicit-loop"][sz]
		s := train.Series{Name: fmt.Sprintf("implicit, n = %d", sz), Points: true}
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
			series = append(series, train.Series{Name: fmt.Sprintf("%s, n = %d", m.Name, sz), X: []float64{1, float64(4 * sizes[len(sizes)-1])}, Y: []float64{v, v}, Dashed: true})
		}
	}
	return train.LinePlot(path, "prefix parity: "+label+" against iterations", "test-time iterations t", label, true, false, series)
}
