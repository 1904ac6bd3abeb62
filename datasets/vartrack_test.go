package datasets

import (
	"slices"
	"strings"
	"testing"
)

// varDepths recomputes, from a prompt's text alone, the depth of every
// queried variable (the number of copies between it and its literal) and
// the largest depth of any variable.
func varDepths(t *testing.T, prompt []int) ([]int, int) {
	t.Helper()
	depth, deepest := map[int]int{}, 0
	i := 0
	for ; prompt[i] != VarTrackQuery; i += 2 {
		if v := prompt[i+1]; isName(v) {
			depth[prompt[i]] = depth[v] + 1
		} else {
			depth[prompt[i]] = 0
		}
		deepest = max(deepest, depth[prompt[i]])
	}
	var out []int
	for _, q := range prompt[i+1 : len(prompt)-1] {
		out = append(out, depth[q])
	}
	return out, deepest
}

// TestVarTrackPrograms: every program is well-formed (each variable
// defined once, before its uses), its answers are the values of its
// queried variables, the recorded depths are the real ones and lie in the
// configured range (no variable deeper than MaxDepth), every depth of the
// range occurs, no two queries share a variable or an answer, and program
// k does not depend on how many programs were drawn.
func TestVarTrackPrograms(t *testing.T) {
	for _, cfg := range []VarTrackConfig{
		{},
		{Statements: 24, MinDepth: 6, MaxDepth: 10},
		{Statements: 5, Queries: 1, MinDepth: 4, MaxDepth: 4},
		{Statements: 8, Queries: 4, MaxDepth: 1},
	} {
		s, err := VarTrack(cfg, 300, 7)
		if err != nil {
			t.Fatal(err)
		}
		c := s.Config
		seen := map[int]bool{}
		for k, seq := range s.Tokens {
			if len(seq) != s.SeqLen() {
				t.Fatalf("%+v: sequence %d has %d tokens, want %d", c, k, len(seq), s.SeqLen())
			}
			ans, err := VarTrackAnswers(s.Prompt(k))
			if err != nil {
				t.Fatalf("%+v: sequence %d (%s): %v", c, k, VarTrackText(seq), err)
			}
			if !slices.Equal(ans, s.Answers(k)) {
				t.Fatalf("%+v: sequence %d answers %v, the program says %v", c, k, s.Answers(k), ans)
			}
			if d, deepest := varDepths(t, s.Prompt(k)); !slices.Equal(d, s.Depths[k]) || deepest > c.MaxDepth {
				t.Fatalf("%+v: sequence %d (%s): recorded depths %v, real %v, deepest variable %d", c, k, VarTrackText(seq), s.Depths[k], d, deepest)
			}
			qs, as := seq[2*c.Statements+1:s.PromptLen()-1], s.Answers(k)
			for i := range qs {
				if slices.Contains(qs[:i], qs[i]) || slices.Contains(as[:i], as[i]) {
					t.Fatalf("%+v: sequence %d (%s) repeats a query or an answer", c, k, VarTrackText(seq))
				}
			}
			for _, d := range s.Depths[k] {
				if d < c.MinDepth || d > c.MaxDepth {
					t.Fatalf("%+v: sequence %d has a query at depth %d", c, k, d)
				}
				seen[d] = true
			}
		}
		for d := c.MinDepth; d <= c.MaxDepth; d++ {
			if !seen[d] {
				t.Errorf("%+v: no query at depth %d in 300 programs", c, d)
			}
		}
		fewer, err := VarTrack(cfg, 10, 7)
		if err != nil {
			t.Fatal(err)
		}
		for k := range fewer.Tokens {
			if !slices.Equal(fewer.Tokens[k], s.Tokens[k]) {
				t.Fatalf("%+v: program %d depends on how many programs were drawn", c, k)
			}
		}
	}
}

