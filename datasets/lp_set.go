package datasets

import "fmt"

// LPLayout gives where each part of an LP lies in the flat input vector
// of an LPSet: the offsets of the dense A (M·N values, row-major), b (M),
// the equality flags as 0 or 1 (M), then c, l and u (N each). Size is
// the length of the whole vector, M·N + 2M + 3N (670 for 10×50).
type LPLayout struct {
	M, N              int
	A, B, Eq, C, L, U int
	Size              int
}

// NewLPLayout returns the layout of an M×N LP.
func NewLPLayout(m, n int) LPLayout {
	l := LPLayout{M: m, N: n, A: 0, B: m * n}
	l.Eq = l.B + m
	l.C = l.Eq + m
	l.L = l.C + n
	l.U = l.L + n
	l.Size = l.U + n
	return l
}

// LPSet is a list of solved LP instances of one size as a training set;
// it satisfies train.Dataset structurally. The input of instance i is the
// bipartite constraint graph as one flat vector laid out by Layout; the
// target is its optimum y* (N values), not rescaled: with the default
// bounds its entries have a standard deviation near 10.
type LPSet struct {
	lps    []LP
	layout LPLayout
}

// NewLPSet checks that the instances are valid, solved and all of one
// size, and returns them as a set. The set shares the slice.
func NewLPSet(lps []LP) (*LPSet, error) {
	if len(lps) == 0 {
		return nil, fmt.Errorf("datasets: no LP instances; an LPSet takes its size from them, pass at least one")
	}
	return newLPSet(lps[0].M, lps[0].N, lps)
}

func newLPSet(m, n int, lps []LP) (*LPSet, error) {
	for i := range lps {
		p := &lps[i]
		if p.M != m || p.N != n {
			return nil, fmt.Errorf("datasets: LP %d is %d×%d, others %d×%d; an LPSet holds one size", i, p.M, p.N, m, n)
		}
		if err := p.validate(); err != nil {
			return nil, err
		}
		if len(p.Y) != n {
			return nil, fmt.Errorf("datasets: LP %d has no solution; use instances from GenerateLPs or LoadLPs", i)
		}
	}
	return &LPSet{lps: lps, layout: NewLPLayout(m, n)}, nil
}

// LPSplits loads (or generates and caches, see LoadLPs) the first
// nTrain+nTest instances of the paper's configuration for the seed, in
// draw order, and splits them into the first nTrain and the next nTest.
// The paper uses 2500 and 1000.
func LPSplits(cacheOverride string, seed uint64, nTrain, nTest int) (train, test *LPSet, stats LPStats, err error) {
	if nTrain < 1 || nTest < 0 {
		return nil, nil, LPStats{}, fmt.Errorf("datasets: LP splits of %d and %d; want nTrain ≥ 1 and nTest ≥ 0", nTrain, nTest)
	}
	lps, stats, err := LoadLPs(cacheOverride, LPConfig{}, seed, nTrain+nTest)
	if err != nil {
		return nil, nil, stats, err
	}
	m, n := lps[0].M, lps[0].N
	if train, err = newLPSet(m, n, lps[:nTrain:nTrain]); err != nil {
		return nil, nil, stats, err
	}
	if test, err = newLPSet(m, n, lps[nTrain:]); err != nil {
		return nil, nil, stats, err
	}
	return train, test, stats, nil
}

// Len returns the number of instances.
func (s *LPSet) Len() int { return len(s.lps) }

// InputShape returns {Layout().Size}.
func (s *LPSet) InputShape() []int { return []int{s.layout.Size} }

// TargetShape returns {N}.
func (s *LPSet) TargetShape() []int { return []int{s.layout.N} }

// Layout returns where A, b, the equality flags, c, l and u lie in an
// input vector.
func (s *LPSet) Layout() LPLayout { return s.layout }

// Instance returns instance i; the set shares it, so do not change it.
func (s *LPSet) Instance(i int) *LP { return &s.lps[i] }

// Sample writes the input of instance i into x (length Layout().Size)
// and its optimum into y (length N), rounded to float32. Like slice
// indexing, it panics when i is out of range or x or y is too short: a
// caller bug, not bad data, since the set was validated.
func (s *LPSet) Sample(i int, x, y []float32) { sampleLP(&s.lps[i], s.layout, x, y) }

// SampleFloat64 is Sample in float64, for estimates (such as Lipschitz
// constants) that float32 rounding would spoil.
func (s *LPSet) SampleFloat64(i int, x, y []float64) { sampleLP(&s.lps[i], s.layout, x, y) }

func sampleLP[T float32 | float64](p *LP, l LPLayout, x, y []T) {
	clear(x[l.A : l.A+l.M*l.N])
	for k, v := range p.Vals {
		x[l.A+p.Rows[k]*l.N+p.Cols[k]] = T(v)
	}
	for r := range l.M {
		x[l.B+r] = T(p.B[r])
		x[l.Eq+r] = 0
		if p.Eq[r] {
			x[l.Eq+r] = 1
		}
	}
	for j := range l.N {
		x[l.C+j], x[l.L+j], x[l.U+j] = T(p.C[j]), T(p.L[j]), T(p.U[j])
		y[j] = T(p.Y[j])
	}
}
