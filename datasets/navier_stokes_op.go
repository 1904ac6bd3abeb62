package datasets

// nsOperator evaluates the discrete steady vorticity equation on packed
// coefficients (see nsSpectral):
//
//	R(ω) = P[u·∇ω] + ν|k|²ω − g,   u = (∂ψ/∂y, −∂ψ/∂x), ψ = ω/|k|²,
//
// P the projection onto the kept modes, g the curl of the forcing; and
// its Jacobian J v = P[u₀·∇v + u(v)·∇ω₀] + ν|k|²v at a base state ω₀,
// exactly (the product rule), not by finite differences: the Newton
// steps then lose nothing to a difference step.
//
// An nsOperator holds work buffers: it is not safe for concurrent use.
type nsOperator struct {
	sp *nsSpectral
	mu nsMultipliers
	nu float64
	// gu, gv, gx, gy and gp are grid work fields.
	gu, gv, gx, gy, gp []float64
	// bu, bv, bx, by are u₀, v₀, ∂ω₀/∂x and ∂ω₀/∂y on the grid, set by
	// setBase for jvp.
	bu, bv, bx, by []float64
}

func newNSOperator(s int, nu float64) *nsOperator {
	sp := newNSSpectral(s)
	n := s * s
	grid := func() []float64 { return make([]float64, n) }
	return &nsOperator{sp: sp, mu: newNSMultipliers(sp), nu: nu, gu: grid(), gv: grid(), gx: grid(), gy: grid(), gp: grid(),
		bu: grid(), bv: grid(), bx: grid(), by: grid()}
}

// nsMultipliers holds, per packed mode, the Fourier multipliers that map
// a vorticity ω to u = ∂ψ/∂y (i·ky/|k|²), v = −∂ψ/∂x (−i·kx/|k|²),
// ∂ω/∂x (i·kx) and ∂ω/∂y (i·ky), with ψ = ω/|k|² (Δψ = −ω) and the
// mean mode mapped to zero.
type nsMultipliers struct{ u, v, dx, dy []complex128 }

func newNSMultipliers(sp *nsSpectral) nsMultipliers {
	m := nsMultipliers{u: make([]complex128, sp.m), v: make([]complex128, sp.m),
		dx: make([]complex128, sp.m), dy: make([]complex128, sp.m)}
	for p, k2 := range sp.k2 {
		if k2 == 0 {
			continue
		}
		m.u[p] = complex(0, sp.ky[p]/k2)
		m.v[p] = complex(0, -sp.kx[p]/k2)
		m.dx[p] = complex(0, sp.kx[p])
		m.dy[p] = complex(0, sp.ky[p])
	}
	return m
}

// advect sets out = P[u·∇w], the transport term of w by its own velocity,
// with the mean mode zero (it is a divergence, ∇·(uw)).
func (op *nsOperator) advect(out, w []complex128) {
	mu := op.mu
	op.sp.toGrid(op.gu, op.gv, w, mu.u, w, mu.v)
	op.sp.toGrid(op.gx, op.gy, w, mu.dx, w, mu.dy)
	for i := range op.gp {
		op.gp[i] = op.gu[i]*op.gx[i] + op.gv[i]*op.gy[i]
	}
	op.sp.toSpec(out, nil, op.gp, nil)
	out[op.sp.zero()] = 0
}

// residual sets r = R(w) for the packed curl of the forcing g.
func (op *nsOperator) residual(r, w, g []complex128) {
	op.advect(r, w)
	for p := range r {
		r[p] += complex(op.nu*op.sp.k2[p], 0)*w[p] - g[p]
	}
	r[op.sp.zero()] = 0
}

// setBase stores the grid fields of the base state w0 for jvp.
func (op *nsOperator) setBase(w0 []complex128) {
	mu := op.mu
	op.sp.toGrid(op.bu, op.bv, w0, mu.u, w0, mu.v)
	op.sp.toGrid(op.bx, op.by, w0, mu.dx, w0, mu.dy)
}

// jvp sets out = J v at the base state of the last setBase.
func (op *nsOperator) jvp(out, v []complex128) {
	mu := op.mu
	op.sp.toGrid(op.gu, op.gv, v, mu.u, v, mu.v)
	op.sp.toGrid(op.gx, op.gy, v, mu.dx, v, mu.dy)
	for i := range op.gp {
		op.gp[i] = op.bu[i]*op.gx[i] + op.bv[i]*op.gy[i] + op.gu[i]*op.bx[i] + op.gv[i]*op.by[i]
	}
	op.sp.toSpec(out, nil, op.gp, nil)
	for p := range out {
		out[p] += complex(op.nu*op.sp.k2[p], 0) * v[p]
	}
	out[op.sp.zero()] = 0
}
