package experiments

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/layers/graph"
	"github.com/implicit-ml/implicit/network"
	"github.com/implicit-ml/implicit/train"
)

// lpTestData is the first 400 + 200 instances of seed 1 (generated and
// cached on first use, a few seconds).
func lpTestData(tb testing.TB) (*datasets.LPSet, *datasets.LPSet) {
	tb.Helper()
	tr, te, _, err := datasets.LPSplits("", 1, 400, 200)
	if err != nil {
		tb.Fatal(err)
	}
	return tr, te
}

// BenchmarkLPStep is one training step of each LP network at batch 25.
func BenchmarkLPStep(b *testing.B) {
	tr, _ := lpTestData(b)
	lay := tr.Layout()
	idx := make([]int, 25)
	for i := range idx {
		idx[i] = i
	}
	for _, emb := range []int{4, 8, 16, 32} {
		for _, c := range []struct {
			name string
			kind lpKind
			cfg  layers.ImplicitConfig
		}{
			{"explicit", lpExplicit, layers.ImplicitConfig{}},
			{"unrolled3", lpImplicit, layers.ImplicitConfig{Backward: deq.Unrolled{Steps: 3}}},
			{"unrolled6", lpImplicit, layers.ImplicitConfig{Backward: deq.Unrolled{Steps: 6}}},
			{"ift", lpImplicit, layers.ImplicitConfig{Stop: deq.Stop{MaxIter: 30}, Backward: deq.IFT{Solver: deq.GMRES{}, Stop: deq.Stop{MaxIter: 30}}}},
		} {
			b.Run(fmt.Sprintf("%s/e%d", c.name, emb), func(b *testing.B) {
				m := network.New(lpModel(c.kind, emb, lay, tensor.Float64, 1, c.cfg, graph.ConvOptions{}))
				sess, err := train.NewSession(m, len(idx), train.OptimizerConfig{LR: 1e-3})
				if err != nil {
					b.Fatal(err)
				}
				defer sess.Close()
				for b.Loop() {
					if _, err := sess.Step(tr, idx); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestLPImplicitTrains trains a small implicit GNN (width 4, unrolled 3
// iterations) on 400 instances and checks that its test error falls to
// well below its error before training.
func TestLPImplicitTrains(t *testing.T) {
	tr, te := lpTestData(t)
	lay := tr.Layout()
	m := network.New(lpModel(lpImplicit, 4, lay, tensor.Float64, 1, layers.ImplicitConfig{Backward: deq.Unrolled{Steps: 3}}, graph.ConvOptions{}))
	score := func() float64 {
		ev, err := train.NewEvaluator(m, 200)
		if err != nil {
			t.Fatal(err)
		}
		defer ev.Close()
		ev.SetIterations(3)
		e, err := ev.Evaluate(te, lpError())
		if err != nil {
			t.Fatal(err)
		}
		return e.Mean
	}
	before := score()
	res, err := train.Fit(context.Background(), m, tr, train.Config{Epochs: 20, BatchSize: 25, Seed: 1,
		Optimizer: train.OptimizerConfig{LR: 3e-3, ClipNorm: 1}})
	if err != nil {
		t.Fatal(err)
	}
	after := score()
	t.Logf("test error %.3f before, %.3f after %d steps (final loss %.3g)", before, after, res.Steps, res.FinalLoss)
	if !(after < 0.6*before) {
		t.Errorf("test error %.3f before training, %.3f after: the implicit GNN did not learn", before, after)
	}
}

// TestLPPaperRecipe runs -problem paper's quick configuration and checks
// that it trains as the authors' code does: full batch (one step an
// epoch), no clipping, the best-loss weights kept in both phases, the
// destination MLPs in the convolutions, and the probe norm of their code.
func TestLPPaperRecipe(t *testing.T) {
	dir := t.TempDir()
	rep, err := Run(context.Background(), Options{Experiment: "lp", Problem: "paper", Quick: true, Seed: 1, Out: dir})
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Config["batch"]; got != 400 {
		t.Errorf("batch %v, want the whole training set (400)", got)
	}
	for _, m := range rep.Models {
		if m.Steps != 10 || m.Extra["phase1_epochs"] != 20 {
			t.Errorf("%s: %d steps in phase 2 and %v epochs in phase 1, want 10 and 20 full-batch steps", m.Name, m.Steps, m.Extra["phase1_epochs"])
		}
		for _, k := range []string{"phase1_best_loss", "best_score", "phase1_spikes"} {
			if _, ok := m.Extra[k]; !ok {
				t.Errorf("%s lacks extra.%s: the best weights were not kept", m.Name, k)
			}
		}
		// An explicit network's second phase starts where the first ended,
		// at its best loss, and keeps its own best: never worse (to the
		// rounding of a sum in another order). The implicit ones change
		// from 3 to 6 iterations between the phases.
		if m.Kind == train.KindExplicit && m.Extra["best_score"] > m.Extra["phase1_best_loss"]*(1+1e-9) {
			t.Errorf("%s: phase 2 ends at loss %v, above phase 1's best %v, where it started", m.Name, m.Extra["best_score"], m.Extra["phase1_best_loss"])
		}
		if !strings.Contains(m.Description, "destination") {
			t.Errorf("%s: %q does not use the paper's convolutions", m.Name, m.Description)
		}
		if m.Kind == train.KindImplicit && !(m.Extra["test_spectral_radius"] > 0) {
			t.Errorf("%s: no contraction at the test fixed points", m.Name)
		}
	}
	if !strings.Contains(strings.Join(rep.Notes, " "), "norm 0.0001") {
		t.Errorf("the notes do not state the probe norm 1e-4: %q", rep.Notes)
	}
}
