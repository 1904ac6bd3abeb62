package experiments

import (
	"context"
	"encoding/csv"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/blur"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/layers/conv"
	"github.com/implicit-ml/implicit/layers/imaging"
	"github.com/implicit-ml/implicit/network"
	"github.com/implicit-ml/implicit/train"
	"github.com/implicit-ml/implicit/train/report"
)

// Deblur is the image-reconstruction workload (the paper's case study 1)
// at 28×28 on MNIST or Fashion-MNIST: images blurred by a known kernel
// with a circular boundary (-problem gaussian, the default, 7×7 with
// σ = 1.5; or motion) plus Gaussian noise σ = 0.03 are restored by an
// implicit plug-and-play model, the fixed point of
//
//	G(y, x) = D_θ(y − γ·(Aᵀ(A y − x) + λy))
//
// with a learned residual CNN denoiser D_θ and a learned step γ, against
// explicit networks: the same CNN applied once to Aᵀx (the same
// parameters but γ) and untied stacks of 2, 4 and 8 copies. It reports
// PSNR(t) from y₀ = 0 and from y₀ = Aᵀx for t = 1 … 100, and L_t with the
// paper's probe: δimg = 0.01·v_f for the Fourier singular vectors v_f of
// A at frequency ranks 0.1 … 0.9, δx = A·δimg, L_t the largest
// ‖y_t(x + δx) − y_t(x)‖/‖δx‖ over probe images and frequencies, in
// float64.
//
// Options: Dataset mnist (default) or fashion; Hidden the denoiser's
// channels (16); Backward the implicit model's training gradient (jfb by
// default, or ift, phantom); Solver (anderson), Tol, MaxIter (the
// training solves), Epochs, Batch, LR, Seed as usual.
type Deblur struct{}

// Name implements Experiment.
func (Deblur) Name() string { return "deblur" }

// Summary implements Experiment.
func (Deblur) Summary() string {
	return "image deblurring: implicit plug-and-play PGD vs explicit CNNs (1, 2, 4, 8 copies); PSNR and L_t against t"
}

// deblurSettings are the sizes of a run; quick() the CI reductions.
type deblurSettings struct {
	data                  datasets.DeblurConfig
	epochs, batch         int
	channels, depth       int
	lr, lambda            float64
	stacks                []int
	tol                   float64
	maxIter, evalMaxIter  int
	maxT                  int       // curves at t = 1 … maxT
	probeN                int       // probe images
	ranks                 []float64 // frequency ranks of the probe
	show                  int       // images in the reconstruction grid
	evalBatch, curveBatch int
	gridTs                []int
	probeNorm             float64
}

func defaultDeblurSettings() deblurSettings {
	return deblurSettings{
		data:   datasets.DeblurConfig{Train: 10000, Val: 1000, Test: 1000},
		epochs: 2, batch: 32, channels: 16, depth: 5, lr: 2e-3, lambda: 0.02,
		stacks: []int{1, 2, 4, 8}, tol: 1e-3, maxIter: 30, evalMaxIter: 100,
		maxT: 100, probeN: 20, ranks: []float64{0.1, 0.3, 0.5, 0.7, 0.9}, show: 6,
		evalBatch: 100, curveBatch: 100, gridTs: []int{1, 5, 20, 100}, probeNorm: 0.01,
	}
}

func (d deblurSettings) quick() deblurSettings {
	d.data = datasets.DeblurConfig{Train: 600, Val: 100, Test: 100}
	d.epochs, d.channels, d.depth = 1, 8, 4
	d.stacks = []int{1, 2}
	d.maxT, d.probeN, d.gridTs = 30, 4, []int{1, 5, 20, 30}
	return d
}

// deblurHandle records the PGD cell a build created, for the curves.
type deblurHandle struct{ cell *imaging.PGDCell }

// Problems implements Experiment: the blur kernels.
func (Deblur) Problems() []string { return []string{"gaussian", "motion"} }

