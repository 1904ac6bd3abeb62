package deq

import "context"

// Adjoint is the batch of adjoint problems of implicit differentiation at a
// fixed point z*: given the incoming gradient G = ∂loss/∂z*, find u with
//
//	u = G + J_F(z*)ᵀ u,
//
// after which the parameter gradient is uᵀ ∂F/∂θ (one vector–Jacobian
// product of F, taken by the caller).
type Adjoint[T Float] struct {
	// VJP writes J_F(z*)ᵀ v into out for the whole batch. Required.
	VJP Func[T]
	// G is the incoming gradient, Batch*Dim values. Required.
	G []T
	// Batch and Dim give the layout, as in Problem.
	Batch, Dim int
	// U0 warm-starts iterative modes; nil means G.
	U0 []T
	// Ctx bounds iterative modes, as Problem.Ctx does.
	Ctx context.Context
}

// Backward is a gradient mode: how the adjoint vector u is obtained.
// IFT, JFB, Phantom and Unrolled implement it; call it through
// SolveAdjoint. Modes are values, so forward and backward settings can be
// swapped independently.
type Backward interface {
	// Name identifies the mode in stats and messages.
	Name() string
	// Exact reports whether the mode yields the true gradient of the
	// layer's output (up to solver tolerance).
	Exact() bool
	// Adjoint64 and Adjoint32 compute u for a; SolveAdjoint has validated
	// a. Like Solver, the interface is open to modes outside this package.
	Adjoint64(a Adjoint[float64]) Result[float64]
	Adjoint32(a Adjoint[float32]) Result[float32]
}

// SolveAdjoint computes the adjoint vector u for the mode. A nil mode means
// IFT{}.
func SolveAdjoint[T Float](b Backward, a Adjoint[T]) Result[T] {
	if b == nil {
		b = IFT{}
	}
	l := Linear[T]{Apply: a.VJP, G: a.G, Batch: a.Batch, Dim: a.Dim, U0: a.U0, Ctx: a.Ctx}
	if err := l.validate(); err != nil {
		return FailedResult[T](b.Name(), a.Batch, err)
	}
	switch q := any(a).(type) {
	case Adjoint[float64]:
		return any(b.Adjoint64(q)).(Result[T])
	case Adjoint[float32]:
		return any(b.Adjoint32(q)).(Result[T])
	}
	return FailedResult[T](b.Name(), a.Batch, errorf("element type %T is neither float32 nor float64", *new(T)))
}

// IFT is the exact implicit-function-theorem gradient: the adjoint system
// u = G + J_F(z*)ᵀu is solved to the Stop rule's tolerance by a linear
// solver — fixed-point iteration (Picard), Anderson or GMRES.
type IFT struct {
	// Solver solves the adjoint system. Nil means Anderson{}. Picard
	// converges when J_F has spectral radius < 1; GMRES also beyond.
	Solver LinearSolver
	// Stop is the adjoint's stopping rule; its zero value is Stop's.
	Stop Stop
}

// Name implements Backward.
func (b IFT) Name() string {
	if b.Solver == nil {
		return "ift-anderson"
	}
	return "ift-" + b.Solver.Name()
}

// Exact implements Backward.
func (IFT) Exact() bool { return true }

// Adjoint64 implements Backward.
func (b IFT) Adjoint64(a Adjoint[float64]) Result[float64] { return ift(b, a) }

// Adjoint32 implements Backward.
func (b IFT) Adjoint32(a Adjoint[float32]) Result[float32] { return ift(b, a) }

func ift[T Float](b IFT, a Adjoint[T]) Result[T] {
	r := SolveLinear(b.Solver, Linear[T]{Apply: a.VJP, G: a.G, Batch: a.Batch, Dim: a.Dim, U0: a.U0, Ctx: a.Ctx}, b.Stop)
	r.Stats.Solver = b.Name()
	return r
}

// JFB is the Jacobian-free backward pass (Fung et al. 2022): u = G, as if
// J_F(z*) were zero. It costs nothing and is a descent direction when F
// is contractive, but it is not the exact gradient.
type JFB struct{}

// Name implements Backward.
func (JFB) Name() string { return "jfb" }

// Exact implements Backward.
func (JFB) Exact() bool { return false }

// Adjoint64 implements Backward.
func (b JFB) Adjoint64(a Adjoint[float64]) Result[float64] { return jfb(b, a) }

// Adjoint32 implements Backward.
func (b JFB) Adjoint32(a Adjoint[float32]) Result[float32] { return jfb(b, a) }

func jfb[T Float](b JFB, a Adjoint[T]) Result[T] {
	u := make([]T, len(a.G))
	copy(u, a.G)
	return exactResult(b.Name(), u, a.Batch, 0)
}

