package deq

import "math"

// GMRES is restarted GMRES for the affine problems u = G + M(u), that is
// (I − M)u = G, with a separate Krylov basis, Hessenberg matrix and Givens
// rotations per sample. It is a LinearSolver only: it solves the adjoint
// systems of IFT, not nonlinear fixed points. Convergence does not depend
// on M being contractive, only on (I − M) being well conditioned, so it
// also serves maps whose Jacobian has spectral radius near or above 1.
//
// Stop.MaxIter bounds applications of M; one of them at each restart
// computes the true residual, which is what the Stop rule tests.
type GMRES struct {
	// Restart is the Krylov dimension before a restart. Zero means 20.
	Restart int
}

var _ LinearSolver = GMRES{}

// Name implements LinearSolver.
func (GMRES) Name() string { return "gmres" }

// SolveLinear64 implements LinearSolver.
func (s GMRES) SolveLinear64(l Linear[float64], st Stop) Result[float64] { return gmres(s, l, st) }

// SolveLinear32 implements LinearSolver.
func (s GMRES) SolveLinear32(l Linear[float32], st Stop) Result[float32] { return gmres(s, l, st) }

// gmresState is one sample's Arnoldi process within a cycle.
type gmresState struct {
	h      []float64 // (r+1)×r Hessenberg, row-major
	cs, sn []float64 // Givens rotations
	gamma  []float64 // rotated right-hand side, r+1
	k      int       // basis vectors built this cycle
	active bool      // still extending its basis this cycle
	ref    float64   // ‖F(u)‖ at the cycle start, for relative stopping
}

func gmres[T Float](s GMRES, l Linear[T], stop Stop) Result[T] {
	r := s.Restart
	if r == 0 {
		r = 20
	}
	if r < 1 {
		return FailedResult[T](s.Name(), l.Batch, errorf("GMRES.Restart %d must be ≥ 1", s.Restart))
	}
	if stop.MaxIter < 2 {
		return FailedResult[T](s.Name(), l.Batch, errorf("GMRES needs MaxIter ≥ 2 (one step and one residual check), got %d", stop.MaxIter))
	}
	w := newGMRESWork(l, stop, r)
	for {
		// True residual: F(u) = G + M u.
		if err := l.Apply(w.fu, w.u); err != nil {
			return FailedResult[T](s.Name(), l.Batch, err)
		}
		for i := range w.fu {
			w.fu[i] += l.G[i]
		}
		if w.tr.Observe(w.u, w.fu) == 0 || w.tr.Exhausted() {
			break
		}
		w.startCycle()
		if err := w.arnoldiSteps(); err != nil {
			return FailedResult[T](s.Name(), l.Batch, err)
		}
		w.update()
	}
	return w.tr.Result(s.Name())
}

// gmresWork holds a GMRES solve's buffers: the iterate, its image, the
// per-sample Krylov bases and Arnoldi states.
type gmresWork[T Float] struct {
	l       Linear[T]
	stop    Stop
	r       int // restart length
	tr      *Tracker[T]
	u, fu   []T
	basis   []T // per sample, r+1 vectors of Dim
	in, out []T // batched operator input and output
	states  []gmresState
	y       []float64
}

func newGMRESWork[T Float](l Linear[T], stop Stop, r int) *gmresWork[T] {
	b, d := l.Batch, l.Dim
	w := &gmresWork[T]{l: l, stop: stop, r: r, tr: NewTracker[T](stop, b, d),
		u: make([]T, b*d), fu: make([]T, b*d), basis: make([]T, b*(r+1)*d),
		in: make([]T, b*d), out: make([]T, b*d), states: make([]gmresState, b), y: make([]float64, r)}
	w.tr.Watch(l.Ctx)
	if l.U0 != nil {
		copy(w.u, l.U0)
	} else {
		copy(w.u, l.G)
	}
	hs := make([]float64, b*(r+1)*r)
	rot := make([]float64, b*(3*r+1)) // cs, sn, gamma per sample
	for i := range w.states {
		q := rot[i*(3*r+1) : (i+1)*(3*r+1)]
		w.states[i] = gmresState{
			h:     hs[i*(r+1)*r : (i+1)*(r+1)*r],
			cs:    q[:r],
			sn:    q[r : 2*r],
			gamma: q[2*r:],
		}
	}
	return w
}

// startCycle starts a cycle for every live sample: v_0 = r/‖r‖.
func (w *gmresWork[T]) startCycle() {
	d, r := w.l.Dim, w.r
	for smp := range w.states {
		st := &w.states[smp]
		st.active, st.k = w.tr.live[smp], 0
		if !st.active {
			continue
		}
		lo, hi := smp*d, (smp+1)*d
		v0 := w.basis[smp*(r+1)*d : smp*(r+1)*d+d]
		beta := 0.0
		for i := range v0 {
			v0[i] = w.fu[lo+i] - w.u[lo+i]
			beta += float64(v0[i]) * float64(v0[i])
		}
		beta = math.Sqrt(beta)
		_, st.ref, _ = residual(w.u[lo:hi], w.fu[lo:hi])
		if beta == 0 {
			st.active = false
			continue
		}
		scaleVec(v0, 1/beta)
		for i := range st.gamma {
			st.gamma[i] = 0
		}
		st.gamma[0] = beta
	}
}