// TestVarTrackSeeds: another seed, or another configuration with the same
// seed, draws other programs.
func TestVarTrackSeeds(t *testing.T) {
	a, _ := VarTrack(VarTrackConfig{}, 20, 1)
	b, _ := VarTrack(VarTrackConfig{}, 20, 2)
	c, _ := VarTrack(VarTrackConfig{MinDepth: 1}, 20, 1)
	same := func(x, y *VarTrackSet) int {
		n := 0
		for k := range x.Tokens {
			if slices.Equal(x.Tokens[k][:6], y.Tokens[k][:6]) {
				n++
			}
		}
		return n
	}
	if n := same(a, b); n > 1 {
		t.Errorf("seeds 1 and 2 share %d of 20 program openings", n)
	}
	if n := same(a, c); n > 1 {
		t.Errorf("two configurations share %d of 20 program openings under one seed", n)
	}
}

// TestVarTrackSample: the input is the sequence without its last token;
// the target is one-hot on the next token at the positions that predict
// an answer, and zero everywhere else.
func TestVarTrackSample(t *testing.T) {
	s, err := VarTrack(VarTrackConfig{Statements: 8, Queries: 2, MaxDepth: 3}, 5, 3)
	if err != nil {
		t.Fatal(err)
	}
	if s.Length() != 21 || s.PromptLen() != 20 || !slices.Equal(s.TargetShape(), []int{21, VarTrackVocab}) {
		t.Fatalf("length %d, prompt %d, target shape %v", s.Length(), s.PromptLen(), s.TargetShape())
	}
	x, y := make([]float32, s.Length()), make([]float32, s.Length()*VarTrackVocab)
	for k := range s.Len() {
		s.Sample(k, x, y)
		seq := s.Tokens[k]
		for i := range s.Length() {
			if x[i] != float32(seq[i]) {
				t.Fatalf("sequence %d: input %d is %v, want %d", k, i, x[i], seq[i])
			}
			var mass float32
			for v := range VarTrackVocab {
				mass += y[i*VarTrackVocab+v]
			}
			answer := i+1 >= s.PromptLen()
			if answer && y[i*VarTrackVocab+seq[i+1]] != 1 || mass != map[bool]float32{true: 1, false: 0}[answer] {
				t.Fatalf("sequence %d position %d: target mass %v (answer position: %v)", k, i, mass, answer)
			}
		}
	}
}

// TestVarTrackAnnotate: with Annotate the target at each statement's value
// token is the value of the variable it defines (what VarTrackAnswers
// says when that variable is queried); the answers' targets stay.
func TestVarTrackAnnotate(t *testing.T) {
	s, err := VarTrack(VarTrackConfig{Statements: 8, Queries: 2, MaxDepth: 3}, 20, 5)
	if err != nil {
		t.Fatal(err)
	}
	plain := make([]float32, s.Length()*VarTrackVocab)
	x, y := make([]float32, s.Length()), make([]float32, len(plain))
	n := s.Config.Statements
	for k := range s.Len() {
		s.Annotate = false
		s.Sample(k, x, plain)
		s.Annotate = true
		s.Sample(k, x, y)
		seq := s.Tokens[k]
		for i := range n {
			q := append(append(slices.Clone(seq[:2*n]), VarTrackQuery, seq[2*i]), VarTrackAnswer)
			want, err := VarTrackAnswers(q)
			if err != nil {
				t.Fatal(err)
			}
			row := y[(2*i+1)*VarTrackVocab : (2*i+2)*VarTrackVocab]
			if row[want[0]] != 1 || slices.Max(row) != 1 || sum(row) != 1 {
				t.Fatalf("sequence %d (%s): statement %d labelled %v, its variable is %d", k, VarTrackText(seq), i, row, want[0])
			}
			if sum(plain[(2*i+1)*VarTrackVocab:(2*i+2)*VarTrackVocab]) != 0 {
				t.Fatalf("sequence %d: statement %d labelled without Annotate", k, i)
			}
		}
		answers := (s.PromptLen() - 1) * VarTrackVocab
		if !slices.Equal(y[answers:], plain[answers:]) || sum(y[2*n*VarTrackVocab:answers]) != 0 {
			t.Fatalf("sequence %d: Annotate changed the answers' targets or labelled the queries", k)
		}
	}
}

func sum(v []float32) float32 {
	var s float32
	for _, x := range v {
		s += x
	}
	return s
}