// Phantom is the phantom gradient (Geng et al. 2021): differentiating
// Steps damped iterations z ← (1−λ)z + λF(z) started at z*, with the
// Jacobian taken at z*:
//
//	u = λ Σ_{i<Steps} ((1−λ)I + λJ_Fᵀ)^i G.
//
// It costs Steps−1 vector–Jacobian products and tends to the IFT gradient
// as Steps grows when F is contractive.
type Phantom struct {
	// Steps is the number of unrolled damped steps k ≥ 1. Zero means 5.
	Steps int
	// Damping is λ in (0, 1]. Zero means 0.5.
	Damping float64
}

// Name implements Backward.
func (Phantom) Name() string { return "phantom" }

// Exact implements Backward.
func (Phantom) Exact() bool { return false }

// Adjoint64 implements Backward.
func (b Phantom) Adjoint64(a Adjoint[float64]) Result[float64] { return phantom(b, a) }

// Adjoint32 implements Backward.
func (b Phantom) Adjoint32(a Adjoint[float32]) Result[float32] { return phantom(b, a) }

// Resolved returns the mode with defaults filled in.
func (b Phantom) Resolved() Phantom {
	if b.Steps == 0 {
		b.Steps = 5
	}
	if b.Damping == 0 {
		b.Damping = 0.5
	}
	return b
}

func phantom[T Float](b Phantom, a Adjoint[T]) Result[T] {
	b = b.Resolved()
	if b.Steps < 1 || !(b.Damping > 0 && b.Damping <= 1) {
		return FailedResult[T](b.Name(), a.Batch, errorf("Phantom{Steps: %d, Damping: %v} needs Steps ≥ 1 and Damping in (0, 1]", b.Steps, b.Damping))
	}
	lam := T(b.Damping)
	v := make([]T, len(a.G))
	copy(v, a.G)
	u := make([]T, len(a.G))
	copy(u, a.G)
	jv := make([]T, len(a.G))
	steps := 1
	for ; steps < b.Steps; steps++ {
		if a.Ctx != nil && a.Ctx.Err() != nil {
			break
		}
		if err := a.VJP(jv, v); err != nil {
			return FailedResult[T](b.Name(), a.Batch, err)
		}
		for k := range v {
			v[k] = (1-lam)*v[k] + lam*jv[k]
			u[k] += v[k]
		}
	}
	for k := range u {
		u[k] *= lam
	}
	r := exactResult(b.Name(), u, a.Batch, steps-1)
	if steps < b.Steps { // the context stopped it: the series so far
		r.Status, r.cause = Interrupted, a.Ctx.Err()
		for s := range r.Stats.SampleStatus {
			r.Stats.SampleStatus[s] = Interrupted
		}
	}
	return r
}

// Unrolled is backpropagation through Steps iterations of F from the
// starting point: the layer's output is then the Steps-th iterate, and its
// gradient is exact for that output. It needs the parameter derivatives of
// F at every iterate, so it is realised where the map's parameters live:
// layers builds Steps copies of the cell into the graph (and its training
// memory grows with Steps). SolveAdjoint reports a Failed status for it.
type Unrolled struct {
	// Steps is the number of unrolled iterations K ≥ 1. Zero means 10.
	Steps int
}

// Name implements Backward.
func (Unrolled) Name() string { return "unrolled" }

// Exact implements Backward.
func (Unrolled) Exact() bool { return true }

// Resolved returns the mode with defaults filled in.
func (b Unrolled) Resolved() Unrolled {
	if b.Steps == 0 {
		b.Steps = 10
	}
	return b
}

// Adjoint64 implements Backward.
func (b Unrolled) Adjoint64(a Adjoint[float64]) Result[float64] {
	return unrolledAdjoint[float64](b, a.Batch)
}

// Adjoint32 implements Backward.
func (b Unrolled) Adjoint32(a Adjoint[float32]) Result[float32] {
	return unrolledAdjoint[float32](b, a.Batch)
}

func unrolledAdjoint[T Float](b Unrolled, batch int) Result[T] {
	return FailedResult[T](b.Name(), batch, errorf("Unrolled has no adjoint solve: differentiate through %d copies of the map instead (layers does this)", b.Resolved().Steps))
}

// exactResult wraps a directly computed adjoint vector in a Result.
func exactResult[T Float](name string, u []T, batch, iters int) Result[T] {
	st := make([]Status, batch)
	status := Converged
	dim := len(u) / batch
	for s := range st {
		for _, v := range u[s*dim : (s+1)*dim] {
			if isNonFinite(float64(v)) {
				st[s], status = NonFinite, NonFinite
				break
			}
		}
	}
	zeros := make([]float64, batch)
	its := make([]int, batch)
	for i := range its {
		its[i] = iters
	}
	return Result[T]{Z: u, Status: status, Stats: Stats{
		Iterations: iters, Residual: zeros, RelResidual: zeros, SampleIterations: its,
		BestIteration: its, SampleStatus: st, Solver: name, MaxIter: iters,
	}}
}
