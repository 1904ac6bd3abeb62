package datasets

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// VerifyLP checks that p is well formed and that p.Y is an optimum of p,
// without trusting the solver that produced it. If tol is 0, 1e-7 is used.
//
// Feasibility: every equality holds to tol, and no inequality or bound is
// violated by more than tol (absolute). Objective must equal cᵀY to tol
// relative to max(1, |cᵀY|).
//
// Optimality: a dual certificate. For any multipliers μ with μ_i ≥ 0 on
// the ≤ rows, weak duality bounds every feasible objective from below by
//
//	g(μ) = −bᵀμ + Σ_j min(r_j L_j, r_j U_j),  r = c + Aᵀμ,
//
// so cᵀY − g(μ) ≤ tol·max(1, |cᵀY|) proves Y optimal to that gap. The
// multipliers come first from the active set of Y (the equations
// r_j = 0 for the variables strictly inside their bounds, one small
// linear solve) and, when that fails to close the gap (a degenerate
// vertex, or a wrong Y), from solving the dual LP with lp.Simplex. Either
// way only g(μ) is trusted, and it is computed here.
func VerifyLP(p *LP, tol float64) error {
	if tol == 0 {
		tol = lpTol
	}
	if !(tol > 0) || math.IsInf(tol, 0) {
		return fmt.Errorf("datasets: LP tolerance %v; want a finite tol > 0 (0 means 1e-7)", tol)
	}
	if err := p.validate(); err != nil {
		return err
	}
	if len(p.Y) != p.N {
		return fmt.Errorf("datasets: LP %d: solution of length %d for %d variables; solve the instance first", p.Index, len(p.Y), p.N)
	}
	for j, v := range p.Y {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("datasets: LP %d: solution entry %d is %v; regenerate the instance", p.Index, j, v)
		}
		if v < p.L[j]-tol || v > p.U[j]+tol {
			return fmt.Errorf("datasets: LP %d: y[%d] = %.9g outside its bounds [%.9g, %.9g] by more than %.1g; the label is infeasible, regenerate it", p.Index, j, v, p.L[j], p.U[j], tol)
		}
	}
	ay := make([]float64, p.M)
	for k, v := range p.Vals {
		ay[p.Rows[k]] += v * p.Y[p.Cols[k]]
	}
	for i, v := range ay {
		viol := v - p.B[i]
		kind := "inequality"
		if p.Eq[i] {
			viol = math.Abs(viol)
			kind = "equality"
		}
		if viol > tol {
			return fmt.Errorf("datasets: LP %d: %s row %d violated by %.3g > %.1g; the label is infeasible, regenerate it", p.Index, kind, i, viol, tol)
		}
	}
	obj := dot(p.C, p.Y)
	scale := max(1, math.Abs(obj))
	if !(math.Abs(p.Objective-obj) <= tol*scale) { // NaN too
		return fmt.Errorf("datasets: LP %d: Objective %.12g but cᵀy = %.12g; the instance is corrupt, regenerate it", p.Index, p.Objective, obj)
	}

	gap := math.Inf(1)
	if mu := activeSetMultipliers(p, ay, tol); mu != nil {
		gap = obj - dualBound(p, mu)
	}
	if gap <= tol*scale {
		return nil
	}
	mu, err := dualLPMultipliers(p)
	if err != nil {
		return fmt.Errorf("datasets: LP %d: no dual certificate (active set gap %.3g; dual LP: %v); regenerate the instance", p.Index, gap, err)
	}
	if gap = obj - dualBound(p, mu); gap <= tol*scale {
		return nil
	}
	return fmt.Errorf("datasets: LP %d: duality gap %.3g > %.1g: the label is not optimal; regenerate it", p.Index, gap, tol*scale)
}

