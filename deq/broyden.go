package deq

import "math"

// Broyden is the limited-memory "good" Broyden method on g(z) = F(z) − z,
// with per-sample inverse-Jacobian estimates
//
//	B = −I + Σ u_i v_iᵀ   (at most Memory rank-one terms),
//
// stepping z ← z − B·g(z). When the history is full the sample restarts
// from B = −I, so memory stays bounded at 2·Memory·Dim values per sample
// (dropping only the oldest term instead was measured to diverge on
// well-conditioned linear problems). Updates with a vanishing denominator
// are skipped; a non-finite step restarts the sample from a plain Picard
// step with an empty history.
type Broyden struct {
	// Memory is the number of rank-one terms kept per sample. Zero means 10.
	Memory int
}

var (
	_ Solver       = Broyden{}
	_ LinearSolver = Broyden{}
)

// Name implements Solver.
func (Broyden) Name() string { return "broyden" }

// Solve64 implements Solver.
func (s Broyden) Solve64(p Problem[float64], st Stop) Result[float64] { return broyden(s, p, st) }

// Solve32 implements Solver.
func (s Broyden) Solve32(p Problem[float32], st Stop) Result[float32] { return broyden(s, p, st) }

// SolveLinear64 implements LinearSolver.
func (s Broyden) SolveLinear64(l Linear[float64], st Stop) Result[float64] {
	return broyden(s, l.AsProblem(), st)
}

// SolveLinear32 implements LinearSolver.
func (s Broyden) SolveLinear32(l Linear[float32], st Stop) Result[float32] {
	return broyden(s, l.AsProblem(), st)
}

// broydenState is one sample's rank-one history.
type broydenState struct {
	n       int  // valid terms
	started bool // a previous iterate exists
}

func broyden[T Float](s Broyden, p Problem[T], stop Stop) Result[T] {
	m := s.Memory
	if m == 0 {
		m = 10
	}
	if m < 1 {
		return FailedResult[T](s.Name(), p.Batch, errorf("Broyden.Memory %d must be ≥ 1", s.Memory))
	}
	d := p.Dim
	tr := NewTracker[T](stop, p.Batch, d)
	tr.Watch(p.Ctx)
	z := start(p)
	fz := make([]T, len(z))
	w := &broydenWork[T]{m: m, d: d, prevZ: make([]T, len(z)), prevG: make([]T, len(z)),
		us: make([]T, p.Batch*m*d), vs: make([]T, p.Batch*m*d), states: make([]broydenState, p.Batch),
		g: make([]T, d), dz: make([]T, d), dg: make([]T, d), bdg: make([]T, d)}
	for !tr.Exhausted() {
		if err := p.F(fz, z); err != nil {
			return FailedResult[T](s.Name(), p.Batch, err)
		}
		if tr.Observe(z, fz) == 0 {
			break
		}
		for smp := 0; smp < p.Batch; smp++ {
			if tr.live[smp] {
				w.step(smp, z[smp*d:(smp+1)*d], fz[smp*d:(smp+1)*d])
			}
		}
	}
	return tr.Result(s.Name())
}

// broydenWork holds a Broyden solve's per-sample history (the low-rank
// factors of B, the previous iterate and residual) and scratch.
type broydenWork[T Float] struct {
	m, d         int
	prevZ, prevG []T
	us, vs       []T
	states       []broydenState
	// Per-sample scratch: g, Δz, Δg, BΔg.
	g, dz, dg, bdg []T
}

// step updates sample smp's inverse-Jacobian estimate from its new
// iterate zs (image fs) and takes the quasi-Newton step z ← z − B g.
func (w *broydenWork[T]) step(smp int, zs, fs []T) {
	m, d := w.m, w.d
	g, dz, dg, bdg := w.g, w.dz, w.dg, w.bdg
	st := &w.states[smp]
	pz, pg := w.prevZ[smp*d:(smp+1)*d], w.prevG[smp*d:(smp+1)*d]
	U, V := w.us[smp*m*d:(smp+1)*m*d], w.vs[smp*m*d:(smp+1)*m*d]
	for i := range g {
		g[i] = fs[i] - zs[i]
	}
	if st.started {
		for i := range dz {
			dz[i] = zs[i] - pz[i]
			dg[i] = g[i] - pg[i]
		}
		// u = (Δz − BΔg)/(Δzᵀ BΔg), v = Bᵀ Δz. A full history restarts
		// from B = −I first.
		if st.n == m {
			st.n = 0
		}
		slot := st.n
		applyB(bdg, dg, U, V, st.n, d, false)
		den := dot(dz, bdg)
		scale := math.Sqrt(dot(dz, dz) * dot(bdg, bdg))
		if math.Abs(den) > 1e-12*scale && !isNonFinite(den) {
			u, v := U[slot*d:(slot+1)*d], V[slot*d:(slot+1)*d]
			applyB(dg, dz, U, V, st.n, d, true) // dg is free now
			inv := T(1 / den)
			for i := range u {
				u[i] = (dz[i] - bdg[i]) * inv
			}
			copy(v, dg)
			st.n++
		}
	}
	copy(pz, zs)
	copy(pg, g)
	st.started = true
	// Step: z ← z − B g.
	applyB(dz, g, U, V, st.n, d, false)
	ok := true
	for i := range zs {
		zs[i] -= dz[i]
		if isNonFinite(float64(zs[i])) {
			ok = false
		}
	}
	if !ok {
		st.n, st.started = 0, false
		for i := range zs {
			zs[i] = pz[i] + g[i]
		}
	}
}

// applyB writes B·x (or Bᵀ·x when trans) into out, with
// B = −I + Σ_{j<n} u_j v_jᵀ.
func applyB[T Float](out, x, U, V []T, n, d int, trans bool) {
	for i := range out {
		out[i] = -x[i]
	}
	for j := 0; j < n; j++ {
		u, v := U[j*d:(j+1)*d], V[j*d:(j+1)*d]
		if trans {
			u, v = v, u
		}
		c := T(dot(v, x))
		for i := range out {
			out[i] += c * u[i]
		}
	}
}
