package experiments

import (
	"fmt"
	"slices"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/train"
)

// decoder completes prompts greedily with a model's inference graph: the
// model reads the whole input row (the prompt, then the tokens decoded so
// far, then filler that causal attention never lets an earlier position
// see) and the next token is the argmax of the logits at the last filled
// position.
type decoder struct {
	ev            *train.Evaluator
	seqLen, vocab int
}

// complete returns n tokens decoded after each prompt (all prompts of
// one length).
func (d decoder) complete(prompts [][]int, n int) ([][]int, error) {
	if len(prompts) == 0 {
		return nil, nil
	}
	p := len(prompts[0])
	if p < 1 || p+n-1 > d.seqLen {
		return nil, fmt.Errorf("experiments: decoding %d tokens after a %d-token prompt needs an input of %d tokens, the model takes %d", n, p, p+n-1, d.seqLen)
	}
	x := make([]float32, len(prompts)*d.seqLen)
	for i, pr := range prompts {
		if len(pr) != p {
			return nil, fmt.Errorf("experiments: prompts of %d and %d tokens in one batch", p, len(pr))
		}
		for j, tok := range pr {
			x[i*d.seqLen+j] = float32(tok)
		}
	}
	out := make([][]int, len(prompts))
	for step := range n {
		logits, err := d.ev.Predict32(x, len(prompts))
		if err != nil {
			return nil, err
		}
		per := d.seqLen * d.vocab
		for i := range prompts {
			row := (p - 1 + step) * d.vocab
			tok := argmax32(logits[i*per+row : i*per+row+d.vocab])
			out[i] = append(out[i], tok)
			if p+step < d.seqLen {
				x[i*d.seqLen+p+step] = float32(tok)
			}
		}
	}
	return out, nil
}

// completeSet decodes the answers of every program of s.
func (d decoder) completeSet(s *datasets.VarTrackSet) ([][]int, error) {
	prompts := make([][]int, s.Len())
	for k := range prompts {
		prompts[k] = s.Prompt(k)
	}
	return d.complete(prompts, s.Config.Queries)
}

// exactMatch is the fraction of the programs of s whose completion is
// their answers.
func exactMatch(s *datasets.VarTrackSet, completions [][]int) float64 {
	right := 0
	for k, c := range completions {
		if slices.Equal(c, s.Answers(k)) {
			right++
		}
	}
	return float64(right) / float64(len(completions))
}

// lipschitz is the discrete Lipschitz ratio over pairs drawn from s
// (datasets.VarTrackSet.Pairs: pair j's prompt A is that of program
// j mod s.Len(), whose completion is given): prompts B are decoded.
func (d decoder) lipschitz(s *datasets.VarTrackSet, completions [][]int, pairs []datasets.VarTrackPair) (float64, error) {
	ca, bs := make([][]int, len(pairs)), make([][]int, len(pairs))
	for j, p := range pairs {
		ca[j], bs[j] = completions[j%len(completions)], p.B
	}
	cb, err := d.complete(bs, s.Config.Queries)
	if err != nil {
		return 0, err
	}
	return lipschitzRatio(pairs, ca, cb)
}

// lipschitzRatio is the mean over pairs of the completions' distance over
// the prompts' (pairs of equal prompts are skipped, as in the paper's
// script).
func lipschitzRatio(pairs []datasets.VarTrackPair, ca, cb [][]int) (float64, error) {
	sum, n := 0.0, 0
	for i, p := range pairs {
		in := levenshtein(p.A, p.B)
		if in == 0 {
			continue
		}
		sum += float64(levenshtein(ca[i], cb[i])) / float64(in)
		n++
	}
	if n == 0 {
		return 0, fmt.Errorf("experiments: no prompt pair differs")
	}
	return sum / float64(n), nil
}

// oracleLipschitz is the ratio of the true answers.
func oracleLipschitz(pairs []datasets.VarTrackPair) (float64, error) {
	var ca, cb [][]int
	for _, p := range pairs {
		ca, cb = append(ca, p.AnswersA), append(cb, p.AnswersB)
	}
	return lipschitzRatio(pairs, ca, cb)
}

// levenshtein is the edit distance between two token sequences
// (insertions, deletions and substitutions of one token cost 1).
func levenshtein(a, b []int) int {
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
