package experiments

import (
	"context"
	"math"
	"testing"

	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/layers/imaging"
	"github.com/implicit-ml/implicit/train"
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
		want := st.channels*9 + st.channels + (st.depth-2)*(st.channels*st.channels*9+st.channels) + st.channels*9 + 1
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
	t.Setenv("IMPLICIT_CACHE_DIR", t.TempDir())
	_, _, te, err := datasets.LoadDeblur("mnist", "", "", datasets.DeblurConfig{Train: 10, Val: 10, Test: 20}, 3)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Resolve(Deblur{}, Options{Experiment: "deblur", Quick: true})
	if err != nil {
		t.Fatal(err)
	}
	st := deblurSettingsFor(s)
	st.curveBatch, st.evalT, st.maxT = 8, 6, 6 // batches of several sizes
	net, icfg, err := deblurSetup(s, st, 28, 28)
	if err != nil {
		t.Fatal(err)
	}
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