// Defaults implements Experiment. -hidden sets the denoiser's channels;
// the implicit model trains with the Jacobian-free gradient.
func (Deblur) Defaults(_ string, quick bool) Defaults {
	st := defaultDeblurSettings()
	if quick {
		st = st.quick()
	}
	return Defaults{Datasets: []string{"mnist", "fashion"}, Epochs: st.epochs, Batch: st.batch, Hidden: st.channels, HiddenMeans: "denoiser channels",
		LR: st.lr, Schedule: "cosine", Clip: 1, Solver: "anderson", Backward: "jfb", Adjoint: "anderson", Tol: st.tol, MaxIter: st.maxIter, Dtype: tensor.Float32}
}

// Run implements Experiment.
func (Deblur) Run(ctx context.Context, s Settings) (*report.Report, error) {
	st := defaultDeblurSettings()
	if s.Quick {
		st = st.quick()
	}
	st.data.Kernel = s.Problem
	st.epochs, st.channels, st.tol, st.maxIter, st.lr, st.batch = s.Epochs, s.Hidden, s.Stop.Tol, s.Stop.MaxIter, s.LR, s.Batch
	trainSet, valSet, testSet, err := datasets.LoadDeblur(s.Dataset, s.DataDir, "", st.data, s.Seed)
	if err != nil {
		return nil, err
	}
	a, err := imaging.NewBlur(s.Problem, trainSet.H, trainSet.W)
	if err != nil {
		return nil, err
	}
	evalStop := deq.Stop{Tol: 1e-4, MaxIter: st.evalMaxIter}
	trainCfg := layers.ImplicitConfig{Forward: s.Solver, Stop: s.Stop, Backward: s.Backward}
	evalCfg := layers.ImplicitConfig{Forward: s.Solver, Stop: evalStop, Backward: s.Backward}
	net := deblurNets{a: a, st: st, seed: s.Seed, copies: map[string]int{}}
	var models []model
	for _, k := range st.stacks {
		models = append(models, net.explicit(k, s.Dtype))
	}
	implicit, handle := net.implicit(s.Dtype, trainCfg, nil)
	models = append(models, implicit)
	ev := &deblurEval{net: net, st: st, dt: s.Dtype, evalCfg: evalCfg, handle: handle, implicit: implicit.Name(),
		test: testSet, probe: deblurProbe(testSet, a, st), show: map[string][][]float32{}}
	c := &comparison{
		experiment: "deblur", dataset: fmt.Sprintf("%s 28×28, %s blur, noise σ = %g (%d train, %d validation, %d test)", s.Dataset, s.Problem, 0.03, trainSet.N, valSet.N, testSet.N),
		metric: deblurPSNR(), trainSet: trainSet, valSet: valSet, testSet: testSet, models: models,
		fit: train.Config{
			Epochs: st.epochs, BatchSize: st.batch, Seed: s.Seed, Schedule: s.Schedule, LogEvery: 50, Optimizer: s.Optimizer(st.lr),
			Fingerprint: map[string]string{
				"source": s.Dataset, "kernel": s.Problem, "train": strconv.Itoa(trainSet.N), "channels": strconv.Itoa(st.channels),
				"depth": strconv.Itoa(st.depth), "dtype": s.Dtype.String(), "backward": s.Backward.Name(), "quick": strconv.FormatBool(s.Quick),
			},
		},
		evalBatch: st.evalBatch, evalView: ev.view, after: ev.after, finish: ev.finish,
		config: map[string]any{
			"source": s.Dataset, "kernel": s.Problem, "noise": 0.03, "train_images": trainSet.N, "val_images": valSet.N, "test_images": testSet.N,
			"epochs": st.epochs, "batch": st.batch, "lr": st.lr, "schedule": s.Schedule.String(), "clip": s.Clip, "dtype": s.Dtype.String(),
			"denoiser": fmt.Sprintf("residual CNN, %d 3×3 convolutions, 1→%d→…→%d→1, ReLU", st.depth, st.channels, st.channels),
			"lambda":   st.lambda, "solver": s.Solver.Name(), "backward": s.Backward.Name(),
			"train_stop":      fmt.Sprintf("tol %g, max %d iterations", s.Stop.Tol, s.Stop.MaxIter),
			"eval_stop":       fmt.Sprintf("tol %g, max %d iterations", evalStop.Tol, evalStop.MaxIter),
			"curves":          fmt.Sprintf("t = 1 … %d on all %d test images, from y₀ = 0 and from y₀ = Aᵀx", st.maxT, testSet.N),
			"lipschitz_probe": fmt.Sprintf("%d test images × Fourier singular vectors of A at ranks %v, δimg norm %g, δx = A·δimg, float64", ev.probe.n, st.ranks, st.probeNorm),
		},
		notes: deblurNotes(st),
	}
	return c.run(ctx, s.Options)
}

