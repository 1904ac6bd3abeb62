package experiments

import (
	"context"
	"math"
	"slices"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/blur"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/layers/imaging"
	"github.com/implicit-ml/implicit/train"
	"github.com/implicit-ml/implicit/train/report"
)

// TestDeblurImplicitTrains trains small implicit PGD and HQS models on
// 300 MNIST pairs for two epochs, as the experiment does (a fixed number
// of plain iterations from y₀ = Aᵀx, IFT with a plain-iteration adjoint),
// and checks that the test PSNR of their iterate rises well above the
// untrained models' and that HQS's β stays positive.
func TestDeblurImplicitTrains(t *testing.T) {
	t.Setenv("IMPLICIT_CACHE_DIR", t.TempDir())
	tr, _, te, err := datasets.LoadDeblur("mnist", "", "", datasets.DeblurConfig{Train: 300, Val: 10, Test: 50}, 1)
	if err != nil {
		t.Fatal(err)
	}
	a, err := imaging.NewBlur("shake", 28, 28)
	if err != nil {
		t.Fatal(err)
	}
	st := defaultDeblurSettings().quick()
	net := deblurNets{a: a, st: st, seed: 1, recipes: map[string]deblurRecipe{}}
	for _, op := range []string{"pgd", "hqs"} {
		t.Run(op, func(t *testing.T) {
			m, h := net.build(deblurRecipe{name: "implicit-" + op, op: op}, tensor.Float32,
				layers.ImplicitConfig{Backward: deq.IFT{Solver: deq.Picard{}, Stop: st.adjoint}}, st.trainIters, nil)
			score := func() float64 {
				ev, err := train.NewEvaluator(m, 50)
				if err != nil {
					t.Fatal(err)
				}
				defer ev.Close()
				e, err := ev.Evaluate(te, deblurPSNR())
				if err != nil {
					t.Fatal(err)
				}
				return e.Mean
			}
			before := score()
			if _, err := train.Fit(context.Background(), m, tr, train.Config{Epochs: 2, BatchSize: 20, Seed: 1,
				Optimizer: train.OptimizerConfig{LR: 2e-3, ClipNorm: 1}}); err != nil {
				t.Fatal(err)
			}
			after := score()
			t.Logf("test PSNR of y_%d: %.2f dB before training, %.2f dB after", st.trainIters, before, after)
			if !(after > before+2) {
				t.Errorf("test PSNR %.2f dB before training, %.2f dB after: the implicit model did not learn", before, after)
			}
			if c, ok := h.cell.(*imaging.HQSCell); ok {
				if b := c.Beta(); !(b > 0) || math.IsInf(b, 0) {
					t.Errorf("β = %v after training", b)
				}
			}
		})
	}
}

// TestDeblurServedModels: the models deblurServed builds for serving are
// Run's, by name and parameter count, in Run's order.
func TestDeblurServedModels(t *testing.T) {
	s, err := Resolve(Deblur{}, Options{Experiment: "deblur", Quick: true})
	if err != nil {
		t.Fatal(err)
	}
	served, err := deblurServed(s)
	if err != nil {
		t.Fatal(err)
	}
	st := deblurSettingsFor(s)
	recipes := deblurRecipes(st.stages)
	if len(served) != len(recipes) {
		t.Fatalf("%d served models, %d in a run", len(served), len(recipes))
	}
	for i, m := range served {
		if m.Name() != recipes[i].name {
			t.Errorf("served model %d is %s, the run's is %s", i, m.Name(), recipes[i].name)
		}
		ev, err := train.NewEvaluator(m, 2) // builds the graph, which counts the parameters
		if err != nil {
			t.Fatal(err)
		}
		ev.Close()
		// conv1 sees the image and σ_D's map (2 channels); σ_D is one more.
		want := 2*st.channels*9 + st.channels + (st.depth-2)*(st.channels*st.channels*9+st.channels) + st.channels*9 + 1 + 1
		if r := recipes[i]; r.stages > 0 {
			want = r.stages * (want + 1)
		} else if r.implicit() {
			want++
		}
		if m.Params() != want {
			t.Errorf("%s: %d parameters, want %d", m.Name(), m.Params(), want)
		}
	}
}

