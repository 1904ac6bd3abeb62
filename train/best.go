package train

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BestBy selects the score by which Best keeps parameters.
type BestBy int

const (
	// BestNone keeps nothing: the result is the last step's parameters.
	BestNone BestBy = iota
	// BestLoss scores each step by its training loss, taken at the
	// parameters the step starts from (with full-batch training, the
	// training loss of those parameters).
	BestLoss
	// BestMetric scores each epoch by the metric an epoch hook sets
	// (State.EpochMetric, for instance Validation's), taken at the
	// parameters the epoch ends with.
	BestMetric
)

// Best keeps, while training, the parameters of the best score so far
// and restores them when training ends: the recipes of the paper select
// weights by training loss (LP) or by validation metric (deblurring). The
// zero value keeps nothing.
type Best struct {
	By BestBy
	// HigherIsBetter orients BestMetric; a loss is lower-better.
	HigherIsBetter bool
	// SpikeFactor, when positive (BestLoss only), treats a step whose
	// loss exceeds SpikeFactor × the best loss as a spike while the
	// learning rate is above SpikeMinLR: the best parameters are restored
	// (the step's update is discarded; the optimizer's moments are kept)
	// and the learning rate is multiplied by SpikeDecay from then on. The
	// authors' LP code uses 5, 0.99 and 1e-3.
	SpikeFactor, SpikeDecay, SpikeMinLR float64
}

func (b Best) validate() error {
	switch {
	case b.By < BestNone || b.By > BestMetric:
		return fmt.Errorf("train: Best.By %d is not a BestBy", b.By)
	case b.SpikeFactor < 0 || math.IsNaN(b.SpikeFactor):
		return fmt.Errorf("train: Best.SpikeFactor %v must be ≥ 0", b.SpikeFactor)
	case b.SpikeFactor > 0 && b.By != BestLoss:
		return fmt.Errorf("train: Best.SpikeFactor needs Best.By = BestLoss")
	case b.SpikeFactor > 0 && !(b.SpikeDecay > 0 && b.SpikeDecay <= 1):
		return fmt.Errorf("train: Best.SpikeDecay %v must be in (0, 1]", b.SpikeDecay)
	case b.SpikeMinLR < 0:
		return fmt.Errorf("train: Best.SpikeMinLR %v must be ≥ 0", b.SpikeMinLR)
	}
	return nil
}

// keeper is Best at work: the best parameters and score so far, the
// snapshot of the parameters a step starts from, and the rate's scale
// after spikes. Its state is checkpointed.
type keeper struct {
	cfg     Best
	best    []SavedTensor
	score   float64
	has     bool
	pre     []SavedTensor // the parameters before the current step (BestLoss)
	lrScale float64
	spikes  int
}

func newKeeper(cfg Best) *keeper { return &keeper{cfg: cfg, lrScale: 1} }

// better says whether v improves on the best score.
func (k *keeper) better(v float64) bool {
	if math.IsNaN(v) {
		return false
	}
	if !k.has {
		return true
	}
	if k.cfg.By == BestMetric && k.cfg.HigherIsBetter {
		return v > k.score
	}
	return v < k.score
}

// beforeStep snapshots the parameters a step starts from.
func (k *keeper) beforeStep(ps G.Nodes) {
	if k.cfg.By == BestLoss {
		k.pre = snapshotInto(k.pre, ps)
	}
}

// afterStep scores a step by its loss (at the parameters it started
// from): it keeps them when they are the best, or restores the best ones
// after a spike. It reports whether it restored.
func (k *keeper) afterStep(ps G.Nodes, loss, lr float64) bool {
	if k.cfg.By != BestLoss {
		return false
	}
	if k.better(loss) {
		k.best, k.pre = k.pre, k.best
		k.score, k.has = loss, true
		return false
	}
	if k.cfg.SpikeFactor > 0 && k.has && loss > k.cfg.SpikeFactor*k.score && lr > k.cfg.SpikeMinLR {
		writeParams(ps, k.best)
		k.lrScale *= k.cfg.SpikeDecay
		k.spikes++
		return true
	}
	return false
}

// afterEpoch scores an epoch by its metric (nil: the epoch set none).
func (k *keeper) afterEpoch(ps G.Nodes, metric *float64) {
	if k.cfg.By == BestMetric && metric != nil && k.better(*metric) {
		k.best = snapshotInto(k.best, ps)
		k.score, k.has = *metric, true
	}
}

// restore writes the best parameters into ps, if there are any.
func (k *keeper) restore(ps G.Nodes) bool {
	if !k.has {
		return false
	}
	writeParams(ps, k.best)
	return true
}

// snapshotInto copies the parameters' values into dst, reusing its
// buffers when they fit.
func snapshotInto(dst []SavedTensor, ps G.Nodes) []SavedTensor {
	if len(dst) != len(ps) {
		return saveParams(ps)
	}
	for i, p := range ps {
		v := p.Value().(tensor.Tensor)
		switch d := v.Data().(type) {
		case []float64:
			dst[i].Data = append(dst[i].Data[:0], d...)
		case []float32:
			dst[i].Data = dst[i].Data[:0]
			for _, x := range d {
				dst[i].Data = append(dst[i].Data, float64(x))
			}
		}
	}
	return dst
}

// writeParams copies saved values (of the same parameters) into ps.
func writeParams(ps G.Nodes, saved []SavedTensor) {
	for i, p := range ps {
		switch d := p.Value().(tensor.Tensor).Data().(type) {
		case []float64:
			copy(d, saved[i].Data)
		case []float32:
			for j, x := range saved[i].Data {
				d[j] = float32(x)
			}
		}
	}
}
