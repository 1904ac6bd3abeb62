package experiments

import (
	"fmt"
	"slices"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/train"
)

// recurrentData are a run's programs and prompt pairs: the training set,
// test sets like it ("train") and deeper ("harder"), a validation set of
// deeper programs (it picks the recurrent model's reported r), and the
// Lipschitz pairs drawn from each test set.
type recurrentData struct {
	train, test, harder, val *datasets.VarTrackSet
	pairs, harderPairs       []datasets.VarTrackPair
}

// Seed offsets of the evaluation sets: each set is its own stream of
// the run's seed.
const (
	recurrentTestSeed = 1000
	recurrentValSeed  = 2000
)

func newRecurrentData(sz recurrentSizes, seed uint64) (*recurrentData, error) {
	d := &recurrentData{}
	var err error
	if d.train, err = datasets.VarTrack(sz.train, sz.trainN, seed); err != nil {
		return nil, err
	}
	d.train.Annotate = true
	if d.test, err = datasets.VarTrack(sz.train, sz.testN, seed+recurrentTestSeed); err != nil {
		return nil, err
	}
	if d.harder, err = datasets.VarTrack(sz.harder, sz.testN, seed+recurrentTestSeed); err != nil {
		return nil, err
	}
	if d.val, err = datasets.VarTrack(sz.harder, sz.testN, seed+recurrentValSeed); err != nil {
		return nil, err
	}
	if d.train.Length() != d.harder.Length() {
		return nil, fmt.Errorf("experiments: training and harder programs differ in length (%d and %d tokens)", d.train.Length(), d.harder.Length())
	}
	if d.pairs, err = d.test.Pairs(sz.pairs, seed); err != nil {
		return nil, err
	}
	d.harderPairs, err = d.harder.Pairs(sz.pairs, seed)
	return d, err
}

func (d *recurrentData) describe() string {
	c, h := d.train.Config, d.harder.Config
	return fmt.Sprintf("variable tracking, %d statements and %d queries (%d tokens): trained at depth %d-%d, harder at %d-%d",
		c.Statements, c.Queries, d.train.SeqLen(), c.MinDepth, c.MaxDepth, h.MinDepth, h.MaxDepth)
}

// answersTeacherForced scores 1 when the argmax at every answer position
// (the positions whose target is not zero) is the answer, each answer
// predicted from the true ones before it. The reported figures decode
// greedily instead (recurrentEval); this is the comparison's metric for
// the evaluations the runner makes on its own.
func answersTeacherForced() train.Metric {
	return train.Metric{Name: "exact match, greedy (harder programs)", HigherIsBetter: true, Sample: func(out, target []float32) float64 {
		v := datasets.VarTrackVocab
		for p := 0; p+v <= len(target); p += v {
			if t := argmax32(target[p : p+v]); target[p+t] != 0 && argmax32(out[p:p+v]) != t {
				return 0
			}
		}
		return 1
	}}
}

// argmax32 is the index of the largest entry (the first of ties; 0 when
// a NaN hides it).
func argmax32(v []float32) int { return max(slices.Index(v, slices.Max(v)), 0) }
