package network

import (
	"bytes"
	"context"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/train"
)

// starvedDEQ is a toy DEQ whose backward solve gets too few iterations to
// converge: every step's adjoint fails its tolerance.
func starvedDEQ() *Network {
	stop := deq.Stop{Tol: 1e-12, MaxIter: 200}
	icfg := layers.ImplicitConfig{Stop: stop, Backward: deq.IFT{Solver: deq.Picard{}, Stop: deq.Stop{Tol: 1e-12, MaxIter: 2}}}
	return New(Spec{Name: "starved", Kind: train.KindImplicit, Dtype: tensor.Float64, Seed: 1, Input: []int{1}, Target: []int{1},
		Loss: MaskedMSE,
		Body: func(s *layers.Scope, x *G.Node) (*G.Node, error) {
			return layers.Sequential{
				s.Dense("in", 1, 8, layers.Identity, layers.NoBias()),
				s.Implicit("deq", s.DenseCell("cell", 8, layers.Tanh), icfg),
				s.Dense("out", 8, 1, layers.Identity),
			}.Fwd(x)
		}})
}

// TestBackwardFailureIsNeverSilent: a non-converging adjoint is warned
// about, can skip the step, can stop training, and is logged with the
// spectral radius.
func TestBackwardFailureIsNeverSilent(t *testing.T) {
	data := datasets.ToyPoints(64, 0.1, 1)
	var warn bytes.Buffer
	m := starvedDEQ()
	res, err := train.Fit(context.Background(), m, data, train.Config{
		Epochs: 2, BatchSize: 32, SkipNonConvergedBackward: true, MonitorSpectralRadius: true, Warnings: &warn,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped != res.Steps || res.Steps != 4 {
		t.Errorf("skipped %d of %d steps, want all 4", res.Skipped, res.Steps)
	}
	if !strings.Contains(warn.String(), "backward samples missed their tolerance") || res.SpectralRadius <= 0 {
		t.Errorf("warning %q, spectral radius %v", warn.String(), res.SpectralRadius)
	}
	_, err = train.Fit(context.Background(), starvedDEQ(), data, train.Config{Epochs: 2, BatchSize: 32, MaxNotConverged: 0.5})
	if err == nil || !strings.Contains(err.Error(), "losing its fixed point") {
		t.Errorf("MaxNotConverged: %v", err)
	}
}
