package layers_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
)

// reducingPicard is a solver written outside package deq: damped
// fixed-point iteration z ← z + Damping·(F(z) − z) with a stopping rule of
// its own — a sample has converged when its residual ‖F(z) − z‖ has fallen
// to Reduction times its first residual (the deq.Stop tolerance is not
// used; MaxIter still bounds the work). It implements deq.Solver and, by
// solving the affine problem u = G + M(u) the same way, deq.LinearSolver,
// so it can be an implicit layer's forward solver and its adjoint solver.
type reducingPicard struct {
	Damping   float64 // in (0, 1]
	Reduction float64 // in (0, 1)
}

var (
	_ deq.Solver       = reducingPicard{}
	_ deq.LinearSolver = reducingPicard{}
)

func (reducingPicard) Name() string { return "reducing-picard" }

func (s reducingPicard) Solve64(p deq.Problem[float64], stop deq.Stop) deq.Result[float64] {
	return reduce(s, p, stop)
}

func (s reducingPicard) Solve32(p deq.Problem[float32], stop deq.Stop) deq.Result[float32] {
	return reduce(s, p, stop)
}

func (s reducingPicard) SolveLinear64(l deq.Linear[float64], stop deq.Stop) deq.Result[float64] {
	return reduce(s, l.AsProblem(), stop)
}

func (s reducingPicard) SolveLinear32(l deq.Linear[float32], stop deq.Stop) deq.Result[float32] {
	return reduce(s, l.AsProblem(), stop)
}

func reduce[T deq.Float](s reducingPicard, p deq.Problem[T], stop deq.Stop) deq.Result[T] {
	if !(s.Damping > 0 && s.Damping <= 1) || !(s.Reduction > 0 && s.Reduction < 1) {
		return deq.FailedResult[T](s.Name(), p.Batch, fmt.Errorf("reducingPicard{%v, %v}: Damping must be in (0, 1] and Reduction in (0, 1)", s.Damping, s.Reduction))
	}
	own := stop
	own.Tol = deq.Never // the tracker keeps the books; this solver decides convergence
	tr := deq.NewTracker[T](own, p.Batch, p.Dim)
	z, fz := make([]T, p.Batch*p.Dim), make([]T, p.Batch*p.Dim)
	copy(z, p.Z0)
	first := make([]float64, p.Batch)
	for !tr.Exhausted() {
		if err := p.F(fz, z); err != nil {
			return deq.FailedResult[T](s.Name(), p.Batch, err)
		}
		initial := tr.Iterations() == 0
		live := tr.Observe(z, fz)
		for smp := 0; smp < p.Batch; smp++ {
			if !tr.Live(smp) {
				continue
			}
			zs, fs := z[smp*p.Dim:(smp+1)*p.Dim], fz[smp*p.Dim:(smp+1)*p.Dim]
			r := 0.0
			for i := range zs {
				d := float64(fs[i] - zs[i])
				r += d * d
			}
			if r = math.Sqrt(r); initial {
				first[smp] = r
			}
			if r <= s.Reduction*first[smp] {
				tr.Freeze(smp, deq.Converged)
				live--
				continue
			}
			for i := range zs {
				zs[i] += T(s.Damping) * (fs[i] - zs[i])
			}
		}
		if live == 0 {
			break
		}
	}
	return tr.Result(s.Name())
}

// customSolverModel is an implicit dense layer whose forward and adjoint
// solves both use reducingPicard, with a loss that weighs every output.
func customSolverModel(g *G.ExprGraph, dt tensor.Dtype) (*G.Node, G.Nodes, *layers.Implicit, error) {
	rng := rand.New(rand.NewPCG(3, 4))
	s := layers.NewScope(g, dt, rng)
	solver := reducingPicard{Damping: 0.9, Reduction: 1e-12}
	stop := deq.Stop{MaxIter: 400}
	l := s.Implicit("deq", s.DenseCell("cell", 6, layers.Tanh), layers.ImplicitConfig{
		Forward: solver, Stop: stop, Backward: deq.IFT{Solver: solver, Stop: stop},
	})
	vals := make([]float64, 4*6)
	for i := range vals {
		vals[i] = rng.NormFloat64()
	}
	x := G.NewTensor(g, dt, 2, G.WithShape(4, 6), G.WithName("x"), G.WithValue(tensorOf(dt, vals, 4, 6)))
	z, err := l.Fwd(x)
	if err != nil {
		return nil, nil, nil, err
	}
	w := make([]float64, 4*6)
	for i := range w {
		w[i] = rng.NormFloat64()
	}
	weights := G.NewTensor(g, dt, 2, G.WithShape(4, 6), G.WithName("weights"), G.WithValue(tensorOf(dt, w, 4, 6)))
	zw, err := G.HadamardProd(z, weights)
	if err != nil {
		return nil, nil, nil, err
	}
	loss, err := G.Sum(zw)
	return loss, append(G.Nodes{x}, l.Params()...), l, err
}

