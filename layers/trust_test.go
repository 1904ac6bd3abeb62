package layers

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/gradcheck"
	"github.com/implicit-ml/implicit/internal/layertest"
)

// expansiveLinearModel is Σ w ⊙ z* for the linear cell z = zW + x + b
// with non-symmetric W of spectral radius rho > 1: the fixed point exists
// (I − W is invertible) and Broyden finds it, but fixed-point iteration
// on the adjoint u = g + Wu diverges.
func expansiveLinearModel(t *testing.T, g *G.ExprGraph, rho float64, cfg ImplicitConfig) (*G.Node, G.Nodes, *Implicit) {
	t.Helper()
	rng := rand.New(rand.NewPCG(41, 42))
	s := NewScope(g, tensor.Float64, rng)
	const b, h = 3, 5
	x := layertest.Input(g, tensor.Float64, rng, "x", b, h)
	cell := s.DenseCell("cell", h, Identity)
	w := cell.W.Value().Data().([]float64)
	for i := range w {
		w[i] = rng.NormFloat64()
	}
	var eig mat.Eigen
	if !eig.Factorize(mat.NewDense(h, h, append([]float64(nil), w...)), mat.EigenNone) {
		t.Fatal("eigendecomposition failed")
	}
	r := 0.0
	for _, v := range eig.Values(nil) {
		r = math.Max(r, cmplx.Abs(v))
	}
	for i := range w {
		w[i] *= rho / r
	}
	layer := s.Implicit("expansive", cell, cfg)
	z, err := layer.Fwd(x)
	if err != nil {
		t.Fatal(err)
	}
	weights := layertest.Input(g, tensor.Float64, rng, "weights", b, h)
	zw, err := G.HadamardProd(z, weights)
	if err != nil {
		t.Fatal(err)
	}
	loss, err := G.Sum(zw)
	if err != nil {
		t.Fatal(err)
	}
	return loss, G.Nodes{x, cell.W, cell.B}, layer
}

// TestBackwardFailureIsNeverSilent: on a non-symmetric cell with
// spectral radius 1.3, a Picard adjoint diverges. Strict makes that an
// error of the run naming the layer, the status and the remedy; lenient,
// the run completes and the layer's statistics say the adjoint failed
// (the gradient is then wrong, which the finite differences confirm); a
// GMRES adjoint gets the gradient right.
func TestBackwardFailureIsNeverSilent(t *testing.T) {
	stop := deq.Stop{Tol: 1e-12, Mode: deq.Absolute, MaxIter: 200}
	picard := ImplicitConfig{Forward: deq.Broyden{}, Stop: stop, Backward: deq.IFT{Solver: deq.Picard{}, Stop: stop}}
	run := func(cfg ImplicitConfig) (*Implicit, error) {
		g := G.NewGraph()
		loss, wrt, layer := expansiveLinearModel(t, g, 1.3, cfg)
		if _, err := G.Grad(loss, wrt...); err != nil {
			t.Fatal(err)
		}
		prog, locs, err := G.Compile(g)
		if err != nil {
			t.Fatal(err)
		}
		vm := G.NewTapeMachine(g, G.WithPrecompiled(prog, locs))
		defer vm.Close()
		return layer, vm.RunAll()
	}
	strict := picard
	strict.Strict = true
	_, err := run(strict)
	if err == nil {
		t.Fatal("strict layer: a diverging adjoint gave no error")
	}
	for _, want := range []string{`"expansive"`, "backward", "GMRES"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("strict error %q does not mention %s", err, want)
		}
	}
	layer, err := run(picard)
	if err != nil {
		t.Fatalf("lenient run: %v", err)
	}
	if st := layer.Stats(); st.ForwardStatus != deq.Converged || st.BackwardStatus == deq.Converged || st.BackwardNotConverged == 0 {
		t.Errorf("lenient run: forward %v, backward %v (%d samples not converged); want a converged forward and a failed backward",
			st.ForwardStatus, st.BackwardStatus, st.BackwardNotConverged)
	}
	check := func(cfg ImplicitConfig) float64 {
		reps, err := gradcheck.Check(func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
			loss, wrt, _ := expansiveLinearModel(t, g, 1.3, cfg)
			return loss, wrt, nil
		}, 1e-6)
		if err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for _, r := range reps {
			worst = math.Max(worst, r.RelErr)
		}
		return worst
	}
	if e := check(picard); e < 0.1 {
		t.Errorf("the diverged adjoint's gradient is within %.2g of the truth; the test problem is too easy", e)
	}
	gmres := ImplicitConfig{Forward: deq.Broyden{}, Stop: stop, Backward: deq.IFT{Solver: deq.GMRES{}, Stop: stop}, Strict: true}
	if e := check(gmres); e > 1e-6 {
		t.Errorf("GMRES adjoint: gradient off by %.3g", e)
	}
}

