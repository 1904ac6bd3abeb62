package experiments

import (
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/network"
	"github.com/implicit-ml/implicit/train"
)

// TestCollapseIsDetected: a model whose outputs do not depend on its
// input, or whose loss did not fall, is flagged; a working one is not.
func TestCollapseIsDetected(t *testing.T) {
	data := datasets.ToyPoints(100, 0.02, 1)
	mk := func(scale float64) *train.Evaluator {
		net := network.New(network.Spec{Name: "m", Input: []int{1}, Target: []int{1}, Dtype: tensor.Float64, Loss: network.MaskedMSE,
			Body: func(s *layers.Scope, x *G.Node) (*G.Node, error) {
				d := s.Dense("d", 1, 4, layers.Tanh)
				y, err := d.Fwd(x)
				if err != nil {
					return nil, err
				}
				for i := range d.W.Value().Data().([]float64) {
					d.W.Value().Data().([]float64)[i] = scale // scale 0: a constant map
				}
				return y, nil
			}})
		ev, err := train.NewEvaluator(net, 32)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ev.Close() })
		return ev
	}
	learned := &train.Fitted{Steps: 100, FirstLoss: 2, FinalLoss: 0.1}
	for _, c := range []struct {
		name   string
		fitted *train.Fitted
		ev     *train.Evaluator
		want   string
	}{
		{"constant outputs", learned, mk(0), "same for every input"},
		{"flat loss", &train.Fitted{Steps: 100, FirstLoss: 1, FinalLoss: 0.995}, mk(1), "did not fall"},
		{"too short to judge the loss", &train.Fitted{Steps: 5, FirstLoss: 1, FinalLoss: 1}, mk(1), ""},
		// Over several epochs the epochs' mean losses are judged, not one
		// minibatch's: a noisy last step is no collapse, flat epochs are.
		{"noisy last step, falling epochs", &train.Fitted{Steps: 100, Epochs: 10, FirstLoss: 1, FinalLoss: 1.2, FirstEpochLoss: 1, LastEpochLoss: 0.5}, mk(1), ""},
		{"flat epochs", &train.Fitted{Steps: 100, Epochs: 10, FirstLoss: 2, FinalLoss: 0.1, FirstEpochLoss: 1, LastEpochLoss: 0.995}, mk(1), "did not fall"},
		{"working", learned, mk(1), ""},
	} {
		why, err := collapsed(c.fitted, c.ev, data, true)
		if err != nil {
			t.Fatal(err)
		}
		if (c.want == "") != (why == "") || !strings.Contains(why, c.want) {
			t.Errorf("%s: %q, want %q", c.name, why, c.want)
		}
	}
}