// arnoldiSteps extends the active samples' bases, keeping one evaluation
// of the budget for the next true residual.
func (w *gmresWork[T]) arnoldiSteps() error {
	d, r := w.l.Dim, w.r
	for j := 0; j < r && w.tr.iter < w.stop.MaxIter-1; j++ {
		if w.l.Ctx != nil && w.l.Ctx.Err() != nil {
			return nil // the next true residual's Observe stops the solve
		}
		anyActive := false
		for smp := range w.states {
			dst := w.in[smp*d : (smp+1)*d]
			if w.states[smp].active {
				copy(dst, w.basis[(smp*(r+1)+j)*d:(smp*(r+1)+j+1)*d])
				anyActive = true
			} else {
				clear(dst)
			}
		}
		if !anyActive {
			return nil
		}
		if err := w.l.Apply(w.out, w.in); err != nil {
			return err
		}
		w.tr.Spend(1)
		for smp := range w.states {
			if w.states[smp].active {
				w.extend(smp, j)
			}
		}
	}
	return nil
}

// extend adds v_{j+1} to sample smp's basis from M v_j (in w.out) and
// decides whether its cycle goes on.
func (w *gmresWork[T]) extend(smp, j int) {
	d, r := w.l.Dim, w.r
	st := &w.states[smp]
	vs := w.basis[smp*(r+1)*d : (smp+1)*(r+1)*d]
	next := vs[(j+1)*d : (j+2)*d]
	// next = (I − M) v_j
	for i := range next {
		next[i] = w.in[smp*d+i] - w.out[smp*d+i]
	}
	arnoldi(st, vs, next, j, r)
	st.k = j + 1
	est := math.Abs(st.gamma[j+1])
	switch {
	case st.h[j*r+j] == 0: // singular: drop the column
		st.active, st.k = false, j
	case w.stop.Tol >= 0 && w.stop.measure(est, st.ref) <= w.stop.Tol/2:
		st.active = false // converged by the estimate
	}
	if isNonFinite(est) {
		st.active, st.k = false, 0
	}
}

// update sets u ← u + V_k y for every live sample, y solving the
// triangular system R y = γ.
func (w *gmresWork[T]) update() {
	d, r, y := w.l.Dim, w.r, w.y
	for smp := range w.states {
		st := &w.states[smp]
		if !w.tr.live[smp] || st.k == 0 {
			continue
		}
		k := st.k
		for i := k - 1; i >= 0; i-- {
			v := st.gamma[i]
			for c := i + 1; c < k; c++ {
				v -= st.h[i*r+c] * y[c]
			}
			y[i] = v / st.h[i*r+i]
		}
		us := w.u[smp*d : (smp+1)*d]
		vs := w.basis[smp*(r+1)*d : (smp+1)*(r+1)*d]
		for c := 0; c < k; c++ {
			if isNonFinite(y[c]) {
				break
			}
			yc := T(y[c])
			for i, v := range vs[c*d : (c+1)*d] {
				us[i] += yc * v
			}
		}
	}
}

// arnoldi orthogonalises w = (I − M) v_j against v_0..v_j (modified
// Gram–Schmidt), normalises it in place as v_{j+1}, and applies and extends
// the sample's Givens rotations.
func arnoldi[T Float](st *gmresState, vs, w []T, j, r int) {
	d := len(w)
	h := st.h
	for i := 0; i <= j; i++ {
		vi := vs[i*d : (i+1)*d]
		c := dot(w, vi)
		h[i*r+j] = c
		ct := T(c)
		for k := range w {
			w[k] -= ct * vi[k]
		}
	}
	nw := math.Sqrt(dot(w, w))
	h[(j+1)*r+j] = nw
	if nw > 0 {
		scaleVec(w, 1/nw)
	}
	// Apply previous rotations to column j.
	for i := 0; i < j; i++ {
		a, b := h[i*r+j], h[(i+1)*r+j]
		h[i*r+j] = st.cs[i]*a + st.sn[i]*b
		h[(i+1)*r+j] = -st.sn[i]*a + st.cs[i]*b
	}
	// New rotation zeroing h[j+1][j].
	a, b := h[j*r+j], h[(j+1)*r+j]
	rho := math.Hypot(a, b)
	c, s := 1.0, 0.0
	if rho != 0 {
		c, s = a/rho, b/rho
	}
	st.cs[j], st.sn[j] = c, s
	h[j*r+j] = rho
	h[(j+1)*r+j] = 0
	g := st.gamma[j]
	st.gamma[j] = c * g
	st.gamma[j+1] = -s * g
}

// scaleVec multiplies v by a in place.
func scaleVec[T Float](v []T, a float64) {
	at := T(a)
	for i := range v {
		v[i] *= at
	}
}
