package datasets

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// VarTrackPair is two prompts that differ in one token, with their
// answers: the probe of a discrete Lipschitz ratio (how far the answers
// move when the prompt moves by one token).
type VarTrackPair struct {
	A, B               []int
	AnswersA, AnswersB []int
	// Position is the index of the token that differs.
	Position int
}

// Pairs draws n prompt pairs: pair j takes the prompt of sequence j mod
// Len() and changes one token, chosen uniformly among those whose change
// leaves a well-formed program: a literal to another digit, a copied
// variable to another variable defined before the statement, or a queried
// variable to another defined one not queried yet. The pairs are a
// function of (the set, seed, j).
func (s *VarTrackSet) Pairs(n int, seed uint64) ([]VarTrackPair, error) {
	if s.Len() == 0 || n < 0 {
		return nil, fmt.Errorf("datasets: Pairs needs a non-empty set and n ≥ 0, got %d sequences and n = %d", s.Len(), n)
	}
	out := make([]VarTrackPair, n)
	for j := range out {
		rng := rand.New(rand.NewPCG(seed, pairStream+uint64(j)))
		a := s.Prompt(j % s.Len())
		b, pos := perturbPrompt(rng, a, s.Config.Statements)
		ansA, err := VarTrackAnswers(a)
		if err != nil {
			return nil, err
		}
		ansB, err := VarTrackAnswers(b)
		if err != nil {
			return nil, fmt.Errorf("datasets: pair %d: the changed prompt is malformed: %w", j, err)
		}
		out[j] = VarTrackPair{A: slices.Clone(a), B: b, AnswersA: ansA, AnswersB: ansB, Position: pos}
	}
	return out, nil
}

// perturbPrompt returns a copy of prompt (of a program of n statements)
// with one token changed, and its position.
func perturbPrompt(rng *rand.Rand, prompt []int, n int) ([]int, int) {
	b := slices.Clone(prompt)
	queries := prompt[2*n+1 : len(prompt)-1]
	for {
		pos := 1 + 2*rng.IntN(n) // a statement's value
		if rng.IntN(n+len(queries)) >= n {
			pos = 2*n + 1 + rng.IntN(len(queries)) // a query
		}
		var choices []int
		switch {
		case pos > 2*n:
			for i := 0; i < 2*n; i += 2 {
				if u := prompt[i]; !slices.Contains(queries, u) {
					choices = append(choices, u)
				}
			}
		case prompt[pos] < 10:
			for d := range 10 {
				if d != prompt[pos] {
					choices = append(choices, d)
				}
			}
		default:
			for i := 0; i < pos-1; i += 2 {
				if u := prompt[i]; u != prompt[pos] {
					choices = append(choices, u)
				}
			}
		}
		if len(choices) > 0 {
			b[pos] = choices[rng.IntN(len(choices))]
			return b, pos
		}
	}
}

// pairStream is the second word of the PCG seeds of the pairs ("pair" in
// ASCII), so that they do not share a stream with the programs.
const pairStream = 0x70616972 << 16
