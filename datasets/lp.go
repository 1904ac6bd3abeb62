package datasets

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// LPConfig sets how random linear programs are drawn. The zero value is
// the paper's workload: 10 constraints, 50 variables, 100 nonzeros.
type LPConfig struct {
	// M is the number of constraints; if M is 0, 10 is used.
	M int
	// N is the number of variables; if N is 0, 50 is used.
	N int
	// NNZ is the number of nonzeros of A, at distinct random positions
	// with N(0, 1) values; if NNZ is 0, M·N/5 is used (100 for 10×50).
	NNZ int
	// PEq is the probability that a row is an equality; the others are
	// ≤. If PEq is 0, 0.3 is used; a negative PEq means no equalities.
	PEq float64
	// CScale scales the costs, c ~ CScale·U(−1, 1); if CScale is 0, 0.01
	// is used.
	CScale float64
	// BoundStd is the standard deviation of the two normal draws sorted
	// into l ≤ u; if BoundStd is 0, 10 is used.
	BoundStd float64
}

// withDefaults returns the configuration with zero fields replaced by
// their defaults and checks it.
func (cfg LPConfig) withDefaults() (LPConfig, error) {
	if cfg.M == 0 {
		cfg.M = 10
	}
	if cfg.N == 0 {
		cfg.N = 50
	}
	if cfg.NNZ == 0 {
		cfg.NNZ = cfg.M * cfg.N / 5
	}
	switch {
	case cfg.PEq == 0:
		cfg.PEq = 0.3
	case cfg.PEq < 0:
		cfg.PEq = 0
	}
	if cfg.CScale == 0 {
		cfg.CScale = 0.01
	}
	if cfg.BoundStd == 0 {
		cfg.BoundStd = 10
	}
	// 1<<20 entries keeps a dense A (and the position draw) within memory.
	if cfg.M < 0 || cfg.N < 0 || cfg.M > (1<<20)/cfg.N {
		return cfg, fmt.Errorf("datasets: LP of %d×%d; want positive sizes with M·N ≤ %d", cfg.M, cfg.N, 1<<20)
	}
	if cfg.NNZ < 1 || cfg.NNZ > cfg.M*cfg.N {
		return cfg, fmt.Errorf("datasets: %d nonzeros in a %d×%d LP; want 1 to %d", cfg.NNZ, cfg.M, cfg.N, cfg.M*cfg.N)
	}
	if !(cfg.PEq <= 1) || !(cfg.CScale > 0) || math.IsInf(cfg.CScale, 0) || !(cfg.BoundStd > 0) || math.IsInf(cfg.BoundStd, 0) {
		return cfg, fmt.Errorf("datasets: LP config PEq %v, CScale %v, BoundStd %v; want PEq ≤ 1 and finite positive scales", cfg.PEq, cfg.CScale, cfg.BoundStd)
	}
	return cfg, nil
}

// LP is one linear program with its verified optimum:
//
//	minimize cᵀy  s.t.  (A y)_i = b_i if Eq[i], (A y)_i ≤ b_i otherwise,  L ≤ y ≤ U.
type LP struct {
	// Index is the draw this instance came from: it is a function of the
	// seed and Index alone.
	Index int
	// M is the number of constraints and N the number of variables.
	M, N int
	// Rows, Cols and Vals list the nonzeros of the M×N matrix A in
	// row-major order, at distinct positions.
	Rows, Cols []int
	Vals       []float64
	// B holds the M right-hand sides and Eq marks the equality rows.
	B  []float64
	Eq []bool
	// C holds the N costs, L and U the N bounds, L ≤ U.
	C, L, U []float64
	// Y is the verified optimum y* (N values). It is not rescaled: with
	// the default BoundStd its entries are of order 10.
	Y []float64
	// Objective is cᵀy*.
	Objective float64
}

// Dense returns A as an M×N row-major slice. It expects a valid LP, as
// GenerateLPs and LoadLPs return.
func (p *LP) Dense() []float64 {
	a := make([]float64, p.M*p.N)
	for k, v := range p.Vals {
		a[p.Rows[k]*p.N+p.Cols[k]] = v
	}
	return a
}

// LPStats counts the draws behind a set of instances: every draw up to
// the last kept one is either kept or rejected for one reason.
type LPStats struct {
	Drawn, Kept int
	// Infeasible counts draws the solver proved infeasible.
	Infeasible int
	// Unbounded counts draws the solver called unbounded. The bounds make
	// every instance bounded, so these are numerical failures.
	Unbounded int
	// Unverified counts draws whose solution VerifyLP rejected.
	Unverified int
	// SolverFailed counts draws where the solver gave up (a singular or
	// ill-conditioned basis, cycling guards, a failed phase I).
	SolverFailed int
}

// Rejected returns the number of rejected draws.
func (s LPStats) Rejected() int {
	return s.Infeasible + s.Unbounded + s.Unverified + s.SolverFailed
}

// String says how many draws were kept and why the others were rejected.
func (s LPStats) String() string {
	return fmt.Sprintf("drew %d, kept %d, rejected %d (%d infeasible, %d unbounded, %d unverified, %d solver failures)",
		s.Drawn, s.Kept, s.Rejected(), s.Infeasible, s.Unbounded, s.Unverified, s.SolverFailed)
}

