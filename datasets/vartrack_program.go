package datasets

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// program is a variable-tracking program before it is written out: a
// forest of statements, each a literal (parent −1, its digit in value) or
// a copy of its parent, and the statements whose variables are queried.
type program struct {
	parent, depth, value []int
	targets              []int
}

// newProgram builds one chain per query — a literal, then copies down to
// the query's depth — with distinct literals, so that no two queries
// share an answer, then fills the rest with distractors: literals (two in
// three) and copies of any earlier statement shallower than MaxDepth.
func newProgram(rng *rand.Rand, c VarTrackConfig) *program {
	p := &program{}
	roots := rng.Perm(10)
	for q := range c.Queries {
		d := c.MinDepth + rng.IntN(c.MaxDepth-c.MinDepth+1)
		p.targets = append(p.targets, p.chain(p.add(-1, roots[q]), d))
	}
	var sources []int
	for i, d := range p.depth {
		if d < c.MaxDepth {
			sources = append(sources, i)
		}
	}
	for len(p.parent) < c.Statements {
		if rng.IntN(3) > 0 || len(sources) == 0 {
			sources = append(sources, p.add(-1, rng.IntN(10)))
			continue
		}
		if i := p.add(sources[rng.IntN(len(sources))], 0); p.depth[i] < c.MaxDepth {
			sources = append(sources, i)
		}
	}
	return p
}

// add appends a statement copying parent, or the literal digit when
// parent is −1, and returns it.
func (p *program) add(parent, digit int) int {
	d := 0
	if parent >= 0 {
		d, digit = p.depth[parent]+1, 0
	}
	p.parent, p.depth, p.value = append(p.parent, parent), append(p.depth, d), append(p.value, digit)
	return len(p.parent) - 1
}

// chain extends statement from with copies until depth d and returns the
// last one.
func (p *program) chain(from, d int) int {
	for p.depth[from] < d {
		from = p.add(from, 0)
	}
	return from
}

// order returns the statements in a random order in which every
// statement comes after its parent.
func (p *program) order(rng *rand.Rand) []int {
	placed := make([]bool, len(p.parent))
	var out, ready []int
	for i, par := range p.parent {
		if par < 0 {
			ready = append(ready, i)
		}
	}
	for len(ready) > 0 {
		j := rng.IntN(len(ready))
		i := ready[j]
		ready = slices.Delete(ready, j, j+1)
		placed[i] = true
		out = append(out, i)
		for c, par := range p.parent {
			if par == i && !placed[c] {
				ready = append(ready, c)
			}
		}
	}
	return out
}

// write draws the names, the literals and the query order and returns the
// token sequence with the depths of the queried variables in query order.
func (p *program) write(rng *rand.Rand) (tokens, depths []int, err error) {
	names := rng.Perm(varLetters)
	for _, i := range p.order(rng) {
		tokens = append(tokens, varName+names[i])
		if p.parent[i] < 0 {
			tokens = append(tokens, p.value[i])
		} else {
			tokens = append(tokens, varName+names[p.parent[i]])
		}
	}
	tokens = append(tokens, VarTrackQuery)
	qs := slices.Clone(p.targets)
	rng.Shuffle(len(qs), func(a, b int) { qs[a], qs[b] = qs[b], qs[a] })
	for _, q := range qs {
		tokens = append(tokens, varName+names[q])
		depths = append(depths, p.depth[q])
	}
	tokens = append(tokens, VarTrackAnswer)
	answers, err := VarTrackAnswers(tokens)
	if err != nil {
		// newProgram only builds well-formed programs: this is a bug of
		// this file, not of the caller's input.
		return nil, nil, fmt.Errorf("datasets: VarTrack wrote a malformed program: %w", err)
	}
	return append(tokens, answers...), depths, nil
}
