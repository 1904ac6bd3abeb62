package experiments

import (
	"fmt"
	"math"

	"github.com/implicit-ml/implicit/train"
)

// collapseCheck bounds what counts as a collapsed training run.
const (
	// collapseMinSteps: shorter runs are not judged on their loss.
	collapseMinSteps = 20
	// collapseLossRatio: a final loss at or above this fraction of the
	// first one means the loss did not fall.
	collapseLossRatio = 0.99
	// collapseSamples are the test inputs whose outputs are compared.
	collapseSamples = 64
	// collapseSpread: outputs whose spread over those inputs is below this
	// fraction of their size are the same for every input.
	collapseSpread = 1e-6
)

// collapsed says why a trained model looks collapsed — its loss did not
// fall, or its outputs are the same for every input (a constant map, as
// a run at a far too large learning rate leaves) — or "" when it does
// not. It runs ev on the first test samples. A run that continues an
// earlier phase of training (judgeLoss false) is not judged on its loss,
// which may rightly start near its floor.
func collapsed(fitted *train.Fitted, ev *train.Evaluator, test train.Dataset, judgeLoss bool) (string, error) {
	first, last, what := fitted.FirstEpochLoss, fitted.LastEpochLoss, "epoch"
	if fitted.Epochs < 2 { // one epoch: its first and last steps
		first, last, what = fitted.FirstLoss, fitted.FinalLoss, "step"
	}
	if judgeLoss && fitted.Steps >= collapseMinSteps && first > 0 && last >= collapseLossRatio*first {
		return fmt.Sprintf("its loss did not fall (mean %.4g in the first %s, %.4g in the last)", first, what, last), nil
	}
	n := min(collapseSamples, test.Len())
	if n < 2 {
		return "", nil
	}
	in, out := product(test.InputShape()), product(test.TargetShape())
	x, y := make([]float32, n*in), make([]float32, out)
	for i := range n {
		test.Sample(i, x[i*in:(i+1)*in], y)
	}
	pred, err := ev.Predict32(x, n)
	if err != nil {
		return "", err
	}
	per := len(pred) / n
	spread, size := 0.0, 0.0
	for j := range per {
		lo, hi := math.Inf(1), math.Inf(-1)
		for i := range n {
			v := float64(pred[i*per+j])
			lo, hi = math.Min(lo, v), math.Max(hi, v)
			size = math.Max(size, math.Abs(v))
		}
		spread = math.Max(spread, hi-lo)
	}
	if spread <= collapseSpread*(1+size) {
		return fmt.Sprintf("its outputs are the same for every input (spread %.3g over %d test samples)", spread, n), nil
	}
	return "", nil
}

func product(shape []int) int {
	p := 1
	for _, d := range shape {
		p *= d
	}
	return p
}
