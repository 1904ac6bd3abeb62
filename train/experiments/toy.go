package experiments

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strconv"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/network"
	"github.com/implicit-ml/implicit/train"
	"github.com/implicit-ml/implicit/train/report"
)

// Toy is the paper's 1-D experiment: a target with poles at 0 and 1 that
// no Lipschitz-bounded explicit network can follow, against regular
// implicit operators — globally Lipschitz in x, contractive in y — whose
// iterates y_t become steeper (L_t grows) as t grows and follow the poles.
type Toy struct{}

// Name implements Experiment.
func (Toy) Name() string { return "toy" }

// Summary implements Experiment.
func (Toy) Summary() string {
	return "1-D target with poles: Lipschitz-bounded MLPs vs regular implicit operators; error and L_t against t"
}

// toyTs are the test-time iteration counts the issue asks for.
var toyTs = []int{1, 2, 5, 10, 25, 100, 1000}

// Toy's fixed settings: the explicit baselines' Lipschitz bounds and the
// bound of the implicit operators' x-networks.
var (
	toyExplicitBounds = []float64{5, 10, 20}
	toyImplicitBound  = 20.0
)

// nearPole is the distance to a pole within which errors count as "near
// the poles" in the report.
const nearPole = 0.1

// Problems implements Experiment: the toy has no variants.
func (Toy) Problems() []string { return nil }

// Defaults implements Experiment. The toy works in float64: its
// Lipschitz ratios are taken over grid steps of 5e-4.
func (Toy) Defaults(_ string, quick bool) Defaults {
	d := Defaults{Epochs: 300, Batch: 200, Hidden: 64, HiddenMeans: "width", LR: 1e-2, Schedule: "cosine",
		Solver: "anderson", Backward: "ift", Adjoint: "anderson", Tol: 1e-6, MaxIter: 100, Dtype: tensor.Float64, Radius: 0.02}
	if quick {
		d.Epochs = 40
	}
	return d
}

// Run implements Experiment.
func (Toy) Run(ctx context.Context, s Settings) (*report.Report, error) {
	nTrain, grid := 4000, 5e-4
	if s.Quick {
		nTrain, grid = 1000, 2e-3
	}
	trainSet := datasets.ToyPoints(nTrain, s.Radius, s.Seed)
	testSet := datasets.ToyGrid(grid, s.Radius)
	c := &comparison{
		experiment: "toy", dataset: fmt.Sprintf("1-D poles, radius %g", s.Radius), metric: train.RMSError(),
		trainSet: trainSet, testSet: testSet, models: toyModels(s),
		fit: train.Config{
			Epochs: s.Epochs, BatchSize: s.Batch, Seed: s.Seed, Schedule: s.Schedule, LogEvery: 100, Optimizer: s.Optimizer(s.LR),
			Fingerprint: map[string]string{"radius": fmt.Sprint(s.Radius), "width": strconv.Itoa(s.Hidden), "dtype": s.Dtype.String(), "quick": strconv.FormatBool(s.Quick)},
		},
		ts: toyTs, probe: toyProbe(testSet, grid, s.Radius), evalBatch: 1000,
		config: map[string]any{
			"radius": s.Radius, "train_points": trainSet.Len(), "test_grid_step": grid, "test_points": testSet.Len(),
			"epochs": s.Epochs, "width": s.Hidden, "dtype": s.Dtype.String(), "explicit_bounds": toyExplicitBounds, "implicit_x_bound": toyImplicitBound,
			"solver": s.Solver.Name(), "backward": s.Backward.Name(), "tol": s.Stop.Tol, "max_iter": s.Stop.MaxIter,
		},
		notes: []string{
			"metric: RMS error over the test grid; L: the largest slope between neighbouring grid points (the empirical Lipschitz constant on the grid).",
			fmt.Sprintf("extra: rms_near_poles is the RMS error within %g of a pole; rms_away and sup_away the RMS and largest errors farther away (suffix _tN: the gated model's iterate y_N).", nearPole),
			"The implicit models' curves evaluate y_t, t plain iterations of G from y₀ = 0; the explicit models are horizontal lines.",
			"toy_fit.png: F, the explicit fits and the gated implicit model's y_t for t = 1, 5, 25, 1000 on the test grid.",
		},
	}
	fits := toyFits{testSet: testSet, fits: map[string][]float64{}, iters: map[int][]float64{}}
	c.after, c.finish = fits.after, fits.figure
	return c.run(ctx, s.Options)
}

