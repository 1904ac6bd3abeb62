package datasets

import (
	"fmt"
	"math"
)

// DarcyCG solves the discrete Darcy problem −∇·(a∇u) = f on the unit
// square with u = 0 on the boundary, on the s×s nodes (i·h, j·h),
// h = 1/(s−1), fields row-major (element i·s+j is node (i·h, j·h)).
//
// The scheme is the 5-point finite-difference stencil in flux form: at
// each interior node,
//
//	Σ_faces a_f (u − u_neighbour) = h² f,
//
// where a_f, the coefficient on the face halfway to a neighbour, is the
// harmonic mean 2a₁a₂/(a₁+a₂) of the two nodes' values. The harmonic mean
// is the exact face conductivity of two materials in series, so a jump in
// a is handled without smearing, and for smooth a it differs from
// a(face) by O(h²), keeping the scheme second-order. The matrix is
// symmetric positive definite (an M-matrix), so the discrete maximum
// principle holds: f ≥ 0 gives u ≥ 0.
//
// The system is solved by conjugate gradients preconditioned with its
// diagonal (Jacobi), from u = 0, until the true relative residual
// ‖b − Au‖/‖b‖ is at most Tol.
//
// The zero value is ready to use.
type DarcyCG struct {
	// Tol is the relative residual at which to stop. If Tol is 0, 1e-10
	// is used; it must be below 1.
	Tol float64
	// MaxIter bounds the iterations. If MaxIter is 0, the number of
	// unknowns (s−2)², at least 100, is used: exact-arithmetic CG needs
	// no more.
	MaxIter int
}

// SolveDarcy solves −∇·(a∇u) = f with u = 0 on the boundary by DarcyCG
// with tolerance tol (0 means 1e-10). a and f are s×s row-major on the
// grid nodes; a must be positive everywhere, boundary nodes included
// (their values enter the faces next to the boundary); f is ignored on
// the boundary. It returns u, zero on the boundary, and the number of
// iterations taken.
func SolveDarcy(a, f []float64, s int, tol float64) (u []float64, iters int, err error) {
	return DarcyCG{Tol: tol}.Solve(a, f, s)
}

// Solve is SolveDarcy with c's settings. It returns an error, never
// panics, on bad input or when MaxIter iterations do not reach Tol.
func (c DarcyCG) Solve(a, f []float64, s int) (u []float64, iters int, err error) {
	tol, maxIter := c.Tol, c.MaxIter
	if tol == 0 {
		tol = darcyDefaultTol
	}
	switch {
	case !(tol > 0 && tol < 1):
		return nil, 0, fmt.Errorf("datasets: Darcy solver tolerance %g; want a relative residual in (0, 1) (0 means %g)", tol, darcyDefaultTol)
	case maxIter < 0:
		return nil, 0, fmt.Errorf("datasets: Darcy solver MaxIter = %d; want a positive bound (0 means automatic)", maxIter)
	case s < 3 || s > 1<<15:
		return nil, 0, fmt.Errorf("datasets: Darcy grid of %d nodes per side; want 3 to %d (two are boundary)", s, 1<<15)
	case len(a) != s*s || len(f) != s*s:
		return nil, 0, fmt.Errorf("datasets: Darcy fields of length %d (a) and %d (f) on a %d×%d grid; both must hold s² = %d values, row-major", len(a), len(f), s, s, s*s)
	}
	for i, v := range a {
		if !darcyPositive(v) {
			return nil, 0, fmt.Errorf("datasets: Darcy coefficient a[%d] (node %d, %d) = %g; a must be positive and finite everywhere, boundary included", i, i/s, i%s, v)
		}
	}
	for i, v := range f {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, 0, fmt.Errorf("datasets: Darcy right-hand side f[%d] (node %d, %d) = %g; f must be finite", i, i/s, i%s, v)
		}
	}
	if maxIter == 0 {
		maxIter = max(100, (s-2)*(s-2))
	}
	op := newDarcyOp(a, s)
	u, iters, res := op.pcg(f, tol, maxIter)
	if res > tol {
		return nil, iters, fmt.Errorf("datasets: Darcy solver: %d iterations reached, relative residual %.2e > tol %.0e; raise MaxIter or loosen Tol", iters, res, tol)
	}
	return u, iters, nil
}

// darcyOp is the discrete operator of DarcyCG, scaled by h² so that its
// entries are of the order of a. Vectors are full s×s grids whose
// boundary entries stay zero.
type darcyOp struct {
	s int
	// ex[i·s+j] is the coefficient on the face between nodes (i, j) and
	// (i+1, j); ey[i·s+j] between (i, j) and (i, j+1).
	ex, ey []float64
	// diag is the diagonal and inv its inverse, the Jacobi
	// preconditioner; both are zero on the boundary.
	diag, inv []float64
}