// TestStatsSayWhenNoSolveRan: a layer that has not solved, or never does
// (trained unrolled), reports NotRun, not a converged solve of zero
// iterations.
func TestStatsSayWhenNoSolveRan(t *testing.T) {
	g := G.NewGraph()
	rng := rand.New(rand.NewPCG(43, 44))
	s := NewScope(g, tensor.Float64, rng)
	x := layertest.Input(g, tensor.Float64, rng, "x", 2, 3)
	solved := s.Implicit("solved", s.DenseCell("a", 3, Tanh), ImplicitConfig{})
	unrolled := s.Implicit("unrolled", s.DenseCell("b", 3, Tanh), ImplicitConfig{Backward: deq.Unrolled{Steps: 3}})
	for _, l := range []*Implicit{solved, unrolled} {
		if st := l.Stats(); st.ForwardStatus != deq.NotRun || st.BackwardStatus != deq.NotRun || st.ForwardStatus.OK() {
			t.Errorf("%s before running: statuses %v, %v", l.Name(), st.ForwardStatus, st.BackwardStatus)
		}
	}
	y1, err := solved.Fwd(x)
	if err != nil {
		t.Fatal(err)
	}
	y2, err := unrolled.Fwd(x)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := G.Add(y1, y2)
	if err != nil {
		t.Fatal(err)
	}
	loss, err := G.Sum(sum)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := G.Grad(loss, s.Params()...); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	if st := solved.Stats(); st.ForwardStatus != deq.Converged || st.BackwardStatus != deq.Converged {
		t.Errorf("solved layer: %v, %v", st.ForwardStatus, st.BackwardStatus)
	}
	if st := unrolled.Stats(); st.ForwardStatus != deq.NotRun || st.BackwardStatus != deq.NotRun || st.ForwardCalls != 0 {
		t.Errorf("unrolled layer: %v, %v after %d calls", st.ForwardStatus, st.BackwardStatus, st.ForwardCalls)
	}
}

// TestIFTInheritsTheForwardStop: an IFT mode without its own Stop solves
// the adjoint to the forward tolerance and cap (the matching pair), and
// one with its own keeps it.
func TestIFTInheritsTheForwardStop(t *testing.T) {
	fwd := deq.Stop{Tol: 1e-11, Mode: deq.Absolute, MaxIter: 321}
	own := deq.Stop{Tol: 1e-3, MaxIter: 7}
	for _, c := range []struct {
		backward deq.Backward
		want     deq.Stop
	}{
		{deq.IFT{}, fwd},
		{deq.IFT{Solver: deq.GMRES{}}, fwd},
		{nil, fwd},
		{deq.IFT{Stop: own}, own},
	} {
		l := NewImplicit("l", nil, ImplicitConfig{Stop: fwd, Backward: c.backward})
		ift, ok := l.Config().Backward.(deq.IFT)
		if !ok || ift.Stop != c.want {
			t.Errorf("backward %v: resolved to %+v, want IFT with Stop %+v", c.backward, l.Config().Backward, c.want)
		}
	}
	// And the solve uses it: the adjoint's recorded rule is the forward's.
	_, layer := gradsOf(t, tensor.Float64, halfContractive, ImplicitConfig{Stop: fwd, Backward: deq.IFT{}})
	if b := layer.Stats().Backward; b.Tol != fwd.Tol || b.MaxIter != fwd.MaxIter || b.Mode != fwd.Mode {
		t.Errorf("adjoint solved with tol %v, cap %d, mode %v; want the forward's %+v", b.Tol, b.MaxIter, b.Mode, fwd)
	}
}

// dampedStepsModel is the hand-built counterpart of an implicit layer
// trained with Phantom{steps, λ} (JFB: one step, λ = 1): from the
// constant z*, steps damped iterations z ← (1−λ)z + λf(z) in the graph,
// which backpropagation differentiates with every Jacobian at z* (z* is a
// fixed point of each step). Its gradients are the phantom gradient's.
func dampedStepsModel(g *G.ExprGraph, zstar []float64, steps int, lam float64) (*G.Node, G.Nodes, error) {
	loss, wrt, _, err := inexactModel(g, func(s *Scope, cell Cell, x *G.Node) (*G.Node, error) {
		z := G.NewTensor(g, tensor.Float64, 2, G.WithShape(x.Shape()...), G.WithName("zstar"),
			G.WithValue(tensor.New(tensor.WithShape(x.Shape()...), tensor.WithBacking(append([]float64(nil), zstar...)))))
		for range steps {
			fz, err := cell.Apply(z, G.Nodes{x})
			if err != nil {
				return nil, err
			}
			a, err := G.Mul(z, Const(tensor.Float64, 1-lam))
			if err != nil {
				return nil, err
			}
			b, err := G.Mul(fz, Const(tensor.Float64, lam))
			if err != nil {
				return nil, err
			}
			if z, err = G.Add(a, b); err != nil {
				return nil, err
			}
		}
		return z, nil
	})
	return loss, wrt, err
}

