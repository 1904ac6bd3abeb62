package datasets

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
)

// VarTrackConfig describes variable-tracking programs: Statements
// single assignments in an order where every variable is defined before
// it is used, each either a literal ("b=7") or a copy of an earlier
// variable ("c=b"), then Queries variables whose values are asked for.
// Each queried variable ends a chain of its own — a literal, then copies
// of copies — and the chains' literals differ, so the answers differ and
// no answer can be told from another. A queried variable at depth d is d
// copies away from its literal: answering it takes d hops through the
// program, so the task's difficulty is the depth range, not the length.
// The other statements are distractors: literals, and copies of earlier
// variables no deeper than MaxDepth allows. Every field's zero value is
// the documented default.
type VarTrackConfig struct {
	// Statements is the number of assignments; zero means 20, at most
	// 26 (one letter per variable).
	Statements int
	// Queries is the number of variables asked for; zero means 2, at
	// most 10 (one digit per chain).
	Queries int
	// MinDepth and MaxDepth bound the depth of every queried variable,
	// and MaxDepth that of every variable; a zero MaxDepth means 4.
	MinDepth, MaxDepth int
}

// resolved fills in the defaults and checks that the programs exist.
func (c VarTrackConfig) resolved() (VarTrackConfig, error) {
	if c.Statements == 0 {
		c.Statements = 20
	}
	if c.Queries == 0 {
		c.Queries = 2
	}
	if c.MaxDepth == 0 {
		c.MaxDepth = 4
	}
	switch {
	case c.Statements < 1 || c.Statements > varLetters:
		return c, fmt.Errorf("datasets: VarTrack needs 1 to %d statements, got %d", varLetters, c.Statements)
	case c.Queries < 1 || c.Queries > 10:
		return c, fmt.Errorf("datasets: VarTrack needs 1 to 10 queries, got %d", c.Queries)
	case c.MinDepth < 0 || c.MaxDepth < c.MinDepth:
		return c, fmt.Errorf("datasets: VarTrack needs 0 ≤ MinDepth ≤ MaxDepth, got %d and %d", c.MinDepth, c.MaxDepth)
	case c.Queries*(c.MaxDepth+1) > c.Statements:
		return c, fmt.Errorf("datasets: VarTrack with %d queries up to depth %d needs at least %d statements (a chain of %d per query), got %d",
			c.Queries, c.MaxDepth, c.Queries*(c.MaxDepth+1), c.MaxDepth+1, c.Statements)
	}
	return c, nil
}

// VarTrackSet is a set of variable-tracking programs as token sequences
// (see VarTrackVocab for the tokens):
//
//	a 5  c a  b 3  d c  ?  d  b  :  5  3
//
// that is "a=5; c=a; b=3; d=c; ?d b: 5 3" — the program (two tokens per
// statement: the variable it defines, then a digit or a variable), "?",
// the queried variables, ":", and one digit per query, the answers. The
// prompt is everything up to ":"; the completion is the answers.
//
// As a train.Dataset (next-token prediction): the input is the sequence
// without its last token, Length() ids as floats; the target is (Length(),
// VarTrackVocab) one-hot at the positions that predict an answer and zero
// elsewhere, so a cross-entropy that drops zero rows trains on the
// answers only. With Annotate the target also labels the value token of
// every statement with the value of the variable it defines — a label
// the input never shows (the next token there is the next statement's
// variable, which nothing predicts): every statement then teaches the
// hops its variable needs, not only the queried ones.
type VarTrackSet struct {
	Config VarTrackConfig
	// Annotate adds the statements' values to the targets.
	Annotate bool
	// Tokens holds N sequences of SeqLen() tokens; Depths the depth of
	// each sequence's queried variables, in query order.
	Tokens [][]int
	Depths [][]int
}

// VarTrack draws n programs; program k is a function of (cfg, seed, k)
// only, so sets of different sizes share their first programs.
func VarTrack(cfg VarTrackConfig, n int, seed uint64) (*VarTrackSet, error) {
	c, err := cfg.resolved()
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, fmt.Errorf("datasets: VarTrack needs n ≥ 0, got %d", n)
	}
	s := &VarTrackSet{Config: c, Tokens: make([][]int, n), Depths: make([][]int, n)}
	stream := c.hash()
	for k := range n {
		rng := rand.New(rand.NewPCG(seed^stream, uint64(k)))
		if s.Tokens[k], s.Depths[k], err = newProgram(rng, c).write(rng); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// hash mixes the configuration into the seed, so that two configurations
// drawn with one seed do not share their random streams.
func (c VarTrackConfig) hash() uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "vartrack/%d/%d/%d/%d", c.Statements, c.Queries, c.MinDepth, c.MaxDepth)
	return h.Sum64()
}

// SeqLen is the length of a whole sequence: two tokens per statement,
// "?", the queries, ":" and the answers.
func (s *VarTrackSet) SeqLen() int { return 2*s.Config.Statements + 2*s.Config.Queries + 2 }

// PromptLen is the length of the prompt (through ":").
func (s *VarTrackSet) PromptLen() int { return s.SeqLen() - s.Config.Queries }

// Length is the model's input length, SeqLen()−1.
func (s *VarTrackSet) Length() int { return s.SeqLen() - 1 }

// Len implements train.Dataset.
func (s *VarTrackSet) Len() int { return len(s.Tokens) }

// InputShape implements train.Dataset: Length() token ids.
func (s *VarTrackSet) InputShape() []int { return []int{s.Length()} }

// TargetShape implements train.Dataset: (Length(), VarTrackVocab).
func (s *VarTrackSet) TargetShape() []int { return []int{s.Length(), VarTrackVocab} }

// Sample implements train.Dataset.
func (s *VarTrackSet) Sample(k int, x, y []float32) {
	seq := s.Tokens[k]
	for i := range s.Length() {
		x[i] = float32(seq[i])
	}
	clear(y)
	for p := s.PromptLen() - 1; p < s.Length(); p++ {
		y[p*VarTrackVocab+seq[p+1]] = 1
	}
	if s.Annotate {
		for i, v := range statementValues(seq[:2*s.Config.Statements]) {
			y[(2*i+1)*VarTrackVocab+v] = 1
		}
	}
}

// statementValues returns the value of the variable each statement of a
// well-formed program defines.
func statementValues(program []int) []int {
	value := map[int]int{}
	out := make([]int, 0, len(program)/2)
	for i := 0; i+1 < len(program); i += 2 {
		v := program[i+1]
		if isName(v) {
			v = value[v]
		}
		value[program[i]] = v
		out = append(out, v)
	}
	return out
}

// Answers returns sequence k's answers (its completion).
func (s *VarTrackSet) Answers(k int) []int { return s.Tokens[k][s.PromptLen():] }

// Prompt returns sequence k's prompt.
func (s *VarTrackSet) Prompt(k int) []int { return s.Tokens[k][:s.PromptLen()] }
