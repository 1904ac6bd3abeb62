package experiments

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

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

// nsSettings are the sizes of a steady Navier–Stokes run; quick() the CI
// reductions. The paper's recipe (Marwah et al.'s FNO-DEQ, which the
// paper's code runs) is followed where the budget allows — three Fourier
// layers in G with MLPs, GELU and injection, width 32, Anderson forward
// (24 steps, tolerance 1e-6), the phantom gradient (3 steps, damping
// 0.8), unrolled pre-training (12 iterations), the relative L2 loss
// summed over the batch, Adam at 5e-3 with weight decay 1e-4, batch 16 —
// and scaled where it does not (a default run must fit 30 minutes on two
// cores): a 32² grid instead of 128², 8 modes instead of 12, 1000/200
// samples instead of 4500/500, 10 epochs instead of 500, the pre-training
// one epoch (the paper's 300 steps are 1.07 of its epochs), a cosine
// learning-rate schedule instead of a constant rate (with so few epochs
// the constant rate leaves the last iterate noisy).
type nsSettings struct {
	data                         datasets.NavierStokesConfig
	trainN, testN, epochs, batch int
	width, modes, hidden, depth  int   // depth: Fourier layers in a block (G)
	blocks                       []int // FNO++ depths, in blocks
	lr, weightDecay              float64
	pretrainEpochs               int // of the epochs, unrolled pre-training
	pretrainIters                int // iterations of the unrolled pre-training
	// relax is α of the implicit model's iteration z ← (1−α)z + α·G(z)
	// (fourier.FourierStack.Relax) in training, 1 (G itself) as the
	// paper's; evalRelax is the one of the test-time iterations y_t: the
	// learned G's Jacobian has eigenvalues below −1 at its fixed points,
	// so plain iteration oscillates where the average ½(z + G(z)), with
	// the same fixed points, contracts (see the notes).
	relax, evalRelax        float64
	testIters               int // solver iterations at test time
	probeN, show, evalBatch int
	ts                      []int
	perturbNorm             float64
	randomDirs              int // random directions of G's Lipschitz check
}

func defaultNsSettings() nsSettings {
	return nsSettings{
		trainN: 1000, testN: 200, epochs: 6, batch: 16,
		width: 32, modes: 8, hidden: 128, depth: 3, blocks: []int{2, 4},
		lr: 5e-3, weightDecay: 1e-4, pretrainEpochs: 1, pretrainIters: 12, relax: 1, evalRelax: 0.5, testIters: 50,
		probeN: 16, show: 4, evalBatch: 50, ts: train.IterationCounts(40),
		perturbNorm: 1e-2, randomDirs: 4,
	}
}

func (p nsSettings) quick() nsSettings {
	// Batches of 4 give the 64 samples 16 steps an epoch (4 at the
	// default 16, too few to learn anything), at about the same cost.
	p.trainN, p.testN, p.epochs, p.batch = 64, 16, 2, 4
	p.width, p.modes, p.hidden = 8, 4, 16
	p.probeN, p.show, p.evalBatch, p.randomDirs = 4, 2, 16, 2
	p.ts = []int{1, 2, 3, 5, 10, 20, 40}
	return p
}

// nsDefaults are the Navier–Stokes problem's Defaults.
func nsDefaults(quick bool) Defaults {
	ns := defaultNsSettings()
	if quick {
		ns = ns.quick()
	}
	return pdeDefaults(ns.epochs, ns.batch, ns.width, ns.lr, 1e-6, 24)
}

// nsArch is one of the compared models: the equal-size explicit FNO,
// FNO++ of Blocks blocks, or the implicit FNO-DEQ.
type nsArch struct {
	Name     string
	Blocks   int
	Implicit bool
}

// Names of the equal-size explicit FNO and of the implicit FNO-DEQ.
const (
	nsFNO      = "fno"
	nsImplicit = "fno-deq"
)

// nsArchs are the compared models, in order: FNO, FNO++ of each of
// blocks, FNO-DEQ.
func nsArchs(blocks []int) []nsArch {
	out := []nsArch{{Name: nsFNO, Blocks: 1}}
	for _, b := range blocks {
		out = append(out, nsArch{Name: fmt.Sprintf("fno++-%d", b), Blocks: b})
	}
	return append(out, nsArch{Name: nsImplicit, Implicit: true})
}