func tensorOf(dt tensor.Dtype, vals []float64, shape ...int) tensor.Tensor {
	if dt == tensor.Float32 {
		v32 := make([]float32, len(vals))
		for i, v := range vals {
			v32[i] = float32(v)
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v32))
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(vals))
}

// A forward solver and an adjoint solver written outside package deq (a
// damped Picard iteration with its own stopping rule, above) passed to an
// implicit layer through ImplicitConfig.
func Example_customSolver() {
	g := G.NewGraph()
	loss, wrt, l, err := customSolverModel(g, tensor.Float64)
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := G.Grad(loss, wrt...); err != nil {
		fmt.Println(err)
		return
	}
	prog, locs, err := G.Compile(g)
	if err != nil {
		fmt.Println(err)
		return
	}
	vm := G.NewTapeMachine(g, G.WithPrecompiled(prog, locs))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		fmt.Println(err)
		return
	}
	st := l.Stats()
	fmt.Println("forward:", st.Forward.Solver, st.ForwardStatus)
	fmt.Println("backward:", st.Backward.Solver, st.BackwardStatus)
	// Output:
	// forward: reducing-picard converged
	// backward: ift-reducing-picard converged
}

// TestCustomSolverGradients checks the gradients an implicit layer gets
// from a solver written outside deq against central finite differences.
func TestCustomSolverGradients(t *testing.T) {
	reps, err := layers.CheckGradients(func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
		loss, wrt, _, err := customSolverModel(g, tensor.Float64)
		return loss, wrt, err
	}, 1e-6)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reps {
		if !(r.RelErr < 1e-7) {
			t.Errorf("%s: relative error %.3g against central differences", r.Name, r.RelErr)
		} else {
			t.Logf("%s: relative error %.2g", r.Name, r.RelErr)
		}
	}
}

// TestCustomSolverStopsByItsOwnRule checks that the solver's rule, not
// the deq.Stop tolerance, ends its solves: a loose reduction stops after a
// few iterations although the Stop's default tolerance is not met.
func TestCustomSolverStopsByItsOwnRule(t *testing.T) {
	contraction := func(out, z []float64) error { // F(z) = 0.9·z + 1, fixed point 10
		for i := range z {
			out[i] = 0.9*z[i] + 1
		}
		return nil
	}
	p := deq.Problem[float64]{F: contraction, Batch: 2, Dim: 3}
	loose := deq.Solve(reducingPicard{Damping: 1, Reduction: 0.5}, p, deq.Stop{})
	// ‖F(z_k) − z_k‖ = 0.9^k‖F(z₀) − z₀‖: halved after 7 steps.
	if loose.Status != deq.Converged || loose.Stats.Iterations != 8 {
		t.Errorf("loose rule: status %v after %d evaluations, want converged after 8", loose.Status, loose.Stats.Iterations)
	}
	tight := deq.Solve(reducingPicard{Damping: 1, Reduction: 1e-10}, p, deq.Stop{MaxIter: 500})
	if tight.Status != deq.Converged || math.Abs(tight.Z[0]-10) > 1e-8 {
		t.Errorf("tight rule: status %v, z = %v, want converged to 10", tight.Status, tight.Z[0])
	}
	if bad := deq.Solve(reducingPicard{Damping: 2, Reduction: 0.5}, p, deq.Stop{}); bad.Status != deq.Failed || bad.Err() == nil {
		t.Errorf("damping 2: status %v, want failed with an error", bad.Status)
	}
}
