package experiments

import (
	"math"
	"slices"
	"testing"

	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/train"
)

// TestLevenshtein: edit distances of token sequences, insertions,
// deletions and substitutions alike.
func TestLevenshtein(t *testing.T) {
	for _, c := range []struct {
		a, b []int
		want int
	}{
		{nil, nil, 0},
		{[]int{1, 2, 3}, nil, 3},
		{nil, []int{4}, 1},
		{[]int{1, 2, 3}, []int{1, 2, 3}, 0},
		{[]int{1, 2, 3}, []int{1, 9, 3}, 1},
		{[]int{1, 2, 3}, []int{2, 3}, 1},
		{[]int{1, 2, 3}, []int{3, 2, 1}, 2},
		{[]int{7, 1, 2, 3}, []int{1, 2, 3, 7}, 2},
	} {
		if got := levenshtein(c.a, c.b); got != c.want {
			t.Errorf("levenshtein(%v, %v) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := levenshtein(c.b, c.a); got != c.want {
			t.Errorf("levenshtein(%v, %v) = %d, want %d (not symmetric)", c.b, c.a, got, c.want)
		}
	}
}

// TestLipschitzRatio: the ratio is the mean of output over input
// distances, skipping pairs whose prompts are equal; the true answers'
// ratio counts the answers that change.
func TestLipschitzRatio(t *testing.T) {
	pairs := []datasets.VarTrackPair{
		{A: []int{1, 2}, B: []int{1, 3}, AnswersA: []int{5, 6}, AnswersB: []int{5, 7}},
		{A: []int{1, 2}, B: []int{4, 3}, AnswersA: []int{5, 6}, AnswersB: []int{5, 6}},
		{A: []int{1, 2}, B: []int{1, 2}, AnswersA: []int{5, 6}, AnswersB: []int{8, 9}},
	}
	got, err := lipschitzRatio(pairs, [][]int{{1, 1}, {2, 2}, {0, 0}}, [][]int{{2, 2}, {2, 3}, {9, 9}})
	if want := (2.0/1 + 1.0/2) / 2; err != nil || math.Abs(got-want) > 1e-15 {
		t.Errorf("ratio %v (%v), want %v", got, err, want)
	}
	if o, err := oracleLipschitz(pairs); err != nil || o != 0.5 {
		t.Errorf("oracle ratio %v (%v), want 0.5", o, err)
	}
	if _, err := lipschitzRatio(pairs[2:], [][]int{{0}}, [][]int{{1}}); err == nil {
		t.Error("pairs of equal prompts only: no error")
	}
}

// recurrentTestSettings are small settings for tests of the models.
func recurrentTestSettings() (Settings, recurrentSizes) {
	sz := recurrentSizesFor(true)
	return Settings{Hidden: 16, Dtype: tensor.Float32, Solver: deq.Anderson{}, Stop: deq.Stop{Tol: 1e-3, MaxIter: 20}}, sz
}

// TestRecurrentDrawsPerBatch: the training graph's core iterates a
// recurrence drawn from the batch's sample indices — the same batch, the
// same r; r in [Backprop, Max] — and its layer runs r − Backprop + 1
// iterations (the rest are in the graph).
func TestRecurrentDrawsPerBatch(t *testing.T) {
	s, sz := recurrentTestSettings()
	sz.meanR, sz.maxR = 6, 9
	data, err := datasets.VarTrack(sz.train, 40, 1)
	if err != nil {
		t.Fatal(err)
	}
	m := newRecurrentModel(s, sz, data.Length())
	sess, err := train.NewSession(m, 4, train.OptimizerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	layer := m.Scope().Implicits()[0]
	iters := func(idx []int) int {
		sess.Net().SetSampleIDs(idx)
		return layer.Controls().Iterations + sz.backprop - 1
	}
	seen := map[int]bool{}
	for b := range 30 {
		idx := []int{b, b + 1, (3 * b) % 40, 39 - b}
		r := iters(idx)
		if r < sz.backprop || r > sz.maxR {
			t.Fatalf("batch %v: r = %d outside [%d, %d]", idx, r, sz.backprop, sz.maxR)
		}
		if again := iters(slices.Clone(idx)); again != r {
			t.Fatalf("batch %v drew r = %d, then %d", idx, r, again)
		}
		seen[r] = true
	}
	if len(seen) < 3 {
		t.Errorf("30 batches drew only the recurrences %v", seen)
	}
	if _, err := sess.Step(data, []int{0, 1, 2, 3}); err != nil {
		t.Fatal(err)
	}
}

// TestDecoderIsGreedy: each decoded token is the argmax of the model's
// logits at the last filled position when the tokens decoded before it
// are fed back, which the decoder's batched run must reproduce for every
// prompt of a batch (also a partial one).
func TestDecoderIsGreedy(t *testing.T) {
	s, sz := recurrentTestSettings()
	data, err := datasets.VarTrack(sz.train, 7, 2)
	if err != nil {
		t.Fatal(err)
	}
	n := newTransformer(s, sz, data.Length(), 2, "tf", "")
	ev, err := train.NewEvaluator(n, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Close()
	d := decoder{ev: ev, seqLen: data.Length(), vocab: sz.vocab}
	var prompts [][]int
	for k := range data.Len() {
		prompts = append(prompts, data.Prompt(k))
	}
	got, err := d.complete(prompts, 2)
	if err != nil {
		t.Fatal(err)
	}
	for k, p := range prompts {
		x := make([]float32, data.Length())
		for i, tok := range p {
			x[i] = float32(tok)
		}
		for step := range 2 {
			logits, err := ev.Predict32(x, 1)
			if err != nil {
				t.Fatal(err)
			}
			pos := len(p) - 1 + step
			tok := argmax32(logits[pos*sz.vocab : (pos+1)*sz.vocab])
			if tok != got[k][step] {
				t.Fatalf("prompt %d, token %d: decoder says %d, one-by-one greedy %d", k, step, got[k][step], tok)
			}
			if pos+1 < len(x) {
				x[pos+1] = float32(tok)
			}
		}
	}
	if _, err := d.complete([][]int{prompts[0], prompts[1][:3]}, 2); err == nil {
		t.Error("prompts of different lengths in one batch: no error")
	}
}

// TestAnswersTeacherForced: a sample scores 1 only when the argmax at
// every position with a target is that target; positions without one
// (zero rows) are ignored whatever the model says there.
func TestAnswersTeacherForced(t *testing.T) {
	v := datasets.VarTrackVocab
	target, out := make([]float32, 3*v), make([]float32, 3*v)
	target[0*v+4], target[2*v+7] = 1, 1
	out[0*v+4], out[1*v+9], out[2*v+7] = 1, 1, 1
	score := answersTeacherForced().Sample
	if got := score(out, target); got != 1 {
		t.Errorf("every answer right: score %v, want 1", got)
	}
	out[2*v+7], out[2*v+8] = 0, 1
	if got := score(out, target); got != 0 {
		t.Errorf("the last answer wrong: score %v, want 0", got)
	}
}