// runNavierStokes runs the Navier–Stokes problem: the pre-training phase
// of every model, then the comparison.
func runNavierStokes(ctx context.Context, s Settings) (*report.Report, error) {
	start := time.Now()
	ns := defaultNsSettings()
	if s.Quick {
		ns = ns.quick()
	}
	ns.epochs, ns.width, ns.lr, ns.batch = s.Epochs, s.Hidden, s.LR, s.Batch
	if ns.epochs <= ns.pretrainEpochs {
		return nil, usagef("-epochs %d: the Navier–Stokes run spends its first %d epoch(s) pre-training; use at least %d", ns.epochs, ns.pretrainEpochs, ns.pretrainEpochs+1)
	}
	rawTrain, rawTest, err := datasets.NavierStokesSplits(s.DataDir, ns.data, s.Seed, ns.trainN, ns.testN)
	if err != nil {
		return nil, err
	}
	if ns.batch > rawTrain.Len() {
		return nil, usagef("-batch %d is larger than the training set (%d samples); use at most %d", ns.batch, rawTrain.Len(), rawTrain.Len())
	}
	norm := rawTrain.Norm()
	trainSet, testSet := rawTrain.Normalized(norm), rawTest.Normalized(norm)
	icfg := layers.ImplicitConfig{Forward: s.Solver, Stop: s.Stop, Backward: s.Backward}
	ms := nsModels(ns, testSet.S, s.Dtype, s.Seed, icfg)
	o := s.Options
	o.Experiment = "pde"
	o.Out = outDir(o) // one folder for both phases
	first, err := lpPhase1(ctx, o, ms.phase1, trainSet, nsFit(s, ns, ns.pretrainEpochs, train.Constant{}, "pretrain"))
	if err != nil {
		return nil, err
	}
	probe, ratio, err := nsProbe(testSet, ns.probeN, nsWavenumbers(nsPercentiles, nsKMax(testSet.Config)), ns.perturbNorm)
	if err != nil {
		return nil, err
	}
	evalNs := ns
	evalNs.relax = ns.evalRelax
	ev := &nsEval{ns: ns, s: s, first: first, probe: probe, specs: ms.specs,
		evalSpec: nsSpec(evalNs, testSet.S, s.Dtype, s.Seed, nsArch{Name: nsImplicit, Implicit: true}, icfg),
		show: newPdeShow(pdeShowForcings(testSet, ns.show), 2*testSet.S*testSet.S, func(w io.Writer, preds map[string][]float64) error {
			return pdeFigure(w, testSet.S, nsPanels(rawTest, norm, preds, nsFNO, nsImplicit, ns.show))
		})}
	c := &comparison{
		experiment: "pde", dataset: fmt.Sprintf("steady Navier–Stokes %d×%d, ν = %g (forcing f → vorticity ω)", testSet.S, testSet.S, testSet.Config.Nu),
		metric: nsRelativeL2(norm), trainSet: trainSet, testSet: testSet, models: ms.models, start: start, continues: true,
		fit: nsFit(s, ns, ns.epochs-ns.pretrainEpochs, s.Schedule, "main"), ts: ns.ts, probe: probe, evalBatch: ns.evalBatch,
		evalView: ev.view, after: ev.after, finish: ev.finish,
		config: nsConfig(s, ns, rawTrain, rawTest, probe, ratio),
		notes:  nsNotes(ns, probe, ratio),
	}
	return c.run(ctx, o)
}

// nsFit is the training configuration of a phase of epochs epochs.
func nsFit(s Settings, ns nsSettings, epochs int, schedule train.Schedule, phase string) train.Config {
	opt := s.Optimizer(ns.lr)
	opt.WeightDecay = ns.weightDecay
	return train.Config{
		Epochs: epochs, BatchSize: ns.batch, Seed: s.Seed, Schedule: schedule, LogEvery: 25, Optimizer: opt,
		Fingerprint: map[string]string{
			"problem": "navier-stokes", "phase": phase, "train": strconv.Itoa(ns.trainN), "width": strconv.Itoa(ns.width),
			"modes": strconv.Itoa(ns.modes), "dtype": s.Dtype.String(), "backward": s.Backward.Name(), "quick": strconv.FormatBool(s.Quick),
		},
	}
}