// toyModels are the bounded explicit MLPs and the two regular implicit
// operators.
func toyModels(s Settings) []model {
	width := s.Hidden
	mk := toyMaker(s)
	var models []model
	for _, L := range toyExplicitBounds {
		c := math.Pow(L, 1.0/4) // four linear maps, tanh 1-Lipschitz
		models = append(models, mk(fmt.Sprintf("explicit-mlp-L%g", L), train.KindExplicit,
			fmt.Sprintf("1→%d→%d→%d→1 tanh MLP, each ‖W‖₂ ≤ %.3g: Lipschitz ≤ %g", width, width, width, c, L),
			func(sc *layers.Scope, x *G.Node) (*G.Node, error) {
				return layers.Sequential{
					sc.Dense("fc1", 1, width, layers.Tanh, layers.SpectralBound(c)),
					sc.Dense("fc2", width, width, layers.Tanh, layers.SpectralBound(c)),
					sc.Dense("fc3", width, width, layers.Tanh, layers.SpectralBound(c)),
					sc.Dense("out", width, 1, layers.Identity, layers.SpectralBound(c)),
				}.Fwd(x)
			}))
	}
	icfg := layers.ImplicitConfig{Forward: s.Solver, Stop: s.Stop, Backward: s.Backward}
	h := width / 2
	return append(models, toyGatedModelWith(mk, toyXNet(h), h, icfg), toyMLPModel(mk, h, icfg))
}

// toyMaker returns the constructor of the toy's models: 1 → 1 maps
// trained on the masked squared error.
func toyMaker(s Settings) func(name, kind, desc string, body func(*layers.Scope, *G.Node) (*G.Node, error)) *network.Network {
	return func(name, kind, desc string, body func(*layers.Scope, *G.Node) (*G.Node, error)) *network.Network {
		return network.New(network.Spec{Name: name, Kind: kind, Description: desc, Dtype: s.Dtype, Seed: s.Seed, Input: []int{1}, Target: []int{1},
			Body: body, Loss: network.MaskedMSE})
	}
}

// toyXNet returns the builder of the implicit operators' x-networks:
// 1 → h → h → out, each linear map bounded so the whole is
// toyImplicitBound-Lipschitz in x.
func toyXNet(h int) func(*layers.Scope, string, int, layers.Activation) layers.Sequential {
	cx := math.Pow(toyImplicitBound, 1.0/3) // three linear maps per x-network
	return func(s *layers.Scope, name string, out int, last layers.Activation) layers.Sequential {
		return layers.Sequential{
			s.Dense(name+"1", 1, h, layers.Tanh, layers.SpectralBound(cx)),
			s.Dense(name+"2", h, h, layers.Tanh, layers.SpectralBound(cx)),
			s.Dense(name+"3", h, out, last, layers.SpectralBound(cx)),
		}
	}
}

// toyMLPModel is G(y, x) = tanh(y·p + e(x))·q + c(x) with ‖p‖‖q‖ ≤ 0.95.
func toyMLPModel(mk func(string, string, string, func(*layers.Scope, *G.Node) (*G.Node, error)) *network.Network, h int, icfg layers.ImplicitConfig) *network.Network {
	xnet := toyXNet(h)
	return mk("implicit-mlp", train.KindImplicit,
		fmt.Sprintf("G(y, x) = tanh(y·p + e(x))·q + c(x), ‖p‖‖q‖ ≤ 0.95 (contractive in y), e, c: 1→%d→%d→%d/1, Lipschitz ≤ %g in x", h, h, h, toyImplicitBound),
		func(s *layers.Scope, x *G.Node) (*G.Node, error) {
			e, err := xnet(s, "e", h, layers.Identity).Fwd(x)
			if err != nil {
				return nil, err
			}
			c, err := xnet(s, "c", 1, layers.Identity).Fwd(x)
			if err != nil {
				return nil, err
			}
			inj, err := G.Concat(1, e, c)
			if err != nil {
				return nil, err
			}
			// p and q are Dense weights only for their spectral bounds;
			// the cell applies them.
			p := s.Dense("p", 1, h, layers.Identity, layers.NoBias(), layers.SpectralBound(math.Sqrt(0.95)))
			q := s.Dense("q", h, 1, layers.Identity, layers.NoBias(), layers.SpectralBound(math.Sqrt(0.95)))
			cell := layers.NewCell(mlpCell(h), p.W, q.W)
			cell.State = func(inj tensor.Shape) tensor.Shape { return tensor.Shape{inj[0], 1} }
			return s.Implicit("deq", cell, icfg).Fwd(inj)
		})
}