func newDarcyOp(a []float64, s int) *darcyOp {
	n := s * s
	op := &darcyOp{s: s, ex: make([]float64, n), ey: make([]float64, n),
		diag: make([]float64, n), inv: make([]float64, n)}
	harmonic := func(p, q float64) float64 { return 2 * p * q / (p + q) }
	for i := range s {
		for j := range s {
			k := i*s + j
			if i+1 < s {
				op.ex[k] = harmonic(a[k], a[k+s])
			}
			if j+1 < s {
				op.ey[k] = harmonic(a[k], a[k+1])
			}
		}
	}
	for i := 1; i < s-1; i++ {
		for j := 1; j < s-1; j++ {
			k := i*s + j
			op.diag[k] = op.ex[k] + op.ex[k-s] + op.ey[k] + op.ey[k-1]
			op.inv[k] = 1 / op.diag[k]
		}
	}
	return op
}

// apply sets y = A x on the interior nodes, leaves y's boundary zero and
// returns x·y. x must be zero on the boundary.
func (op *darcyOp) apply(y, x []float64) (xy float64) {
	s := op.s
	for i := 1; i < s-1; i++ {
		// Row slices let the compiler drop most bounds checks.
		lo, hi := i*s+1, (i+1)*s-1
		yr, xr, d := y[lo:hi], x[lo:hi], op.diag[lo:hi]
		xn, xs := x[lo+s:hi+s], x[lo-s:hi-s]
		xe, xw := x[lo+1:hi+1], x[lo-1:hi-1]
		en, es := op.ex[lo:hi], op.ex[lo-s:hi-s]
		ee, ew := op.ey[lo:hi], op.ey[lo-1:hi-1]
		for j := range yr {
			v := d[j]*xr[j] - en[j]*xn[j] - es[j]*xs[j] - ee[j]*xe[j] - ew[j]*xw[j]
			yr[j] = v
			xy += xr[j] * v
		}
	}
	return xy
}

// pcg solves A u = h² f by Jacobi-preconditioned CG and returns u, the
// iterations taken and the final true relative residual.
func (op *darcyOp) pcg(f []float64, tol float64, maxIter int) (u []float64, iters int, res float64) {
	s := op.s
	n := s * s
	h2 := 1 / float64((s-1)*(s-1))
	b := make([]float64, n)
	for i := 1; i < s-1; i++ {
		for j := 1; j < s-1; j++ {
			b[i*s+j] = h2 * f[i*s+j]
		}
	}
	u = make([]float64, n)
	bnorm := math.Sqrt(darcyDot(b, b))
	if bnorm == 0 {
		return u, 0, 0
	}
	r := make([]float64, n)
	z := make([]float64, n)
	p := make([]float64, n)
	q := make([]float64, n)
	inv := op.inv
	// restart sets r = b − Au, the true residual, and p = z = D⁻¹r; the
	// recurrence for r drifts by rounding, so convergence is confirmed
	// against the true residual and the iteration restarted from there.
	restart := func() (rz, rnorm float64) {
		op.apply(q, u)
		for k := range r {
			// inv is zero on the boundary, where b and Au are zero too.
			r[k] = b[k] - q[k]
			z[k] = r[k] * inv[k]
		}
		copy(p, z)
		return darcyDot(r, z), math.Sqrt(darcyDot(r, r))
	}
	rz, _ := restart()
	stop := tol * bnorm
	for iters < maxIter {
		pq := op.apply(q, p)
		if !(pq > 0) {
			// Breakdown: only rounding can make an SPD form vanish.
			break
		}
		alpha := rz / pq
		// One pass updates u and r and forms z = D⁻¹r, r·r and r·z.
		var rr, rzNew float64
		q, z, r, p, u := q[:n], z[:n], r[:n], p[:n], u[:n]
		for k := range n {
			u[k] += alpha * p[k]
			rk := r[k] - alpha*q[k]
			r[k] = rk
			zk := rk * inv[k]
			z[k] = zk
			rr += rk * rk
			rzNew += rk * zk
		}
		iters++
		if math.Sqrt(rr) <= stop {
			var rnorm float64
			if rz, rnorm = restart(); rnorm <= stop {
				return u, iters, rnorm / bnorm
			}
			continue
		}
		beta := rzNew / rz
		rz = rzNew
		for k := range n {
			p[k] = z[k] + beta*p[k]
		}
	}
	_, rnorm := restart()
	return u, iters, rnorm / bnorm
}

func darcyDot(x, y []float64) float64 {
	var s float64
	for i, v := range x {
		s += v * y[i]
	}
	return s
}
