package deq

// Picard is damped fixed-point iteration:
//
//	z ← (1 − Damping)·z + Damping·F(z).
//
// It converges linearly at the rate of F's contraction; use it when F is
// strongly contractive or as the reference method.
type Picard struct {
	// Damping is the weight of F(z) in each step, in (0, 1]. Zero means 1
	// (plain iteration). Values below 1 help oscillating maps.
	Damping float64
}

var (
	_ Solver       = Picard{}
	_ LinearSolver = Picard{}
)

// Name implements Solver.
func (Picard) Name() string { return "picard" }

// Solve64 implements Solver.
func (s Picard) Solve64(p Problem[float64], st Stop) Result[float64] { return picard(s, p, st) }

// Solve32 implements Solver.
func (s Picard) Solve32(p Problem[float32], st Stop) Result[float32] { return picard(s, p, st) }

// SolveLinear64 implements LinearSolver.
func (s Picard) SolveLinear64(l Linear[float64], st Stop) Result[float64] {
	return picard(s, l.AsProblem(), st)
}

// SolveLinear32 implements LinearSolver.
func (s Picard) SolveLinear32(l Linear[float32], st Stop) Result[float32] {
	return picard(s, l.AsProblem(), st)
}

func picard[T Float](s Picard, p Problem[T], stop Stop) Result[T] {
	lambda := s.Damping
	if lambda == 0 {
		lambda = 1
	}
	if !(lambda > 0 && lambda <= 1) {
		return FailedResult[T](s.Name(), p.Batch, errorf("Picard.Damping %v is outside (0, 1]", s.Damping))
	}
	tr := NewTracker[T](stop, p.Batch, p.Dim)
	tr.Watch(p.Ctx)
	z := start(p)
	fz := make([]T, len(z))
	l, k := T(lambda), T(1-lambda)
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
			zs, fs := z[smp*p.Dim:(smp+1)*p.Dim], fz[smp*p.Dim:(smp+1)*p.Dim]
			if lambda == 1 {
				copy(zs, fs)
				continue
			}
			for i := range zs {
				zs[i] = k*zs[i] + l*fs[i]
			}
		}
	}
	return tr.Result(s.Name())
}