// nsNets are the experiment's models, the pre-training views of them,
// and each model's spec (for evaluation views).
type nsNets struct {
	models, phase1 []model
	specs          map[string]network.Spec
}

// nsModels builds the explicit FNO (one block of depth Fourier layers, no
// injection: the implicit model's parameters exactly), FNO++ of
// ns.blocks blocks (injection, from z₀ = 0) and the implicit FNO-DEQ,
// each in the same frame. The pre-training phase trains the explicit
// models as they are and the implicit one unrolled (pretrainIters plain
// iterations of G from z₀ = 0, differentiated through).
func nsModels(ns nsSettings, size int, dt tensor.Dtype, seed uint64, icfg layers.ImplicitConfig) nsNets {
	out := nsNets{specs: map[string]network.Spec{}}
	for _, a := range nsArchs(ns.blocks) {
		spec := nsSpec(ns, size, dt, seed, a, icfg)
		n := network.New(spec)
		out.models, out.specs[spec.Name] = append(out.models, n), spec
		p := spec
		if a.Implicit {
			pc := icfg
			pc.Backward = deq.Unrolled{Steps: ns.pretrainIters}
			p = nsSpec(ns, size, dt, seed, a, pc)
		}
		p.Name = spec.Name + ".phase1"
		out.phase1 = append(out.phase1, n.Sharing(p))
	}
	return out
}

// nsSpec is the network of the model a.
func nsSpec(ns nsSettings, size int, dt tensor.Dtype, seed uint64, a nsArch, icfg layers.ImplicitConfig) network.Spec {
	frame := fourier.FrameConfig{Size: size, In: 2, Width: ns.width, Modes: ns.modes, Hidden: ns.hidden}
	desc := fmt.Sprintf("lift (f_x, f_y, x, y)→%d, %%s, output Fourier layer, projection %d→%d (GELU)→1; Fourier layers: %d modes, MLP, 1×1 conv, GELU",
		ns.width, ns.width, ns.hidden, ns.modes)
	spec := network.Spec{Name: a.Name, Kind: train.KindExplicit, Dtype: dt, Seed: seed,
		Input: []int{2, size, size}, Target: []int{1, size, size}, Loss: fourier.RelativeL2Loss}
	var body func(s *layers.Scope) layers.Layer
	switch {
	case a.Implicit:
		icfg = layers.NewImplicit("", nil, icfg).Config() // the defaults, named in the description
		spec.Kind = train.KindImplicit
		how := fmt.Sprintf("%s forward, %s backward", icfg.Forward.Name(), pdeBackwardName(icfg.Backward))
		if u, ok := icfg.Backward.(deq.Unrolled); ok {
			how = fmt.Sprintf("%d unrolled iterations (pre-training)", u.Resolved().Steps)
		}
		spec.Description = fmt.Sprintf(desc, fmt.Sprintf("implicit G = %d Fourier layers with the lift injected into each, %s", ns.depth, how))
		body = func(s *layers.Scope) layers.Layer {
			g := fourier.NewFourierStack(s, "G", ns.depth, size, ns.width, ns.modes)
			g.Relax = ns.relax
			return s.Implicit("deq", g, icfg)
		}
	case a.Name == nsFNO:
		spec.Description = fmt.Sprintf(desc, fmt.Sprintf("%d Fourier layers on the lift (no injection; the implicit model's parameters)", ns.depth))
		body = func(s *layers.Scope) layers.Layer {
			return fourier.NewUntied(s, "G", 1, ns.depth, size, ns.width, ns.modes, false)
		}
	default:
		spec.Description = fmt.Sprintf(desc, fmt.Sprintf("%d untied blocks of %d Fourier layers from z₀ = 0, the lift injected into each layer", a.Blocks, ns.depth))
		body = func(s *layers.Scope) layers.Layer {
			return fourier.NewUntied(s, "G", a.Blocks, ns.depth, size, ns.width, ns.modes, true)
		}
	}
	spec.Body = func(s *layers.Scope, x *G.Node) (*G.Node, error) {
		b := body(s) // first, so that every model draws its first block's weights from the same stream
		return fourier.NewFrame(s, "fno", frame, b).Fwd(x)
	}
	return spec
}

