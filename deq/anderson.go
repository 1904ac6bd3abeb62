package deq

import "math"

// Anderson is Anderson acceleration (type II) with per-sample mixing
// coefficients. Each sample keeps its last Memory iterates x_i and
// residuals g_i = F(x_i) − x_i and steps to
//
//	z ← Σ α_i (x_i + Mixing·g_i),  α = argmin ‖Σ α_i g_i‖ subject to Σ α_i = 1.
//
// The Gram matrix GᵀG of each sample is updated incrementally (one column
// per iteration, O(Memory·Dim) work) rather than recomputed. When the small
// regularised system is singular or produces non-finite values, the sample
// restarts from a plain (mixed) Picard step instead of failing.
type Anderson struct {
	// Memory is the number of past iterates kept per sample. Zero means 5.
	Memory int
	// Ridge regularises the least-squares system relative to its scale:
	// GᵀG + Ridge·max(diag(GᵀG))·I. Zero means 1e-8.
	Ridge float64
	// Mixing is the weight β of the residual in the step, in (0, 1].
	// Zero means 1.
	Mixing float64
}

var (
	_ Solver       = Anderson{}
	_ LinearSolver = Anderson{}
)

// Name implements Solver.
func (Anderson) Name() string { return "anderson" }

// Solve64 implements Solver.
func (s Anderson) Solve64(p Problem[float64], st Stop) Result[float64] { return anderson(s, p, st) }

// Solve32 implements Solver.
func (s Anderson) Solve32(p Problem[float32], st Stop) Result[float32] { return anderson(s, p, st) }

// SolveLinear64 implements LinearSolver.
func (s Anderson) SolveLinear64(l Linear[float64], st Stop) Result[float64] {
	return anderson(s, l.AsProblem(), st)
}

// SolveLinear32 implements LinearSolver.
func (s Anderson) SolveLinear32(l Linear[float32], st Stop) Result[float32] {
	return anderson(s, l.AsProblem(), st)
}

func (s Anderson) resolved() (Anderson, error) {
	if s.Memory == 0 {
		s.Memory = 5
	}
	if s.Ridge == 0 {
		s.Ridge = 1e-8
	}
	if s.Mixing == 0 {
		s.Mixing = 1
	}
	switch {
	case s.Memory < 1:
		return s, errorf("Anderson.Memory %d must be ≥ 1", s.Memory)
	case !(s.Ridge >= 0) || math.IsInf(s.Ridge, 0):
		return s, errorf("Anderson.Ridge %v must be finite and ≥ 0", s.Ridge)
	case !(s.Mixing > 0 && s.Mixing <= 1):
		return s, errorf("Anderson.Mixing %v is outside (0, 1]", s.Mixing)
	}
	return s, nil
}

// andersonState is one sample's history: which of its m slots hold
// iterates, oldest first, and the Gram matrix of the residuals by slot.
type andersonState struct {
	slots []int
	gram  []float64 // m×m by slot index, symmetric
}

// push returns the slot for a new entry, evicting the oldest when full.
func (st *andersonState) push(m int) int {
	if len(st.slots) < m {
	candidates:
		for j := 0; j < m; j++ {
			for _, k := range st.slots {
				if k == j {
					continue candidates
				}
			}
			st.slots = append(st.slots, j)
			return j
		}
	}
	slot := st.slots[0]
	copy(st.slots, st.slots[1:])
	st.slots[len(st.slots)-1] = slot
	return slot
}

// restart forgets every slot but keep.
func (st *andersonState) restart(keep int) {
	st.slots = append(st.slots[:0], keep)
}

func anderson[T Float](s Anderson, p Problem[T], stop Stop) Result[T] {
	s, err := s.resolved()
	if err != nil {
		return FailedResult[T](s.Name(), p.Batch, err)
	}
	m, d := s.Memory, p.Dim
	tr := NewTracker[T](stop, p.Batch, d)
	tr.Watch(p.Ctx)
	z := start(p)
	fz := make([]T, len(z))
	// xs and gs hold, per sample, m slots of d values.
	xs := make([]T, p.Batch*m*d)
	gs := make([]T, p.Batch*m*d)
	states := make([]andersonState, p.Batch)
	grams := make([]float64, p.Batch*m*m)
	slots := make([]int, p.Batch*m)
	for i := range states {
		states[i].gram = grams[i*m*m : (i+1)*m*m]
		states[i].slots = slots[i*m : i*m : (i+1)*m]
	}
	sys := newSmallSystem(m)
	beta := T(s.Mixing)

	for !tr.Exhausted() {
		if err := p.F(fz, z); err != nil {
			return FailedResult[T](s.Name(), p.Batch, err)
		}
		if tr.Observe(z, fz) == 0 {
			break
		}
		for smp := 0; smp < p.Batch; smp++ {
			if !tr.live[smp] {
				continue
			}
			st := &states[smp]
			zs, fs := z[smp*d:(smp+1)*d], fz[smp*d:(smp+1)*d]
			hx, hg := xs[smp*m*d:(smp+1)*m*d], gs[smp*m*d:(smp+1)*m*d]
			slot := st.push(m)
			x, g := hx[slot*d:(slot+1)*d], hg[slot*d:(slot+1)*d]
			copy(x, zs)
			for i := range g {
				g[i] = fs[i] - zs[i]
			}
			// Incremental Gram update: one row and column.
			for _, j := range st.slots {
				v := dot(g, hg[j*d:(j+1)*d])
				st.gram[slot*m+j] = v
				st.gram[j*m+slot] = v
			}
			alpha, ok := sys.mixing(st.gram, m, st.slots, s.Ridge)
			if !ok || !andersonStep(zs, hx, hg, st.slots, alpha, d, beta) {
				// Singular system or non-finite step: restart from the
				// newest entry with a mixed Picard step.
				st.restart(slot)
				for i := range zs {
					zs[i] = x[i] + beta*g[i]
				}
			}
		}
	}
	return tr.Result(s.Name())
}

// andersonStep writes Σ α_j (x_j + β g_j) over the given slots into z and
// reports whether the result is finite.
func andersonStep[T Float](z, xs, gs []T, slots []int, alpha []float64, d int, beta T) bool {
	for i := range z {
		z[i] = 0
	}
	for k, j := range slots {
		a := T(alpha[k])
		if a == 0 {
			continue
		}
		x, g := xs[j*d:(j+1)*d], gs[j*d:(j+1)*d]
		for i := range z {
			z[i] += a * (x[i] + beta*g[i])
		}
	}
	for _, v := range z {
		if isNonFinite(float64(v)) {
			return false
		}
	}
	return true
}

func dot[T Float](a, b []T) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}
