package datasets

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize/convex/lp"
)

// Why a draw is rejected; GenerateLPs counts them in LPStats.
var (
	errLPInfeasible = errors.New("datasets: LP is infeasible")
	errLPUnbounded  = errors.New("datasets: LP solver reports an unbounded LP")
	errLPUnverified = errors.New("datasets: LP solution failed verification")
)

// simplexTol is the reduced-cost tolerance passed to lp.Simplex. With
// |y| ≲ 50 and 50 variables, reduced costs this small move the objective
// by far less than the 1e-7 the labels are verified to.
const simplexTol = 1e-12

// lpStandard is an LP in the standard form of lp.Simplex,
// minimize cᵀx s.t. A x = b, x ≥ 0, with the map back to y when it comes
// from an LP instance.
type lpStandard struct {
	a    *mat.Dense
	b, c []float64
	// y = y0 + x′: col[j] is the column of x′_j, or -1 for a variable
	// that presolve fixed at y0[j].
	col []int
	y0  []float64
}

// standardForm converts p exactly (no penalty, no big M) to standard form.
//
// Presolve first settles what needs no solver. A row whose range over
// the box, [Σ_j min(A_ij L_j, A_ij U_j), Σ_j max(…)], lies above b_i (or,
// for an equality, below it) by more than rounding can explain makes p
// infeasible (errLPInfeasible): this catches nearly 9 in 10 of the
// infeasible draws of the default config before the solver runs. An
// empty row that holds (0 = 0 or 0 ≤ b_i) holds for every y and is left
// out, as lp.Simplex rejects zero rows. A variable in no row of A meets
// only its bounds, so y_j = L_j if c_j ≥ 0 and U_j otherwise is optimal
// (for c_j = 0 any value is); it is fixed and left out. About 5 of the
// default 50 variables are in no row; leaving them out speeds the solve.
//
// The other K variables are shifted, y = L + x′, so that 0 ≤ x′ ≤ U − L,
// and the standard-form variables are
//
//	x = [x′ (K) | s (one per kept ≤ row, in row order) | t (K)]
//
// under the equality rows
//
//	for each kept row i:  Σ_j A_ij x′_j (+ s_i for a ≤ row) = b_i − Σ_j A_ij L_j
//	for each kept variable j:  x′_j + t_j = U_j − L_j
//
// with costs [C | 0 | 0], so cᵀy = cᵀx′ + cᵀL. The slack s_i = b_i − (A y)_i
// and t_j = U_j − y_j are nonnegative exactly when y is feasible, so both
// problems have the same feasible points and the same minimisers. The t
// columns make A full row rank whenever the equality rows of A are
// independent, as lp.Simplex requires.
func standardForm(p *LP) (lpStandard, error) {
	inRow, inCol := make([]bool, p.M), make([]bool, p.N)
	lo, hi, mag := make([]float64, p.M), make([]float64, p.M), make([]float64, p.M)
	for k, v := range p.Vals {
		i, j := p.Rows[k], p.Cols[k]
		inRow[i], inCol[j] = true, true
		a, b := v*p.L[j], v*p.U[j]
		lo[i] += min(a, b)
		hi[i] += max(a, b)
		mag[i] += math.Abs(a) + math.Abs(b)
	}
	for i := range p.M {
		// 1e-9 relative to the terms is far above the rounding of the sums.
		margin := 1e-9 * (1 + mag[i] + math.Abs(p.B[i]))
		if lo[i] > p.B[i]+margin || p.Eq[i] && hi[i] < p.B[i]-margin {
			return lpStandard{}, fmt.Errorf("%w: row %d ranges over [%.6g, %.6g] in the box, b = %.6g", errLPInfeasible, i, lo[i], hi[i], p.B[i])
		}
	}
	// row[i] is the standard-form row of constraint i, -1 when left out.
	row := make([]int, p.M)
	m, nSlack := 0, 0
	for i := range p.M {
		row[i] = -1
		switch {
		case inRow[i]:
			row[i] = m
			m++
			if !p.Eq[i] {
				nSlack++
			}
		case p.Eq[i] && p.B[i] != 0, !p.Eq[i] && p.B[i] < 0:
			return lpStandard{}, fmt.Errorf("%w: row %d is empty with b = %v", errLPInfeasible, i, p.B[i])
		}
	}
	s := lpStandard{col: make([]int, p.N), y0: make([]float64, p.N)}
	n := 0
	for j := range p.N {
		s.col[j], s.y0[j] = -1, p.L[j]
		switch {
		case inCol[j]:
			s.col[j] = n
			n++
		case p.C[j] < 0:
			s.y0[j] = p.U[j]
		}
	}
	cols := 2*n + nSlack
	s.a = mat.NewDense(m+n, cols, nil)
	s.b = make([]float64, m+n)
	s.c = make([]float64, cols)
	slack := n
	for i := range p.M {
		if r := row[i]; r >= 0 {
			s.b[r] = p.B[i]
			if !p.Eq[i] {
				s.a.Set(r, slack, 1)
				slack++
			}
		}
	}
	for k, v := range p.Vals {
		r, j := row[p.Rows[k]], p.Cols[k]
		s.a.Set(r, s.col[j], v)
		s.b[r] -= v * p.L[j]
	}
	for j := range p.N {
		if q := s.col[j]; q >= 0 {
			s.a.Set(m+q, q, 1)
			s.a.Set(m+q, n+nSlack+q, 1)
			s.b[m+q] = p.U[j] - p.L[j]
			s.c[q] = p.C[j]
		}
	}
	return s, nil
}

// solveStandard runs lp.Simplex and sorts its errors into the rejection
// reasons.
func solveStandard(s lpStandard) (x []float64, err error) {
	// lp.Simplex reports some failures by panicking (its shape checks,
	// mat on non-finite values); a draw must be rejected, not crash the run.
	defer func() {
		if r := recover(); r != nil {
			x, err = nil, fmt.Errorf("datasets: LP solver panicked: %v", r)
		}
	}()
	_, x, err = lp.Simplex(s.c, s.a, s.b, simplexTol, nil)
	switch {
	case err == nil:
		return x, nil
	case errors.Is(err, lp.ErrInfeasible):
		return nil, errLPInfeasible
	case errors.Is(err, lp.ErrUnbounded):
		return nil, errLPUnbounded
	}
	return nil, fmt.Errorf("datasets: LP solver failed: %w", err)
}

// solveLP returns a minimiser y of p, not yet verified.
func solveLP(p *LP) ([]float64, error) {
	s, err := standardForm(p)
	if err != nil {
		return nil, err
	}
	x, err := solveStandard(s)
	if err != nil {
		return nil, err
	}
	y := make([]float64, p.N)
	for j, q := range s.col {
		y[j] = s.y0[j]
		if q >= 0 {
			y[j] += x[q]
		}
	}
	return y, nil
}
