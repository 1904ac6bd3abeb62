package deq

// Solver finds fixed points of batched maps. Picard, Anderson and Broyden
// implement it, and so can a type outside this package (the interface is
// open, like gonum's optimize.Method): pass it as a layer's forward solver
// and the layer calls it through Solve. Tracker does the per-sample
// bookkeeping every solver shares (residuals, best iterate, statuses,
// divergence and NaN detection) and FailedResult reports a solve that
// could not run.
type Solver interface {
	// Name identifies the method in stats and messages.
	Name() string
	// Solve64 and Solve32 solve p under stop. Callers go through Solve,
	// which has validated p and stop and filled in stop's defaults, so
	// implementations may rely on both. They must not retain p's buffers
	// and must report trouble in the Result's Status, never panic.
	Solve64(p Problem[float64], stop Stop) Result[float64]
	Solve32(p Problem[float32], stop Stop) Result[float32]
}

// LinearSolver solves batched affine fixed-point problems u = G + M(u),
// the adjoint systems of implicit differentiation (IFT.Solver). Every
// built-in Solver is one (applied to Linear.AsProblem); GMRES is one only.
// Like Solver, it is open to implementations outside this package.
type LinearSolver interface {
	// Name identifies the method in stats and messages.
	Name() string
	// SolveLinear64 and SolveLinear32 solve l under stop; as for Solver,
	// SolveLinear has validated both and resolved stop's defaults.
	SolveLinear64(l Linear[float64], stop Stop) Result[float64]
	SolveLinear32(l Linear[float32], stop Stop) Result[float32]
}

// Solve runs the solver on the problem under the stopping rule. A nil
// solver means Anderson{}. Invalid input gives a Failed result whose Err
// says what is wrong; Solve never panics on numerical trouble.
func Solve[T Float](s Solver, p Problem[T], stop Stop) Result[T] {
	if s == nil {
		s = Anderson{}
	}
	if err := p.validate(); err != nil {
		return FailedResult[T](s.Name(), p.Batch, err)
	}
	if err := stop.validate(); err != nil {
		return FailedResult[T](s.Name(), p.Batch, err)
	}
	stop = stop.resolved()
	switch q := any(p).(type) {
	case Problem[float64]:
		return any(s.Solve64(q, stop)).(Result[T])
	case Problem[float32]:
		return any(s.Solve32(q, stop)).(Result[T])
	}
	return FailedResult[T](s.Name(), p.Batch, errorf("element type %T is neither float32 nor float64", *new(T)))
}

// SolveLinear runs the linear solver on u = G + M(u). A nil solver means
// Anderson{}.
func SolveLinear[T Float](s LinearSolver, l Linear[T], stop Stop) Result[T] {
	if s == nil {
		s = Anderson{}
	}
	if err := l.validate(); err != nil {
		return FailedResult[T](s.Name(), l.Batch, err)
	}
	if err := stop.validate(); err != nil {
		return FailedResult[T](s.Name(), l.Batch, err)
	}
	stop = stop.resolved()
	switch q := any(l).(type) {
	case Linear[float64]:
		return any(s.SolveLinear64(q, stop)).(Result[T])
	case Linear[float32]:
		return any(s.SolveLinear32(q, stop)).(Result[T])
	}
	return FailedResult[T](s.Name(), l.Batch, errorf("element type %T is neither float32 nor float64", *new(T)))
}

// start returns a fresh copy of the starting point.
func start[T Float](p Problem[T]) []T {
	z := make([]T, p.Batch*p.Dim)
	copy(z, p.Z0)
	return z
}

// Iterate applies F exactly k times from the starting point, with no
// stopping test: z_k = F^k(z_0). It is the iterate y_k of the theory of
// test-time compute. Non-finite values give a NonFinite result.
func Iterate[T Float](p Problem[T], k int) Result[T] {
	n := max(p.Batch*p.Dim, 0)
	return IterateInto(p, k, make([]T, n), make([]T, n))
}

// IterateInto is Iterate writing into z (Batch*Dim values, which holds the
// result and is the returned Result.Z) with scratch of the same length, so
// repeated calls (inference at a fixed iteration count) allocate nothing
// for the iterates.
func IterateInto[T Float](p Problem[T], k int, z, scratch []T) Result[T] {
	const name = "iterate"
	if err := p.validate(); err != nil {
		return FailedResult[T](name, p.Batch, err)
	}
	if k < 0 {
		return FailedResult[T](name, p.Batch, errorf("iteration count %d is negative", k))
	}
	if len(z) != p.Batch*p.Dim || len(scratch) != len(z) {
		return FailedResult[T](name, p.Batch, errorf("IterateInto needs buffers of %d values, got %d and %d", p.Batch*p.Dim, len(z), len(scratch)))
	}
	if p.Z0 != nil {
		copy(z, p.Z0)
	} else {
		clear(z)
	}
	cur, next := z, scratch
	done := 0
	for ; done < k; done++ {
		if p.Ctx != nil && p.Ctx.Err() != nil {
			break
		}
		if err := p.F(next, cur); err != nil {
			return FailedResult[T](name, p.Batch, err)
		}
		cur, next = next, cur
	}
	if done%2 == 1 {
		copy(z, cur)
	}
	st := make([]Status, p.Batch)
	status := Converged
	var cause error
	if done < k { // the context stopped it: the iterate y_done is returned
		status, cause = Interrupted, p.Ctx.Err()
		for s := range st {
			st[s] = Interrupted
		}
	}
	for s := range st {
		for _, v := range z[s*p.Dim : (s+1)*p.Dim] {
			if isNonFinite(float64(v)) {
				st[s], status = NonFinite, NonFinite
				break
			}
		}
	}
	return Result[T]{Z: z, Status: status, cause: cause, Stats: Stats{Iterations: done, SampleStatus: st, Solver: name, MaxIter: k}}
}