// deblurNotes are the report's notes.
func deblurNotes(st deblurSettings) []string {
	return []string{
		"metric: PSNR = 10·log10(1/MSE) per test image (pixels in [0, 1]), mean ± std over the test set; the implicit model's test PSNR is at its fixed point (Anderson, tol 1e-4, at most " + strconv.Itoa(st.evalMaxIter) + " iterations).",
		"L: the largest ‖y(x+δx) − y(x)‖/‖δx‖ over the probe images and frequencies (the paper's probe), computed on a float64 copy of each trained model; for the implicit model at its fixed point, and L_t at each iterate.",
		fmt.Sprintf("explicit-cnn-x1 has the implicit model's denoiser architecture and parameter count less one (the step γ); explicit-cnn-xk stacks k untied copies on Aᵀx, unconstrained. In the implicit model every convolution of N is kept at operator norm ≤ 1 (power iteration after each step) and γ in [0, 2/(1+λ)], so Lip(N) ≤ 1; its step adds λy with λ = %g, which contracts the modes A nearly annihilates. Trained without the bounds, the operator had a spectral radius of 1.2 at its fixed point and its iterates drifted away from good reconstructions past the training iteration count; with Lip(D) ≤ 1 (N bounded by ½ and a skip weight of ½) it converged but could not deblur (PSNR below 15 dB): inverting a blur needs a gain near 1 in the modes A damps.", st.lambda),
	}
}

// deblurEval evaluates the trained models: L on their float64 copies,
// the implicit model's curves, and the reconstruction grid.
type deblurEval struct {
	net      deblurNets
	st       deblurSettings
	dt       tensor.Dtype
	evalCfg  layers.ImplicitConfig
	handle   *deblurHandle
	implicit string
	test     *datasets.DeblurSet
	probe    deblurProbeSet
	show     map[string][][]float32 // model → reconstructions for the grid
	curves   *deblurCurves
}

// view is the model the test set is evaluated on: the implicit one with
// the evaluation's stopping rule.
func (e *deblurEval) view(m model) train.Model {
	if m.Kind() != train.KindImplicit {
		return m
	}
	v, _ := e.net.implicit(e.dt, e.evalCfg, m.(*network.Network))
	return v
}

func (e *deblurEval) after(ctx context.Context, m model, ev *train.Evaluator, mr *report.ModelReport) error {
	nm := m.(*network.Network)
	lip, err := e.net.lipschitz(ctx, nm, e.probe, e.evalCfg)
	if err != nil {
		return err
	}
	mr.Lipschitz = lip
	if nm.Kind() != train.KindImplicit {
		y, err := ev.Predict32(e.test.X[:e.st.show*784], e.st.show)
		if err != nil {
			return err
		}
		e.show[nm.Name()] = [][]float32{y}
		return nil
	}
	if e.curves, err = e.net.curves(ctx, nm, e.handle, e.test, e.probe, e.evalCfg); err != nil {
		return err
	}
	e.curves.report(mr, e.st)
	e.show[nm.Name()] = e.curves.grid
	return nil
}