// validate checks the shapes and values of the problem data (not Y).
func (p *LP) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("datasets: LP %d: "+format+"; the instance is corrupt, regenerate it", append([]any{p.Index}, args...)...)
	}
	if p.M < 1 || p.N < 1 || p.M > 1<<20/p.N {
		return bad("%d×%d", p.M, p.N)
	}
	if len(p.Rows) != len(p.Vals) || len(p.Cols) != len(p.Vals) {
		return bad("%d rows, %d columns, %d values of nonzeros", len(p.Rows), len(p.Cols), len(p.Vals))
	}
	if len(p.B) != p.M || len(p.Eq) != p.M || len(p.C) != p.N || len(p.L) != p.N || len(p.U) != p.N {
		return bad("lengths b %d, eq %d, c %d, l %d, u %d for %d×%d", len(p.B), len(p.Eq), len(p.C), len(p.L), len(p.U), p.M, p.N)
	}
	last := -1
	for k, v := range p.Vals {
		i, j := p.Rows[k], p.Cols[k]
		if i < 0 || i >= p.M || j < 0 || j >= p.N || i*p.N+j <= last {
			return bad("nonzero %d at (%d, %d) is outside A or out of row-major order", k, i, j)
		}
		last = i*p.N + j
		if !finite(v) {
			return bad("nonzero %d is %v", k, v)
		}
	}
	for i, v := range p.B {
		if !finite(v) {
			return bad("b[%d] is %v", i, v)
		}
	}
	for j := range p.N {
		if !finite(p.C[j]) || !finite(p.L[j]) || !finite(p.U[j]) || p.L[j] > p.U[j] {
			return bad("variable %d: c %v, bounds [%v, %v]", j, p.C[j], p.L[j], p.U[j])
		}
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// dualBound returns g(μ), the Lagrangian lower bound on every feasible
// objective, with the multipliers of ≤ rows clipped at 0 so that it is a
// valid bound for any μ.
func dualBound(p *LP, mu []float64) float64 {
	r := make([]float64, p.N)
	copy(r, p.C)
	g := 0.0
	for i := range mu {
		if !p.Eq[i] {
			mu[i] = max(mu[i], 0)
		}
		g -= mu[i] * p.B[i]
	}
	for k, v := range p.Vals {
		r[p.Cols[k]] += v * mu[p.Rows[k]]
	}
	for j, rj := range r {
		g += min(rj*p.L[j], rj*p.U[j])
	}
	return g
}

// activeSetMultipliers solves for the multipliers of the rows active at
// Y (equalities and tight inequalities; the others are 0) from r_j = 0 on
// the variables strictly inside their bounds, in the least-squares or
// minimum-norm sense when the count differs. At a nondegenerate vertex
// the system is square and its solution is the dual optimum. It returns
// nil when the system is singular.
func activeSetMultipliers(p *LP, ay []float64, tol float64) []float64 {
	var rows, free []int
	for i := range p.M {
		if p.Eq[i] || p.B[i]-ay[i] <= tol {
			rows = append(rows, i)
		}
	}
	for j, v := range p.Y {
		if v > p.L[j]+tol && v < p.U[j]-tol {
			free = append(free, j)
		}
	}
	mu := make([]float64, p.M)
	if len(rows) == 0 || len(free) == 0 {
		return mu
	}
	rowAt := make([]int, p.M)
	for i := range rowAt {
		rowAt[i] = -1
	}
	for k, i := range rows {
		rowAt[i] = k
	}
	freeAt := make([]int, p.N)
	for j := range freeAt {
		freeAt[j] = -1
	}
	for k, j := range free {
		freeAt[j] = k
	}
	// Aᵀ restricted to the free variables and active rows.
	at := mat.NewDense(len(free), len(rows), nil)
	for k, v := range p.Vals {
		if f, r := freeAt[p.Cols[k]], rowAt[p.Rows[k]]; f >= 0 && r >= 0 {
			at.Set(f, r, v)
		}
	}
	rhs := mat.NewVecDense(len(free), nil)
	for k, j := range free {
		rhs.SetVec(k, -p.C[j])
	}
	var sol mat.VecDense
	if err := sol.SolveVec(at, rhs); err != nil {
		return nil
	}
	for k, i := range rows {
		mu[i] = sol.AtVec(k)
	}
	return mu
}

// dualLPMultipliers solves the dual LP
//
//	maximise −bᵀμ + Lᵀα − Uᵀβ  s.t.  Aᵀμ − α + β = −c,  μ_i ≥ 0 on ≤ rows,  α, β ≥ 0
//
// with lp.Simplex, in standard form with μ_i = μ⁺_i − μ⁻_i on equality
// rows. Empty rows are left out (their multipliers do not enter r, and
// lp.Simplex rejects zero columns); their μ is 0.
func dualLPMultipliers(p *LP) ([]float64, error) {
	nonzero := make([]bool, p.M)
	for _, i := range p.Rows {
		nonzero[i] = true
	}
	// Column of each multiplier part: plus[i] for μ_i or μ⁺_i, minus[i]
	// for μ⁻_i, -1 when absent.
	plus, minus := make([]int, p.M), make([]int, p.M)
	cols := 0
	for i := range p.M {
		plus[i], minus[i] = -1, -1
		if !nonzero[i] {
			continue
		}
		plus[i] = cols
		cols++
		if p.Eq[i] {
			minus[i] = cols
			cols++
		}
	}
	nMu := cols
	cols += 2 * p.N
	a := mat.NewDense(p.N, cols, nil)
	c := make([]float64, cols)
	for i := range p.M {
		if plus[i] >= 0 {
			c[plus[i]] = p.B[i]
		}
		if minus[i] >= 0 {
			c[minus[i]] = -p.B[i]
		}
	}
	for k, v := range p.Vals {
		i, j := p.Rows[k], p.Cols[k]
		a.Set(j, plus[i], v)
		if minus[i] >= 0 {
			a.Set(j, minus[i], -v)
		}
	}
	b := make([]float64, p.N)
	for j := range p.N {
		a.Set(j, nMu+j, -1)    // α_j
		a.Set(j, nMu+p.N+j, 1) // β_j
		c[nMu+j] = -p.L[j]
		c[nMu+p.N+j] = p.U[j]
		b[j] = -p.C[j]
	}
	x, err := solveStandard(lpStandard{a: a, b: b, c: c})
	if err != nil {
		return nil, err
	}
	mu := make([]float64, p.M)
	for i := range p.M {
		if plus[i] >= 0 {
			mu[i] = x[plus[i]]
		}
		if minus[i] >= 0 {
			mu[i] -= x[minus[i]]
		}
	}
	return mu, nil
}