// TestVarTrackConfigErrors: impossible configurations are errors that
// say why.
func TestVarTrackConfigErrors(t *testing.T) {
	for _, c := range []struct {
		cfg  VarTrackConfig
		want string
	}{
		{VarTrackConfig{Statements: 27}, "1 to 26 statements"},
		{VarTrackConfig{Statements: 4, Queries: 5}, "at least 25 statements"},
		{VarTrackConfig{Queries: 11}, "1 to 10 queries"},
		{VarTrackConfig{MinDepth: 5, MaxDepth: 3}, "MinDepth ≤ MaxDepth"},
		{VarTrackConfig{Statements: 20, Queries: 3, MaxDepth: 6}, "at least 21 statements"},
	} {
		if _, err := VarTrack(c.cfg, 1, 1); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one saying %q", c.cfg, err, c.want)
		}
	}
	if _, err := VarTrack(VarTrackConfig{}, -1, 1); err == nil {
		t.Error("n = −1: no error")
	}
}

// TestVarTrackAnswersRejects: malformed prompts are errors, never panics
// or made-up answers.
func TestVarTrackAnswersRejects(t *testing.T) {
	a, b, c := varName, varName+1, varName+2
	for _, p := range [][]int{
		{a, 5, b, a, VarTrackQuery, b, VarTrackAnswer}, // fine
		{a, b, b, 5, VarTrackQuery, a, VarTrackAnswer}, // b used before it is defined
		{a, 5, a, 6, VarTrackQuery, a, VarTrackAnswer}, // a defined twice
		{a, 5, VarTrackQuery, c, VarTrackAnswer},       // c queried, never defined
		{a, 5, b, a},                                   // no queries
		{a, 5, VarTrackQuery, a},                       // no ":"
		{5, 5, VarTrackQuery, a, VarTrackAnswer},       // a digit where a variable is defined
		{a, 5, c, VarTrackAnswer, VarTrackQuery, a, VarTrackAnswer},
	} {
		ans, err := VarTrackAnswers(p)
		if fine := slices.Equal(p, []int{a, 5, b, a, VarTrackQuery, b, VarTrackAnswer}); fine != (err == nil) {
			t.Errorf("%s: answers %v, error %v", VarTrackText(p), ans, err)
		} else if fine && !slices.Equal(ans, []int{5}) {
			t.Errorf("%s: answers %v, want [5]", VarTrackText(p), ans)
		}
	}
}

// TestVarTrackPairs: the two prompts of a pair differ in exactly one
// token, both are well-formed, their answers are the programs', and the
// changes reach values, copies and queries alike.
func TestVarTrackPairs(t *testing.T) {
	s, err := VarTrack(VarTrackConfig{}, 50, 9)
	if err != nil {
		t.Fatal(err)
	}
	pairs, err := s.Pairs(300, 4)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for j, p := range pairs {
		diff := 0
		for i := range p.A {
			if p.A[i] != p.B[i] {
				diff++
			}
		}
		if diff != 1 || p.A[p.Position] == p.B[p.Position] {
			t.Fatalf("pair %d differs in %d tokens (position %d)", j, diff, p.Position)
		}
		if !slices.Equal(p.A, s.Prompt(j%s.Len())) {
			t.Fatalf("pair %d: A is not the prompt of sequence %d", j, j%s.Len())
		}
		for _, side := range []struct {
			prompt, answers []int
		}{{p.A, p.AnswersA}, {p.B, p.AnswersB}} {
			if ans, err := VarTrackAnswers(side.prompt); err != nil || !slices.Equal(ans, side.answers) {
				t.Fatalf("pair %d: %s: answers %v, recorded %v (%v)", j, VarTrackText(side.prompt), ans, side.answers, err)
			}
		}
		switch old := p.A[p.Position]; {
		case p.Position > 2*s.Config.Statements:
			kinds["query"]++
		case old < 10:
			kinds["literal"]++
		default:
			kinds["copy"]++
		}
	}
	if len(kinds) != 3 || kinds["query"] < 20 || kinds["literal"] < 20 || kinds["copy"] < 20 {
		t.Errorf("changes by kind: %v", kinds)
	}
	again, _ := s.Pairs(300, 4)
	if !slices.Equal(again[17].B, pairs[17].B) {
		t.Error("Pairs is not a function of its seed")
	}
}