func (e *deblurEval) finish(dir string, rep *report.Report) error {
	if e.curves == nil {
		return nil
	}
	rep.Notes = append(rep.Notes, e.curves.summary(e.st)...)
	if err := e.curves.write(dir, e.st); err != nil {
		return err
	}
	return report.WriteFile(filepath.Join(dir, "deblur_reconstructions.png"), func(w io.Writer) error {
		return deblurGrid(w, e.test, e.show, deblurModelName(1), e.implicit, e.st)
	})
}

func deblurModelName(copies int) string { return fmt.Sprintf("explicit-cnn-x%d", copies) }

// deblurNets builds the experiment's models.
type deblurNets struct {
	a    *imaging.Blur
	st   deblurSettings
	seed uint64
	// copies is the number of denoisers of each explicit model, by name.
	copies map[string]int
}

func (n deblurNets) base(name, kind, desc string, dt tensor.Dtype, body func(s *layers.Scope, x *G.Node) (*G.Node, error)) network.Spec {
	return network.Spec{Name: name, Kind: kind, Description: desc, Dtype: dt, Seed: n.seed, Input: []int{784}, Target: []int{784},
		Loss: network.MaskedMSE, Body: body}
}

// explicit is copies untied denoisers applied to Aᵀx.
func (n deblurNets) explicit(copies int, dt tensor.Dtype) *network.Network {
	st := n.st
	n.copies[deblurModelName(copies)] = copies
	return network.New(n.base(deblurModelName(copies), train.KindExplicit,
		fmt.Sprintf("%d untied residual CNN(s) (%d convolutions, %d channels) applied to Aᵀx", copies, st.depth, st.channels), dt,
		func(s *layers.Scope, x *G.Node) (*G.Node, error) {
			h, err := n.a.ApplyT(x)
			if err != nil {
				return nil, err
			}
			for k := range copies {
				if h, err = conv.NewResCNN(s, fmt.Sprintf("D%d", k+1), n.a.H, n.a.W, st.channels, st.depth, layers.ReLU).Fwd(h); err != nil {
					return nil, err
				}
			}
			return h, nil
		}))
}

// implicit is the PGD fixed point on Aᵀx, sharing the parameters of
// share when it is not nil; the handle records the cell of the last build.
func (n deblurNets) implicit(dt tensor.Dtype, icfg layers.ImplicitConfig, share *network.Network) (*network.Network, *deblurHandle) {
	st, h := n.st, &deblurHandle{}
	icfg = layers.NewImplicit("", nil, icfg).Config() // the defaults, named in the description
	spec := n.base("implicit-pgd", train.KindImplicit,
		fmt.Sprintf("fixed point of y = D(y − γ(Aᵀ(Ay − x) + %gy)), D(u) = u + N(u) a residual CNN (%d convolutions, %d channels) with every convolution's operator norm ≤ 1, γ learned in [0, 2/(1+λ)]; %s forward, %s backward",
			st.lambda, st.depth, st.channels, icfg.Forward.Name(), icfg.Backward.Name()), dt,
		func(s *layers.Scope, x *G.Node) (*G.Node, error) {
			atx, err := n.a.ApplyT(x)
			if err != nil {
				return nil, err
			}
			d := conv.NewResCNN(s, "pgd.D", n.a.H, n.a.W, st.channels, st.depth, layers.ReLU, conv.ResLipschitz(1))
			cell := imaging.NewPGDCell(s, "pgd", n.a, d)
			cell.Lambda = st.lambda
			h.cell = cell
			return s.Implicit("deq", cell, icfg).Fwd(atx)
		})
	if share != nil {
		return share.Sharing(spec), h
	}
	return network.New(spec), h
}