// toyProbe moves every test grid point to its right neighbour, so L is
// the largest finite-difference slope on the grid.
func toyProbe(testSet *datasets.ToySet, grid, radius float64) train.Probe {
	probe := train.Probe{N: testSet.Len(), X: append([]float64(nil), testSet.X...)}
	d := make([]float64, testSet.Len())
	for i, x := range testSet.X {
		if datasets.ToyOutside(x+grid, radius) {
			d[i] = grid
		}
	}
	probe.Deltas = [][]float64{d}
	return probe
}

// toyFits collects the models' predictions on the test grid for the
// report's extra figures and the fit figure.
type toyFits struct {
	testSet *datasets.ToySet
	fits    map[string][]float64 // model → predictions at convergence
	iters   map[int][]float64    // t → the gated model's y_t
}

// after records a model's fit and its errors near and away from the
// poles (and, for the gated model, its iterates').
func (f toyFits) after(_ context.Context, m model, ev *train.Evaluator, mr *report.ModelReport) error {
	y, err := ev.Predict(f.testSet.X, f.testSet.Len())
	if err != nil {
		return err
	}
	f.fits[m.Name()] = y
	if mr.Extra == nil {
		mr.Extra = map[string]float64{}
	}
	for k, v := range toyErrors(f.testSet, y) {
		mr.Extra[k] = v
	}
	if m.Name() != "implicit-gated" {
		return nil
	}
	for _, t := range []int{1, 5, 25, 100, 1000} {
		ev.SetIterations(t)
		yt, err := ev.Predict(f.testSet.X, f.testSet.Len())
		if err != nil {
			return err
		}
		f.iters[t] = yt
		for k, v := range toyErrors(f.testSet, yt) {
			mr.Extra[fmt.Sprintf("%s_t%d", k, t)] = v
		}
	}
	ev.SetIterations(0)
	return nil
}

// figure writes toy_fit.png.
func (f toyFits) figure(dir string, _ *report.Report) error {
	return toyFigure(filepath.Join(dir, "toy_fit.png"), f.testSet, f.fits, f.iters)
}

// toyGatedModelWith builds the gated implicit model from the experiment's
// constructors.
func toyGatedModelWith(mk func(string, string, string, func(*layers.Scope, *G.Node) (*G.Node, error)) *network.Network,
	xnet func(*layers.Scope, string, int, layers.Activation) layers.Sequential, h int, icfg layers.ImplicitConfig) *network.Network {
	return mk("implicit-gated", train.KindImplicit,
		fmt.Sprintf("G(y, x) = (1 − a(x))·y + b(x), a = sigmoid(MLP₁(x)), b = MLP₂(x), 1→%d→%d→1 each, Lipschitz ≤ %g in x; fixed point b/a", h, h, toyImplicitBound),
		func(s *layers.Scope, x *G.Node) (*G.Node, error) {
			a, err := xnet(s, "a", 1, layers.Sigmoid).Fwd(x)
			if err != nil {
				return nil, err
			}
			b, err := xnet(s, "b", 1, layers.Identity).Fwd(x)
			if err != nil {
				return nil, err
			}
			inj, err := G.Concat(1, a, b)
			if err != nil {
				return nil, err
			}
			cell := layers.NewCell(gatedCell)
			cell.State = func(inj tensor.Shape) tensor.Shape { return tensor.Shape{inj[0], 1} }
			return s.Implicit("deq", cell, icfg).Fwd(inj)
		})
}

// toyGatedModel is the gated implicit model alone, with hidden width h,
// for tests.
func toyGatedModel(o Options, h int) *network.Network {
	s := Settings{Options: o, Dtype: orDtype(o.Dtype, tensor.Float64)}
	stop := deq.Stop{Tol: 1e-6, MaxIter: 100}
	return toyGatedModelWith(toyMaker(s), toyXNet(h), h, layers.ImplicitConfig{Stop: stop, Backward: deq.IFT{Stop: stop}})
}

// gatedCell is G(y, inj) = (1 − a)·y + b with inj = [a, b] (B, 2).
func gatedCell(y, inj *G.Node, _ G.Nodes) (*G.Node, error) {
	dt := inj.Dtype()
	a, err := G.Mul(inj, column(dt, 2, 0))
	if err != nil {
		return nil, err
	}
	b, err := G.Mul(inj, column(dt, 2, 1))
	if err != nil {
		return nil, err
	}
	ay, err := G.HadamardProd(a, y)
	if err != nil {
		return nil, err
	}
	out, err := G.Sub(y, ay)
	if err != nil {
		return nil, err
	}
	return G.Add(out, b)
}