// inexactModel is Σ w ⊙ body(x) for a tanh cell of width 4 on x (3, 4);
// it also returns the cell, whose kernel gives z*.
func inexactModel(g *G.ExprGraph, body func(*Scope, Cell, *G.Node) (*G.Node, error)) (*G.Node, G.Nodes, Cell, error) {
	rng := rand.New(rand.NewPCG(45, 46))
	s := NewScope(g, tensor.Float64, rng)
	x := layertest.Input(g, tensor.Float64, rng, "x", 3, 4)
	cell := s.DenseCell("cell", 4, Tanh)
	y, err := body(s, cell, x)
	if err != nil {
		return nil, nil, nil, err
	}
	w := layertest.Input(g, tensor.Float64, rng, "weights", 3, 4)
	yw, err := G.HadamardProd(y, w)
	if err != nil {
		return nil, nil, nil, err
	}
	loss, err := G.Sum(yw)
	return loss, append(G.Nodes{x}, cell.Params()...), cell, err
}

// TestInexactGradientsMatchDampedSteps: the layer's JFB and phantom
// gradients (with the modes' default settings and others) equal those of
// the hand-built damped steps from z*, for the injection and every
// parameter.
func TestInexactGradientsMatchDampedSteps(t *testing.T) {
	tight := deq.Stop{Tol: 1e-14, Mode: deq.Absolute, MaxIter: 500}
	for _, c := range []struct {
		name  string
		mode  deq.Backward
		steps int
		lam   float64
	}{
		{"jfb", deq.JFB{}, 1, 1},
		{"phantom default", deq.Phantom{}, 5, 0.5}, // the documented defaults
		{"phantom 3×0.8", deq.Phantom{Steps: 3, Damping: 0.8}, 3, 0.8},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := ImplicitConfig{Forward: deq.Anderson{}, Stop: tight, Backward: c.mode}
			layerGrads := gradsOfBuild(t, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
				loss, wrt, _, err := inexactModel(g, func(s *Scope, cell Cell, x *G.Node) (*G.Node, error) {
					return s.Implicit("deq", cell, cfg).Fwd(x)
				})
				return loss, wrt, err
			})
			zstar := fixedPoint(t, tight)
			hand := gradsOfBuild(t, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
				return dampedStepsModel(g, zstar, c.steps, c.lam)
			})
			if d := layertest.RelDiff(layerGrads, hand); d > 1e-9 {
				t.Errorf("%s gradient differs from the damped steps' by %.3g", c.name, d)
			}
		})
	}
}

// fixedPoint solves the inexact model's cell to z* with its kernel.
func fixedPoint(t *testing.T, stop deq.Stop) []float64 {
	t.Helper()
	g := G.NewGraph()
	var x *G.Node
	_, _, cell, err := inexactModel(g, func(_ *Scope, _ Cell, in *G.Node) (*G.Node, error) {
		x = in
		return in, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	k, err := cell.Kernel64([]tensor.Shape{x.Shape()})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Bind([]G.Value{x.Value()}, kernelValues(cell)); err != nil {
		t.Fatal(err)
	}
	r := deq.Solve(deq.Anderson{}, deq.Problem[float64]{F: k.Eval, Batch: 3, Dim: 4}, stop)
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return r.Z
}

// gradsOfBuild returns the gradients of build's loss with respect to its
// nodes after one run.
func gradsOfBuild(t *testing.T, build func(g *G.ExprGraph) (*G.Node, G.Nodes, error)) [][]float64 {
	t.Helper()
	g := G.NewGraph()
	loss, wrt, err := build(g)
	if err != nil {
		t.Fatal(err)
	}
	grads, err := G.Grad(loss, wrt...)
	if err != nil {
		t.Fatal(err)
	}
	prog, locs, err := G.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g, G.WithPrecompiled(prog, locs))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	out := make([][]float64, len(grads))
	for i, n := range grads {
		if out[i], err = Floats64(n.Value()); err != nil {
			t.Fatal(err)
		}
	}
	return out
}