// count records the outcome of one draw.
func (s *LPStats) count(err error) {
	s.Drawn++
	switch {
	case err == nil:
		s.Kept++
	case errors.Is(err, errLPInfeasible):
		s.Infeasible++
	case errors.Is(err, errLPUnbounded):
		s.Unbounded++
	case errors.Is(err, errLPUnverified):
		s.Unverified++
	default:
		s.SolverFailed++
	}
}

// drawLP draws instance k of the seed, without its solution. The k-th
// draw has its own PCG stream (seed, k), so it does not depend on the
// draws before it or on which goroutine makes it.
func drawLP(cfg LPConfig, seed uint64, k int) LP {
	rng := rand.New(rand.NewPCG(seed, uint64(k)))
	m, n := cfg.M, cfg.N
	p := LP{Index: k, M: m, N: n}

	// Distinct positions: the first NNZ of a partial Fisher–Yates shuffle.
	pos := make([]int, m*n)
	for i := range pos {
		pos[i] = i
	}
	for i := 0; i < cfg.NNZ; i++ {
		j := i + rng.IntN(len(pos)-i)
		pos[i], pos[j] = pos[j], pos[i]
	}
	pos = pos[:cfg.NNZ]
	slices.Sort(pos)
	p.Rows, p.Cols, p.Vals = make([]int, len(pos)), make([]int, len(pos)), make([]float64, len(pos))
	for i, q := range pos {
		p.Rows[i], p.Cols[i] = q/n, q%n
		p.Vals[i] = rng.NormFloat64()
	}

	p.B, p.Eq = make([]float64, m), make([]bool, m)
	for i := range m {
		p.Eq[i] = rng.Float64() < cfg.PEq
		p.B[i] = 2*rng.Float64() - 1
	}
	p.C, p.L, p.U = make([]float64, n), make([]float64, n), make([]float64, n)
	for j := range n {
		p.C[j] = cfg.CScale * (2*rng.Float64() - 1)
		a, b := cfg.BoundStd*rng.NormFloat64(), cfg.BoundStd*rng.NormFloat64()
		p.L[j], p.U[j] = min(a, b), max(a, b)
	}
	return p
}

// lpTol is the tolerance labels are verified to: absolute on the
// constraints, relative on the duality gap.
const lpTol = 1e-7

// solveDraw solves and verifies a drawn instance in place; the error
// says why it is rejected.
func solveDraw(p *LP) error {
	y, err := solveLP(p)
	if err != nil {
		return err
	}
	p.Y = y
	p.Objective = dot(p.C, y)
	if err := VerifyLP(p, lpTol); err != nil {
		return fmt.Errorf("%w: %v", errLPUnverified, err)
	}
	return nil
}

// GenerateLPs returns the first n instances of the seed that are feasible
// and whose solution passes VerifyLP, in draw order, with the counts of
// what was drawn and why draws were rejected. Draw k depends only on
// (seed, k), so the result does not depend on n (a longer list extends a
// shorter one) or on the number of goroutines; it uses GOMAXPROCS of
// them.
func GenerateLPs(cfg LPConfig, seed uint64, n int) ([]LP, LPStats, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, LPStats{}, err
	}
	if n < 0 {
		return nil, LPStats{}, fmt.Errorf("datasets: %d LP instances requested; want n ≥ 0", n)
	}
	var (
		out   = make([]LP, 0, n)
		stats LPStats
		next  int // the next draw to make
	)
	workers := runtime.GOMAXPROCS(0)
	for len(out) < n {
		// Draw a batch in parallel, sized from the acceptance rate so far
		// (a few percent more than needed), then take it in order.
		need := n - len(out)
		batch := need + need/16 + workers
		if stats.Kept > 0 {
			batch = int(float64(need)*float64(stats.Drawn)/float64(stats.Kept)*1.05) + workers
		}
		batch = min(batch, 1<<16)
		if next > math.MaxInt-batch {
			return nil, stats, fmt.Errorf("datasets: LP draw index overflow after %v; the configuration rejects almost every draw, change it", stats)
		}
		lps, errs := make([]LP, batch), make([]error, batch)
		var wg sync.WaitGroup
		var todo atomic.Int64
		for range workers {
			wg.Go(func() {
				for {
					i := int(todo.Add(1) - 1)
					if i >= batch {
						return
					}
					lps[i] = drawLP(cfg, seed, next+i)
					errs[i] = solveDraw(&lps[i])
				}
			})
		}
		wg.Wait()
		for i := range batch {
			if len(out) == n {
				break
			}
			stats.count(errs[i])
			if errs[i] == nil {
				out = append(out, lps[i])
			}
		}
		next += batch
		// A configuration that rejects everything would loop forever.
		if stats.Drawn >= 1000 && stats.Kept*1000 < stats.Drawn {
			return nil, stats, fmt.Errorf("datasets: fewer than 1 in 1000 LP draws kept (%v); change the configuration", stats)
		}
	}
	return out, stats, nil
}

func dot(a, b []float64) float64 {
	var s float64
	for i, v := range a {
		s += v * b[i]
	}
	return s
}