// TestDeblurCurveMatchesHeadline: the PSNR(t) curve (the cell iterated on
// flat buffers from y₀ = Aᵀx) agrees at t = evalT with the headline the
// evaluation view computes in its graph, for both implicit models, in
// batches of sizes that do not divide the test set. The curve must not be
// flat, so a view that started elsewhere or iterated another count would
// show.
func TestDeblurCurveMatchesHeadline(t *testing.T) {
	te, st, net, icfg := deblurTestSetup(t, 20, 3, func(st *deblurSettings) {
		st.curveBatch, st.evalT, st.maxT = 8, 6, 6 // batches of several sizes
	})
	e := &deblurEval{net: net, st: st, dt: tensor.Float32, icfg: icfg, test: te, handles: map[string]*deblurHandle{}}
	for _, name := range []string{"implicit-pgd", "implicit-hqs"} {
		m, _ := net.build(net.recipes[name], tensor.Float32, icfg, st.trainIters, nil)
		v := e.view(m)
		ev, err := train.NewEvaluator(v, 7)
		if err != nil {
			t.Fatal(err)
		}
		res, err := ev.Evaluate(te, deblurPSNR())
		ev.Close()
		if err != nil {
			t.Fatal(err)
		}
		c := &deblurCurves{psnr: make([]float64, st.maxT), std: make([]float64, st.maxT), grid: make([][]float32, len(st.gridTs))}
		if err := net.psnrCurve(context.Background(), c, e.handles[name].cell, te); err != nil {
			t.Fatal(err)
		}
		if d := math.Abs(c.psnr[st.evalT-1] - res.Mean); d > 1e-3 {
			t.Errorf("%s: PSNR(t = %d) %.5f on the curve, %.5f from the evaluation view", name, st.evalT, c.psnr[st.evalT-1], res.Mean)
		}
		if math.Abs(c.psnr[0]-c.psnr[st.evalT-1]) < 1e-3 {
			t.Errorf("%s: the curve is flat (%.5f at t = 1 and t = %d); the comparison cannot tell iterates apart", name, c.psnr[0], st.evalT)
		}
	}
}