// twin64 returns a float64 copy of a trained model (its own parameters,
// holding the trained values) and the PGD cell of its build, if any: the
// Lipschitz probes perturb measurements by as little as 1e-6 in norm,
// below float32's resolution of the images.
func (n deblurNets) twin64(m *network.Network, icfg layers.ImplicitConfig, batch int) (*train.Evaluator, *deblurHandle, error) {
	var twin *network.Network
	h := &deblurHandle{}
	if m.Kind() == train.KindImplicit {
		twin, h = n.implicit(tensor.Float64, icfg, nil)
	} else {
		twin = n.explicit(n.copies[m.Name()], tensor.Float64)
	}
	ev, err := train.NewEvaluator(twin, batch)
	if err != nil {
		return nil, nil, err
	}
	src, dst := m.Scope().Params(), twin.Scope().Params()
	if len(src) != len(dst) {
		ev.Close()
		return nil, nil, fmt.Errorf("experiments: %s: float64 copy has %d parameters, the model %d", m.Name(), len(dst), len(src))
	}
	for i := range src {
		from, err := layers.Floats64(src[i].Value())
		if err != nil {
			ev.Close()
			return nil, nil, err
		}
		copy(dst[i].Value().Data().([]float64), from)
	}
	return ev, h, nil
}

// deblurProbeSet is the paper's Lipschitz probe: probe images and, per
// frequency rank, the measurement perturbation δx = A·(ε v_f).
type deblurProbeSet struct {
	n      int
	x      []float64   // n measurements
	deltas [][]float64 // per rank, n rows (the same δx in every row)
	modes  []blur.Mode
}

func deblurProbe(test *datasets.DeblurSet, a *imaging.Blur, st deblurSettings) deblurProbeSet {
	n := min(st.probeN, test.N)
	p := deblurProbeSet{n: n, x: make([]float64, n*784), modes: blur.AtRanks(a.Kernel, a.H, a.W, st.ranks)}
	for i, v := range test.X[:n*784] {
		p.x[i] = float64(v)
	}
	for _, m := range p.modes {
		v := blur.Vector(m, a.H, a.W)
		for i := range v {
			v[i] *= st.probeNorm
		}
		dx := make([]float64, len(v))
		blur.Apply(dx, v, 1, a.H, a.W, a.Kernel, false)
		rows := make([]float64, 0, n*len(dx))
		for range n {
			rows = append(rows, dx...)
		}
		p.deltas = append(p.deltas, rows)
	}
	return p
}

// lipschitz is L of the trained model as evaluated, on its float64 copy;
// the implicit model's fixed point is solved to a relative residual of
// 1e-11, far below the output changes the probe makes.
func (n deblurNets) lipschitz(ctx context.Context, m *network.Network, p deblurProbeSet, icfg layers.ImplicitConfig) (float64, error) {
	icfg.Stop = deq.Stop{Tol: 1e-11, MaxIter: 500}
	ev, _, err := n.twin64(m, icfg, p.n)
	if err != nil {
		return 0, err
	}
	defer ev.Close()
	ev.SetContext(ctx)
	l, err := ev.Lipschitz(train.Probe{N: p.n, X: p.x, Deltas: p.deltas})
	if err != nil {
		return 0, err
	}
	return l.Max, nil
}

// deblurCurves holds the implicit model's curves, t = 1 … maxT.
type deblurCurves struct {
	// psnr[s][t−1] and std[s][t−1]: mean and deviation of the test PSNR
	// after t iterations from y₀ = 0 (s = 0) or y₀ = Aᵀx (s = 1).
	psnr, std [2][]float64
	// lip[s][t−1] is L_t from the same starts; lipByRank[t−1][r] per rank.
	lip       [2][]float64
	lipByRank [][]float64
	// grid holds, per entry of gridTs, the first images' iterates.
	grid  [][]float32
	modes []blur.Mode
}