// mlpCell is G(y, inj) = tanh(y·p + e)·q + c with inj = [e (h), c (1)].
func mlpCell(h int) layers.Builder {
	return func(y, inj *G.Node, params G.Nodes) (*G.Node, error) {
		dt := inj.Dtype()
		e, err := G.Mul(inj, selector(dt, h+1, 0, h))
		if err != nil {
			return nil, err
		}
		c, err := G.Mul(inj, column(dt, h+1, h))
		if err != nil {
			return nil, err
		}
		yp, err := G.Mul(y, params[0])
		if err != nil {
			return nil, err
		}
		pre, err := G.Add(yp, e)
		if err != nil {
			return nil, err
		}
		t, err := G.Tanh(pre)
		if err != nil {
			return nil, err
		}
		tq, err := G.Mul(t, params[1])
		if err != nil {
			return nil, err
		}
		return G.Add(tq, c)
	}
}

// column is the n×1 constant picking column k of a (B, n) matrix.
func column(dt tensor.Dtype, n, k int) *G.Node { return selector(dt, n, k, 1) }

// selector is the n×w constant picking columns k … k+w−1.
func selector(dt tensor.Dtype, n, k, w int) *G.Node {
	vals := make([]float64, n*w)
	for j := 0; j < w; j++ {
		vals[(k+j)*w+j] = 1
	}
	var t tensor.Tensor
	if dt == tensor.Float32 {
		v32 := make([]float32, len(vals))
		for i, v := range vals {
			v32[i] = float32(v)
		}
		t = tensor.New(tensor.WithShape(n, w), tensor.WithBacking(v32))
	} else {
		t = tensor.New(tensor.WithShape(n, w), tensor.WithBacking(vals))
	}
	return G.NewConstant(t, G.WithName(fmt.Sprintf("select%d_%d_%d", n, k, w)))
}

// toyErrors returns the RMS error within nearPole of a pole, and the RMS
// and sup errors farther away.
func toyErrors(s *datasets.ToySet, y []float64) map[string]float64 {
	var near, nn, away, na, sup float64
	for i, x := range s.X {
		e := y[i] - s.Y[i]
		if datasets.ToyPoleDistance(x) < nearPole {
			near += e * e
			nn++
		} else {
			away += e * e
			na++
			sup = math.Max(sup, math.Abs(e))
		}
	}
	return map[string]float64{
		"rms_near_poles": math.Sqrt(near / math.Max(nn, 1)),
		"rms_away":       math.Sqrt(away / math.Max(na, 1)),
		"sup_away":       sup,
	}
}

// toyFigure draws F, the models' fits and the iterates on one figure, one
// line per branch of the domain so the poles stay gaps.
func toyFigure(path string, s *datasets.ToySet, fits map[string][]float64, iters map[int][]float64) error {
	var series []report.Series
	curves := 0
	add := func(name string, y []float64, dashed bool) {
		// Split at the holes (a jump in x), the pieces in one style.
		curves++
		style := curves
		var xs, ys []float64
		flush := func(label string) {
			if len(xs) > 0 {
				series = append(series, report.Series{Name: label, X: xs, Y: ys, Dashed: dashed, Style: style})
			}
			xs, ys = nil, nil
		}
		label := name
		for i, x := range s.X {
			if i > 0 && x-s.X[i-1] > 0.01 {
				flush(label)
				label = ""
			}
			xs, ys = append(xs, x), append(ys, y[i])
		}
		flush(label)
	}
	add("target F", s.Y, false)
	for _, L := range toyExplicitBounds {
		if y, ok := fits[fmt.Sprintf("explicit-mlp-L%g", L)]; ok {
			add(fmt.Sprintf("explicit, L ≤ %g", L), y, true)
		}
	}
	// Four iterates: with F and the three baselines that is the palette's
	// eight colours, so no two curves share one.
	for _, t := range []int{1, 5, 25, 1000} {
		if y, ok := iters[t]; ok {
			add(fmt.Sprintf("implicit y_%d", t), y, false)
		}
	}
	return report.LinePlot(path, "toy: target, explicit fits and implicit iterates", "x", "y", false, false, series)
}
