package datasets

import "math"

// nsGMRES solves A x = b by restarted GMRES, right-preconditioned by a
// diagonal: it iterates on A D y = b and returns x = D y. Vectors are
// packed coefficients, a real vector space (the unknowns are the real
// fields' coefficients), so scalars are real and inner products are
// nsSpectral.dot. Right preconditioning keeps the residual it monitors
// the true one, ‖b − A x‖, rather than a preconditioned one.
//
// It is not deq.GMRES: that one solves batches of real problems without a
// preconditioner, and the Newton steps here need one preconditioned
// system over complex coefficients with their own inner product. It holds
// the Krylov basis between calls: not safe for concurrent use.
type nsGMRES struct {
	sp      *nsSpectral
	restart int
	v       [][]complex128 // the Arnoldi basis, restart+1 vectors
	z, w    []complex128
	h       []float64 // (restart+1)×restart Hessenberg, column-major
	cs, sn  []float64 // Givens rotations
	gv, y   []float64
}

func newNSGMRES(sp *nsSpectral, restart int) *nsGMRES {
	g := &nsGMRES{sp: sp, restart: restart, v: make([][]complex128, restart+1),
		z: make([]complex128, sp.m), w: make([]complex128, sp.m),
		h:  make([]float64, (restart+1)*restart),
		cs: make([]float64, restart), sn: make([]float64, restart),
		gv: make([]float64, restart+1), y: make([]float64, restart)}
	for i := range g.v {
		g.v[i] = make([]complex128, sp.m)
	}
	return g
}

// solve sets x to an approximate solution of A x = b, starting from
// x = 0, and stops when ‖b − A x‖ ≤ tol·‖b‖ or after maxIter products
// with A. It returns the products taken and the final relative residual
// estimate (GMRES's recurrence, exact in exact arithmetic). It is one
// function on purpose: the Arnoldi cycle, its rotations and the update
// read better whole.
func (g *nsGMRES) solve(x, b []complex128, apply func(out, in []complex128), d []float64, tol float64, maxIter int) (iters int, rel float64) {
	sp := g.sp
	clear(x)
	bnorm := sp.norm(b)
	if bnorm == 0 {
		return 0, 0
	}
	r := g.w
	copy(r, b)
	beta := bnorm
	m := g.restart
	for {
		// One cycle from the residual r of the current x.
		v0 := g.v[0]
		for p := range v0 {
			v0[p] = r[p] / complex(beta, 0)
		}
		clear(g.gv)
		g.gv[0] = beta
		j := 0
		for ; j < m && iters < maxIter; j++ {
			for p, vp := range g.v[j] {
				g.z[p] = vp * complex(d[p], 0)
			}
			wj := g.v[j+1]
			apply(wj, g.z)
			iters++
			hj := g.h[j*(m+1) : (j+1)*(m+1)]
			// Modified Gram–Schmidt.
			for i := range j + 1 {
				c := sp.dot(g.v[i], wj)
				hj[i] = c
				axpy(wj, -c, g.v[i])
			}
			hn := sp.norm(wj)
			hj[j+1] = hn
			if hn > 0 {
				for p := range wj {
					wj[p] /= complex(hn, 0)
				}
			}
			// Apply the earlier rotations to the new column, then make
			// one that zeroes its subdiagonal entry.
			for i := range j {
				a, bb := hj[i], hj[i+1]
				hj[i] = g.cs[i]*a + g.sn[i]*bb
				hj[i+1] = -g.sn[i]*a + g.cs[i]*bb
			}
			den := math.Hypot(hj[j], hj[j+1])
			if den == 0 {
				den = 1
			}
			g.cs[j], g.sn[j] = hj[j]/den, hj[j+1]/den
			hj[j] = den
			hj[j+1] = 0
			g.gv[j+1] = -g.sn[j] * g.gv[j]
			g.gv[j] *= g.cs[j]
			rel = math.Abs(g.gv[j+1]) / bnorm
			if rel <= tol || hn == 0 {
				j++
				break
			}
		}
		// Back-substitute for the cycle's coefficients and update x.
		for i := j - 1; i >= 0; i-- {
			s := g.gv[i]
			for l := i + 1; l < j; l++ {
				s -= g.h[l*(m+1)+i] * g.y[l]
			}
			if hd := g.h[i*(m+1)+i]; hd != 0 {
				g.y[i] = s / hd
			} else {
				g.y[i] = 0
			}
		}
		clear(g.z)
		for i := range j {
			axpy(g.z, g.y[i], g.v[i])
		}
		for p := range x {
			x[p] += g.z[p] * complex(d[p], 0)
		}
		if rel <= tol || iters >= maxIter {
			return iters, rel
		}
		// Restart from the true residual.
		apply(r, x)
		for p := range r {
			r[p] = b[p] - r[p]
		}
		beta = sp.norm(r)
		rel = beta / bnorm
		if rel <= tol {
			return iters, rel
		}
	}
}

// axpy sets y += a·x.
func axpy(y []complex128, a float64, x []complex128) {
	ca := complex(a, 0)
	for p, v := range x {
		y[p] += ca * v
	}
}