// curves iterates the trained PGD cell on every test image (float32, the
// trained values) and on the probe (its float64 copy), recording each t.
func (n deblurNets) curves(ctx context.Context, m *network.Network, h *deblurHandle, test *datasets.DeblurSet, p deblurProbeSet, icfg layers.ImplicitConfig) (*deblurCurves, error) {
	st := n.st
	T := st.maxT
	c := &deblurCurves{modes: p.modes, grid: make([][]float32, len(st.gridTs))}
	for s := range 2 {
		c.psnr[s], c.std[s], c.lip[s] = make([]float64, T), make([]float64, T), make([]float64, T)
	}
	c.lipByRank = make([][]float64, T)
	for t := range c.lipByRank {
		c.lipByRank[t] = make([]float64, len(p.modes))
	}
	if h.cell == nil {
		return nil, fmt.Errorf("experiments: %s has no PGD cell to iterate", m.Name())
	}
	// PSNR(t): sums of per-image PSNR and its square, batch by batch.
	var sum, sum2 [2][]float64
	for s := range 2 {
		sum[s], sum2[s] = make([]float64, T), make([]float64, T)
	}
	for lo := 0; lo < test.N; lo += st.curveBatch {
		hi := min(lo+st.curveBatch, test.N)
		x := test.X[lo*784 : hi*784]
		atx := make([]float32, len(x))
		blur.Apply(atx, x, hi-lo, 28, 28, n.a.Kernel, true)
		inj := tensor.New(tensor.WithShape(hi-lo, 784), tensor.WithBacking(atx))
		for s, z0 := range [][]float32{nil, atx} {
			err := layers.IterateCell(h.cell, []G.Value{inj}, slices.Clone(z0), T, func(t int, z []float32) error {
				if err := ctx.Err(); err != nil {
					return err
				}
				for i := range hi - lo {
					v := psnr(z[i*784:(i+1)*784], test.Y[(lo+i)*784:(lo+i+1)*784])
					sum[s][t-1] += v
					sum2[s][t-1] += v * v
				}
				if s == 0 && lo == 0 {
					if k := slices.Index(st.gridTs, t); k >= 0 {
						c.grid[k] = slices.Clone(z[:min(st.show, hi)*784])
					}
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
	}
	for s := range 2 {
		for t := range T {
			mean := sum[s][t] / float64(test.N)
			c.psnr[s][t] = mean
			c.std[s][t] = math.Sqrt(math.Max(sum2[s][t]/float64(test.N)-mean*mean, 0))
		}
	}
	if err := n.lipschitzCurves(ctx, c, m, p, icfg); err != nil {
		return nil, err
	}
	return c, nil
}

// lipschitzCurves records L_t from y₀ = 0 and y₀ = Aᵀx (and per rank
// from y₀ = 0) on m's float64 copy: one trajectory of the stacked rows
// [x; x+δ₁; …; x+δ_R].
func (n deblurNets) lipschitzCurves(ctx context.Context, c *deblurCurves, m *network.Network, p deblurProbeSet, icfg layers.ImplicitConfig) error {
	T := n.st.maxT
	ev, h64, err := n.twin64(m, icfg, p.n)
	if err != nil {
		return err
	}
	ev.Close() // only its parameters are needed
	rows := p.n * (1 + len(p.deltas))
	xs := make([]float64, 0, rows*784)
	xs = append(xs, p.x...)
	for _, d := range p.deltas {
		for i := range d {
			xs = append(xs, p.x[i]+d[i])
		}
	}
	atx := make([]float64, len(xs))
	blur.Apply(atx, xs, rows, 28, 28, n.a.Kernel, true)
	inj := tensor.New(tensor.WithShape(rows, 784), tensor.WithBacking(atx))
	for s, z0 := range [][]float64{nil, atx} {
		err := layers.IterateCell(h64.cell, []G.Value{inj}, slices.Clone(z0), T, func(t int, z []float64) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			worst := 0.0
			for r, d := range p.deltas {
				rankWorst := 0.0
				for i := range p.n {
					base := z[i*784 : (i+1)*784]
					pert := z[((r+1)*p.n+i)*784 : ((r+1)*p.n+i+1)*784]
					var num, den float64
					for j := range base {
						e := pert[j] - base[j]
						num += e * e
						den += d[i*784+j] * d[i*784+j]
					}
					rankWorst = math.Max(rankWorst, math.Sqrt(num/den))
				}
				if s == 0 {
					c.lipByRank[t-1][r] = rankWorst
				}
				worst = math.Max(worst, rankWorst)
			}
			c.lip[s][t-1] = worst
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// psnr is 10·log10(1/MSE) of an image against its clean version.
func psnr[T float32 | float64](y []T, clean []float32) float64 {
	var s float64
	for i, v := range y {
		e := float64(v) - float64(clean[i])
		s += e * e
	}
	return 10 * math.Log10(float64(len(y))/math.Max(s, 1e-20))
}

// deblurPSNR is the metric: PSNR per image, mean over images.
func deblurPSNR() train.Metric {
	return train.Metric{Name: "PSNR (dB)", HigherIsBetter: true, Sample: func(out, target []float32) float64 {
		return psnr(out, target)
	}}
}

// report puts the curve from y₀ = 0 into the model's row and the rest
// into its extra figures.
func (c *deblurCurves) report(mr *report.ModelReport, st deblurSettings) {
	mr.Curve = nil
	for _, t := range train.IterationCounts(st.maxT) {
		mr.Curve = append(mr.Curve, train.CurvePoint{T: t, Metric: c.psnr[0][t-1], MetricStd: c.std[0][t-1], Lipschitz: c.lip[0][t-1]})
	}
	if mr.Extra == nil {
		mr.Extra = map[string]float64{}
	}
	best, bestT := c.best(0)
	mr.Extra["psnr_best"], mr.Extra["psnr_best_t"] = best, float64(bestT)
	mr.Extra["psnr_t_max"] = c.psnr[0][st.maxT-1]
	bestA, bestAT := c.best(1)
	mr.Extra["psnr_from_atx_best"], mr.Extra["psnr_from_atx_best_t"] = bestA, float64(bestAT)
	mr.Extra["psnr_from_atx_t_max"] = c.psnr[1][st.maxT-1]
}

// best returns the best PSNR from start s and the t that reaches it.
func (c *deblurCurves) best(s int) (float64, int) {
	i := 0
	for t, v := range c.psnr[s] {
		if v > c.psnr[s][i] {
			i = t
		}
	}
	return c.psnr[s][i], i + 1
}

// summary states the curves' key points.
func (c *deblurCurves) summary(st deblurSettings) []string {
	T := st.maxT
	best, bestT := c.best(0)
	bestA, bestAT := c.best(1)
	grow := "rises"
	for t := 1; t < min(10, T); t++ {
		if c.lip[0][t] < c.lip[0][t-1] {
			grow = "does not rise monotonically"
			break
		}
	}
	return []string{
		fmt.Sprintf("implicit-pgd from y₀ = 0: PSNR %.2f dB at t = 1, best %.2f dB at t = %d, %.2f dB at t = %d (%.3f dB below the best); L_t %.3g at t = 1, %.3g at t = 10, %.3g at t = %d (L_t %s over t = 1 … 10).",
			c.psnr[0][0], best, bestT, c.psnr[0][T-1], T, best-c.psnr[0][T-1], c.lip[0][0], c.lip[0][min(10, T)-1], c.lip[0][T-1], T, grow),
		fmt.Sprintf("implicit-pgd from y₀ = Aᵀx: PSNR %.2f dB at t = 1, best %.2f dB at t = %d, %.2f dB at t = %d; L_t %.3g at t = 1, %.3g at t = %d.",
			c.psnr[1][0], bestA, bestAT, c.psnr[1][T-1], T, c.lip[1][0], c.lip[1][T-1], T),
		"deblur_curves.csv: PSNR (mean, std) and L_t against t from both starts, and L_t per probe frequency; deblur_psnr_starts.png and deblur_lipschitz_by_rank.png draw them; deblur_reconstructions.png: rows are test images; columns the measurement x, explicit-cnn-x1, implicit-pgd at t = " + fmt.Sprint(st.gridTs) + ", the clean image.",
	}
}

// write saves the curves as CSV and two figures.
func (c *deblurCurves) write(dir string, st deblurSettings) error {
	err := report.WriteFile(filepath.Join(dir, "deblur_curves.csv"), func(w io.Writer) error {
		cw := csv.NewWriter(w)
		head := []string{"t", "psnr_y0_zero", "psnr_std_y0_zero", "psnr_y0_atx", "psnr_std_y0_atx", "lipschitz_y0_zero", "lipschitz_y0_atx"}
		for _, m := range c.modes {
			head = append(head, fmt.Sprintf("lipschitz_f%d_%d_sigma%.3g", m.Fy, m.Fx, m.Sigma))
		}
		cw.Write(head)
		for t := range st.maxT {
			rec := []string{strconv.Itoa(t + 1), report.CSVFloat(c.psnr[0][t]), report.CSVFloat(c.std[0][t]), report.CSVFloat(c.psnr[1][t]), report.CSVFloat(c.std[1][t]), report.CSVFloat(c.lip[0][t]), report.CSVFloat(c.lip[1][t])}
			for _, v := range c.lipByRank[t] {
				rec = append(rec, report.CSVFloat(v))
			}
			cw.Write(rec)
		}
		cw.Flush()
		return cw.Error()
	})
	if err != nil {
		return err
	}
	ts := make([]float64, st.maxT)
	for t := range ts {
		ts[t] = float64(t + 1)
	}
	starts := []report.Series{{Name: "from y₀ = 0", X: ts, Y: c.psnr[0]}, {Name: "from y₀ = Aᵀx", X: ts, Y: c.psnr[1]}}
	if err := report.LinePlot(filepath.Join(dir, "deblur_psnr_starts.png"), "deblur: implicit-pgd PSNR against t", "test-time iterations t", "PSNR (dB)", true, false, starts); err != nil {
		return err
	}
	var byRank []report.Series
	for r, m := range c.modes {
		s := report.Series{Name: fmt.Sprintf("rank %g (σ = %.2g)", st.ranks[r], m.Sigma), X: ts}
		for t := range st.maxT {
			s.Y = append(s.Y, c.lipByRank[t][r])
		}
		byRank = append(byRank, s)
	}
	return report.LinePlot(filepath.Join(dir, "deblur_lipschitz_by_rank.png"), "deblur: implicit-pgd L_t per probe frequency (y₀ = 0)", "test-time iterations t", "L_t", true, true, byRank)
}

// deblurGrid draws, for the first st.show test images, the measurement,
// the explicit model's reconstruction, the implicit model's iterates at
// st.gridTs and the clean image, grey levels clamped to [0, 1].
func deblurGrid(w io.Writer, test *datasets.DeblurSet, show map[string][][]float32, explicit, implicit string, st deblurSettings) error {
	const scale, gap = 3, 4
	rows := min(st.show, test.N)
	cols := [][]float32{test.X, nil}
	if e := show[explicit]; len(e) > 0 {
		cols[1] = e[0]
	}
	cols = append(cols, show[implicit]...)
	cols = append(cols, test.Y)
	cell := 28*scale + gap
	img := image.NewGray(image.Rect(0, 0, len(cols)*cell+gap, rows*cell+gap))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for r := range rows {
		for c, src := range cols {
			if len(src) < (r+1)*784 {
				continue
			}
			x0, y0 := gap+c*cell, gap+r*cell
			for i := range 28 {
				for j := range 28 {
					v := math.Max(0, math.Min(1, float64(src[r*784+i*28+j])))
					g := color.Gray{Y: uint8(math.Round(255 * v))}
					for dy := range scale {
						for dx := range scale {
							img.SetGray(x0+j*scale+dx, y0+i*scale+dy, g)
						}
					}
				}
			}
		}
	}
	return png.Encode(w, img)
}