// nsRelativeL2 is the relative L2 error of ω in physical units.
func nsRelativeL2(nm datasets.NavierStokesNorm) train.Metric {
	return physicalRelativeL2(nm.DenormalizeTarget)
}

// nsEval evaluates the trained models: the test solves of the implicit
// model with testIters iterations, the pre-training cost added to each
// row, the figure's predictions and the regularity of the learned G.
type nsEval struct {
	ns    nsSettings
	s     Settings
	first map[string]*train.Fitted
	probe train.Probe
	specs map[string]network.Spec
	// evalSpec is the implicit model at test time: its cell iterates
	// (1−α)z + α·G(z), α = evalRelax.
	evalSpec network.Spec
	show     *pdeShow
}

// view is the model the test set is evaluated on: the implicit model
// iterating the averaged map, with the test-time iteration budget.
func (e *nsEval) view(m model) train.Model {
	if m.Kind() != train.KindImplicit {
		return m
	}
	spec := e.evalSpec
	spec.Name = m.Name()
	body := spec.Body
	spec.Body = func(s *layers.Scope, x *G.Node) (*G.Node, error) {
		out, err := body(s, x)
		for _, l := range s.Implicits() {
			c := l.Controls()
			c.MaxIter = e.ns.testIters
			l.SetControls(c)
		}
		return out, err
	}
	return m.(*network.Network).Sharing(spec)
}

// finish draws the figure and notes what the regularity check measured
// and whether the curve meets its targets (nsCurveTargets).
func (e *nsEval) finish(dir string, rep *report.Report) error {
	for _, m := range rep.Models {
		if m.Kind != train.KindImplicit || m.Extra == nil {
			continue
		}
		rep.Notes = append(rep.Notes, nsCurveTargets(m.Name, m.Curve, e.ns.testN))
		x := m.Extra
		verdict := "plain iteration of G contracts there too"
		if x["g_spectral_radius_max"] >= 1 {
			verdict = "plain iteration of G does not contract at every one of them; its average T does where t_spectral_radius < 1"
		}
		rep.Notes = append(rep.Notes, fmt.Sprintf("%s, measured at the fixed points of the probe's inputs: ρ(J_G) = %.3g mean, %.3g max; ρ(J_T) = %.3g mean, %.3g max; G's Lipschitz constant in x %.3g: %s.",
			m.Name, x["g_spectral_radius_mean"], x["g_spectral_radius_max"], x["t_spectral_radius_mean"], x["t_spectral_radius_max"], x["g_lipschitz_x"], verdict))
	}
	return e.show.figure(dir, rep)
}

func (e *nsEval) after(ctx context.Context, m model, ev *train.Evaluator, mr *report.ModelReport) error {
	if f := e.first[m.Name()]; f != nil {
		if mr.Extra == nil {
			mr.Extra = map[string]float64{}
		}
		mr.Extra["pretrain_seconds"], mr.Extra["pretrain_final_loss"] = f.Seconds, f.FinalLoss
		samples := mr.TrainSamplesPerSecond*mr.TrainSeconds + float64(f.Samples)
		mr.TrainSeconds += f.Seconds
		mr.TrainSamplesPerSecond = samples / mr.TrainSeconds
		mr.PeakHeapBytes = max(mr.PeakHeapBytes, f.PeakHeap)
	}
	if err := e.show.after(ctx, m, ev, mr); err != nil {
		return err
	}
	if m.Kind() != train.KindImplicit {
		return nil
	}
	reg, err := nsRegularity(m.(*network.Network), e.ns, e.specs[m.Name()], e.probe, e.s.Seed)
	if err != nil {
		return err
	}
	for k, v := range reg {
		mr.Extra[k] = v
	}
	return nil
}
