package deq

import "context"

// Float is the element type of every buffer in this package.
type Float interface{ ~float32 | ~float64 }

// Func evaluates a batched map: it writes F(z) into out. Both slices hold
// Batch rows of Dim values each, row-major. Func must not retain either
// slice. A returned error aborts the solve with status Failed.
type Func[T Float] func(out, z []T) error

// Problem is a batch of independent fixed-point problems z = F(z).
type Problem[T Float] struct {
	// F is the batched map. Required.
	F Func[T]
	// Batch is the number of independent problems (rows). Must be > 0.
	Batch int
	// Dim is the size of one problem's state. Must be > 0.
	Dim int
	// Z0 is the starting point, Batch*Dim values. Nil means zeros.
	// The solver does not modify it.
	Z0 []T
	// Ctx, when set, bounds the solve: once it is cancelled or its
	// deadline passes the solver stops at its next iteration with status
	// Interrupted and returns each sample's best iterate so far.
	Ctx context.Context
}

func (p Problem[T]) validate() error {
	switch {
	case p.F == nil:
		return errorf("problem has no map F")
	case p.Batch <= 0 || p.Dim <= 0:
		return errorf("problem shape Batch=%d Dim=%d must be positive", p.Batch, p.Dim)
	case p.Z0 != nil && len(p.Z0) != p.Batch*p.Dim:
		return errorf("Z0 has %d values, want Batch*Dim = %d", len(p.Z0), p.Batch*p.Dim)
	}
	return nil
}

// Linear is a batch of independent affine fixed-point problems
// u = G + M(u), where M is linear; the adjoint systems u = g + J_F(z*)ᵀu of
// implicit differentiation have this form with M = J_F(z*)ᵀ.
type Linear[T Float] struct {
	// Apply writes M(v) into out for the whole batch. Required.
	Apply Func[T]
	// G is the constant term, Batch*Dim values. Required.
	G []T
	// Batch and Dim give the layout of G, as in Problem.
	Batch, Dim int
	// U0 is the starting point; nil means G (the one-term Neumann series).
	U0 []T
	// Ctx bounds the solve, as Problem.Ctx does.
	Ctx context.Context
}

func (l Linear[T]) validate() error {
	switch {
	case l.Apply == nil:
		return errorf("linear problem has no operator Apply")
	case l.Batch <= 0 || l.Dim <= 0:
		return errorf("linear problem shape Batch=%d Dim=%d must be positive", l.Batch, l.Dim)
	case len(l.G) != l.Batch*l.Dim:
		return errorf("G has %d values, want Batch*Dim = %d", len(l.G), l.Batch*l.Dim)
	case l.U0 != nil && len(l.U0) != l.Batch*l.Dim:
		return errorf("U0 has %d values, want Batch*Dim = %d", len(l.U0), l.Batch*l.Dim)
	}
	return nil
}

// AsProblem turns the affine problem into the fixed-point problem
// u = G + M(u) that Picard, Anderson and Broyden solve.
func (l Linear[T]) AsProblem() Problem[T] {
	g := l.G
	z0 := l.U0
	if z0 == nil {
		z0 = g
	}
	return Problem[T]{
		Batch: l.Batch,
		Dim:   l.Dim,
		Z0:    z0,
		Ctx:   l.Ctx,
		F: func(out, u []T) error {
			if err := l.Apply(out, u); err != nil {
				return err
			}
			for i := range out {
				out[i] += g[i]
			}
			return nil
		},
	}
}