// TestDeblurLoadModel: LoadModel serves a deblur run. For the default
// model (the first implicit one), implicit HQS and an unfolded model, the
// run's settings come back from run.json, the checkpoint's values are
// what the parameters hold, an implicit model iterates evalT plain
// iterations from y₀ = Aᵀx as it was tested, and a blurred image comes
// back restored to 784 finite pixels.
func TestDeblurLoadModel(t *testing.T) {
	opts := Options{Experiment: "deblur", Quick: true, Seed: 1}
	s, err := Resolve(Deblur{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	st := deblurSettingsFor(s)
	for _, c := range []struct{ name, want string }{{"", "implicit-pgd"}, {"implicit-hqs", "implicit-hqs"}, {"unfolded-hqs-2", "unfolded-hqs-2"}} {
		t.Run(c.want, func(t *testing.T) {
			dir, values := fakeRun(t, opts, c.name, nil)
			l, err := LoadModel(dir, LoadOptions{Model: c.name})
			if err != nil {
				t.Fatal(err)
			}
			if l.Model.Name() != c.want || len(l.Input) != 1 || l.Input[0] != mnistPixels || l.Output[0] != mnistPixels {
				t.Fatalf("loaded %s with input %v, output %v", l.Model.Name(), l.Input, l.Output)
			}
			var got, want []float64
			for i, p := range l.Model.Scope().Params() {
				v, err := layers.Floats64(p.Value())
				if err != nil {
					t.Fatal(err)
				}
				got, want = append(got, v...), append(want, values[i]...)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("the loaded parameters are not the checkpoint's")
			}
			implicit := c.want != "unfolded-hqs-2"
			if implicit != (len(l.Implicits) == 1) {
				t.Fatalf("%s has %d implicit layers", c.want, len(l.Implicits))
			}
			if implicit {
				if ctl := l.Implicits[0].Controls(); ctl.Iterations != st.evalT || !ctl.StartAtInjection {
					t.Errorf("served %s iterates with %+v, tested with %d plain iterations from y₀ = Aᵀx", c.want, ctl, st.evalT)
				}
			}
			ev, err := train.NewEvaluator(l.Model, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer ev.Close()
			x := make([]float32, mnistPixels)
			for i := range x {
				x[i] = float32(i%28) / 28
			}
			y, err := ev.Predict32(x, 1)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range y {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || len(y) != mnistPixels {
					t.Fatalf("output %d of %d is %v", i, len(y), v)
				}
			}
		})
	}
}

// TestDeblurPSNRFromZero: the Lipschitz curve's PSNR from y₀ = 0 is the
// mean PSNR of the unperturbed probe rows, the same as iterating the cell
// from zero on the probe measurements alone (it was once left at 0).
func TestDeblurPSNRFromZero(t *testing.T) {
	te, st, net, icfg := deblurTestSetup(t, 6, 2, func(st *deblurSettings) { st.maxT, st.evalT, st.probeN = 4, 4, 5 })
	m, h := net.build(net.recipes["implicit-hqs"], tensor.Float64, icfg, st.maxT, nil)
	ev, err := train.NewEvaluator(m, 1) // builds the graph, which makes the cell
	if err != nil {
		t.Fatal(err)
	}
	ev.Close()
	p := deblurProbe(te, net.a.Kernel, st)
	c := &deblurCurves{}
	if err := net.lipschitzCurve(context.Background(), c, h.cell, p); err != nil {
		t.Fatal(err)
	}
	px := 28 * 28
	atx := make([]float64, len(p.x))
	blur.Apply(atx, p.x, p.n, 28, 28, net.a.Kernel, true)
	want := 0.0
	err = layers.IterateCell(h.cell, []G.Value{tensor.New(tensor.WithShape(p.n, px), tensor.WithBacking(atx))}, nil, st.maxT, func(t int, z []float64) error {
		if t == st.maxT {
			for i := range p.n {
				want += psnr(z[i*px:(i+1)*px], te.Y[i*px:(i+1)*px]) / float64(p.n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.psnrZero[st.maxT-1]; !(want > 0) || math.Abs(got-want) > 1e-9 {
		t.Errorf("PSNR from y₀ = 0 at t = %d: %v on the curve, %v iterating the probe images alone", st.maxT, got, want)
	}
}

// deblurTestSetup loads test MNIST deblurring pairs (seed) and returns
// the quick run's settings, changed by edit, with their models' builder.
func deblurTestSetup(t *testing.T, test int, seed uint64, edit func(*deblurSettings)) (*datasets.DeblurSet, deblurSettings, deblurNets, layers.ImplicitConfig) {
	t.Helper()
	t.Setenv("IMPLICIT_CACHE_DIR", t.TempDir())
	_, _, te, err := datasets.LoadDeblur("mnist", "", "", datasets.DeblurConfig{Train: 10, Val: 10, Test: test}, seed)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Resolve(Deblur{}, Options{Experiment: "deblur", Quick: true})
	if err != nil {
		t.Fatal(err)
	}
	st := deblurSettingsFor(s)
	edit(&st)
	net, icfg, err := deblurSetup(s, st, 28, 28)
	if err != nil {
		t.Fatal(err)
	}
	return te, st, net, icfg
}

// TestDeblurLearnedScalars: the report's learned scalars of an untrained
// model are their initial values (σ_D 0.03; the unfolded models at the
// paper's steps, β 0.25 and γ 1; the implicit ones at the step 1/2, γ 1/2
// and β 2), averaged over stages.
func TestDeblurLearnedScalars(t *testing.T) {
	_, _, net, icfg := deblurTestSetup(t, 4, 2, func(*deblurSettings) {})
	for name, want := range map[string]map[string]float64{
		"unfolded-hqs-2": {"sigma_d": deblurSigmaD, "beta": imaging.DefaultHQSBeta},
		"unfolded-pgd-1": {"sigma_d": deblurSigmaD, "gamma": imaging.DefaultPGDStep},
		"implicit-pgd":   {"sigma_d": deblurSigmaD, "gamma": 0.5},
		"implicit-hqs":   {"sigma_d": deblurSigmaD, "beta": 2},
		deblurOnce:       {"sigma_d": deblurSigmaD},
	} {
		m, _ := net.build(net.recipes[name], tensor.Float32, icfg, 2, nil)
		ev, err := train.NewEvaluator(m, 2)
		if err != nil {
			t.Fatal(err)
		}
		ev.Close()
		mr := &report.ModelReport{}
		if err := learnedScalars(m, mr); err != nil {
			t.Fatal(err)
		}
		if len(mr.Extra) != len(want) {
			t.Errorf("%s: extras %v, want %v", name, mr.Extra, want)
		}
		for k, w := range want {
			if got := mr.Extra[k]; math.Abs(got-w) > 1e-6 {
				t.Errorf("%s: %s = %v, want %v", name, k, got, w)
			}
		}
	}
}
