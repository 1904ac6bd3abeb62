package experiments

import (
	"math/rand/v2"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/layertest"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/network"
	"github.com/implicit-ml/implicit/train"
	"github.com/implicit-ml/implicit/train/report"
)

// TestRadiusOfDivergedModelIsANote: an implicit model whose test solve
// diverges (its cell is expansive, spectral norm 3) keeps its test metric;
// the missing spectral radius is a note, not an error that fails the
// model's row. A contractive one gets its radius.
func TestRadiusOfDivergedModelIsANote(t *testing.T) {
	data := datasets.ToyPoints(64, 0.02, 1)
	mk := func(norm float64) (*network.Network, *train.Evaluator) {
		net := network.New(network.Spec{Name: "deq", Kind: train.KindImplicit, Input: []int{1}, Target: []int{1}, Dtype: tensor.Float64, Loss: network.MaskedMSE,
			Body: func(s *layers.Scope, x *G.Node) (*G.Node, error) {
				lift, err := s.Dense("lift", 1, 6, layers.Identity).Fwd(x)
				if err != nil {
					return nil, err
				}
				cell := s.DenseCell("cell", 6, layers.Identity)
				layertest.ScaleToSpectralNorm(cell.W, norm, rand.New(rand.NewPCG(5, 5)))
				z, err := s.Implicit("core", cell, layers.ImplicitConfig{Forward: deq.Picard{}, Stop: deq.Stop{Tol: 1e-10, MaxIter: 200}}).Fwd(lift)
				if err != nil {
					return nil, err
				}
				return s.Dense("out", 6, 1, layers.Identity).Fwd(z)
			}})
		ev, err := train.NewEvaluator(net, 32)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ev.Close() })
		if _, err := ev.Evaluate(data, train.RMSError()); err != nil {
			t.Logf("evaluating with spectral norm %g: %v", norm, err)
		}
		return net, ev
	}
	net, ev := mk(3)
	mr := &report.ModelReport{Name: "deq"}
	note, err := testRadius(ev, net, mr)
	if err != nil {
		t.Fatalf("a diverged test solve failed the row: %v", err)
	}
	if !strings.Contains(note, "no spectral radius") {
		t.Errorf("note %q, want one that says the radius is missing", note)
	}
	if _, ok := mr.Extra["test_spectral_radius"]; ok {
		t.Errorf("a radius %v was recorded for a solve without a fixed point", mr.Extra["test_spectral_radius"])
	}
	net, ev = mk(0.5)
	mr = &report.ModelReport{Name: "deq"}
	if note, err := testRadius(ev, net, mr); err != nil || note != "" {
		t.Fatalf("contractive cell: note %q, error %v", note, err)
	}
	if r := mr.Extra["test_spectral_radius"]; r <= 0 || r > 0.5+1e-6 {
		t.Errorf("contractive cell's radius %v, want in (0, 0.5]", r)
	}
}
