package layers

import (
	"errors"
	"fmt"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/layertest"
)

// tight is a forward stopping rule tight enough for finite differences.
var tight = deq.Stop{Tol: 1e-14, Mode: deq.Absolute, MaxIter: 400}

// exactModes are the backward modes that claim exact gradients.
func exactModes() map[string]deq.Backward {
	return map[string]deq.Backward{
		"ift-picard":   deq.IFT{Solver: deq.Picard{}, Stop: tight},
		"ift-anderson": deq.IFT{Solver: deq.Anderson{}, Stop: tight},
		"ift-broyden":  deq.IFT{Solver: deq.Broyden{}, Stop: tight},
		"ift-gmres":    deq.IFT{Solver: deq.GMRES{}, Stop: tight},
		"unrolled":     deq.Unrolled{Steps: 7},
	}
}

// cellKind builds one of the cells under test in scope s.
type cellKind func(s *Scope, hidden int) Cell

func cellKinds() map[string]cellKind {
	return map[string]cellKind{
		"dense-tanh": func(s *Scope, h int) Cell { return s.DenseCell("cell", h, Tanh) },
		"dense-relu": func(s *Scope, h int) Cell {
			c := s.DenseCell("cell", h, ReLU)
			// Shift the bias so no pre-activation sits near ReLU's kink.
			for i, b := range c.B.Value().Data().([]float64) {
				c.B.Value().Data().([]float64)[i] = b + 0.5
			}
			return c
		},
		"elghaoui-tanh": func(s *Scope, h int) Cell { return s.ElGhaouiCell("cell", h, Tanh, 0.9) },
		"generic": func(s *Scope, h int) Cell {
			w := s.Param("g.W", tensor.Shape{h, h}, GlorotUniform(0.3))
			gamma := s.Param("g.gamma", tensor.Shape{}, Constant(0.8))
			return NewCell(func(z, inj *G.Node, p G.Nodes) (*G.Node, error) {
				zw, err := G.Mul(z, p[0])
				if err != nil {
					return nil, err
				}
				pre, err := G.Add(zw, inj)
				if err != nil {
					return nil, err
				}
				act, err := G.Tanh(pre)
				if err != nil {
					return nil, err
				}
				return G.Mul(act, p[1]) // scalar parameter γ·tanh(…)
			}, w, gamma)
		},
	}
}

// deqModel builds Dense(U, no bias) → implicit(cell) → Dense → MSE and
// returns the loss and the nodes to check.
func deqModel(g *G.ExprGraph, dt tensor.Dtype, seed uint64, kind cellKind, cfg ImplicitConfig) (*G.Node, G.Nodes, *Implicit, error) {
	rng := rand.New(rand.NewPCG(seed, 7))
	s := NewScope(g, dt, rng)
	const b, in, h, out = 4, 5, 6, 3
	x := layertest.Input(g, dt, rng, "x", b, in)
	inject := s.Dense("inject", in, h, Identity, NoBias())
	layer := s.Implicit("deq", kind(s, h), cfg)
	head := s.Dense("head", h, out, Identity)
	y, err := Sequential{inject, layer, head}.Fwd(x)
	if err != nil {
		return nil, nil, nil, err
	}
	target := layertest.Input(g, dt, rng, "target", b, out)
	loss, err := MSE(y, target)
	if err != nil {
		return nil, nil, nil, err
	}
	return loss, append(G.Nodes{x}, s.Params()...), layer, s.Err()
}

// TestImplicitGradientsMatchFiniteDifferences: every cell
// and every exact backward mode agree with central differences to 1e-6.
func TestImplicitGradientsMatchFiniteDifferences(t *testing.T) {
	for cname, kind := range cellKinds() {
		for mname, mode := range exactModes() {
			t.Run(cname+"/"+mname, func(t *testing.T) {
				cfg := ImplicitConfig{Forward: deq.Anderson{}, Stop: tight, Backward: mode}
				layertest.CheckGrads(t, 1e-6, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
					loss, wrt, _, err := deqModel(g, tensor.Float64, 1, kind, cfg)
					return loss, wrt, err
				})
			})
		}
	}
}

// gradsOf runs one forward/backward pass and returns the gradients of the
// loss with respect to every checked node, flattened as float64.
func gradsOf(t *testing.T, dt tensor.Dtype, kind cellKind, cfg ImplicitConfig) ([][]float64, *Implicit) {
	t.Helper()
	g := G.NewGraph()
	loss, wrt, layer, err := deqModel(g, dt, 3, kind, cfg)
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
	return out, layer
}

// halfContractive is a tanh cell with ‖W‖₂ = 0.5 (Lipschitz in z ≤ 0.5).
func halfContractive(s *Scope, h int) Cell {
	c := s.DenseCell("cell", h, Tanh)
	layertest.ScaleToSpectralNorm(c.W, 0.5, s.Rand())
	return c
}

// TestIFTMatchesUnrolledBackprop: on a cell whose Lipschitz
// constant in z is 0.5, IFT gradients agree with backpropagation through
// 60 unrolled iterations (0.5^60 ≈ 1e-18) to 1e-8 in float64 and 1e-4 in
// float32.
func TestIFTMatchesUnrolledBackprop(t *testing.T) {
	for _, c := range []struct {
		dt  tensor.Dtype
		tol float64
		ift deq.Stop
	}{
		{tensor.Float64, 1e-8, deq.Stop{Tol: 1e-14, Mode: deq.Absolute, MaxIter: 200}},
		{tensor.Float32, 1e-4, deq.Stop{Tol: 1e-7, Mode: deq.Absolute, MaxIter: 200}},
	} {
		t.Run(c.dt.String(), func(t *testing.T) {
			ift, layer := gradsOf(t, c.dt, halfContractive, ImplicitConfig{Stop: c.ift, Backward: deq.IFT{Stop: c.ift}})
			unr, _ := gradsOf(t, c.dt, halfContractive, ImplicitConfig{Backward: deq.Unrolled{Steps: 60}})
			for i, g := range unr { // a reference of zeros would make any gradient pass
				if !slices.ContainsFunc(g, func(v float64) bool { return v != 0 }) {
					t.Fatalf("the unrolled reference gradient %d is all zero", i)
				}
			}
			d := layertest.RelDiff(ift, unr)
			st := layer.Stats()
			t.Logf("%v: IFT vs unrolled(60) relative difference %.2g (forward %d iterations, backward %d)", c.dt, d, st.Forward.Iterations, st.Backward.Iterations)
			if d > c.tol {
				t.Errorf("relative difference %.3g > %.0g", d, c.tol)
			}
		})
	}
}

// TestTwoLayersAreTwoNodes: hash-consing must not merge two
// implicit layers that share a configuration and inputs.
func TestTwoLayersAreTwoNodes(t *testing.T) {
	g := G.NewGraph()
	rng := rand.New(rand.NewPCG(5, 5))
	s := NewScope(g, tensor.Float64, rng)
	x := layertest.Input(g, tensor.Float64, rng, "x", 2, 3)
	cell := s.DenseCell("cell", 3, Tanh)
	a, err := s.Implicit("a", cell, ImplicitConfig{}).Fwd(x)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Implicit("b", cell, ImplicitConfig{}).Fwd(x)
	if err != nil {
		t.Fatal(err)
	}
	if a == b || a.ID() == b.ID() {
		t.Fatal("two implicit layers were merged into one node")
	}
	solves := 0
	for _, n := range g.AllNodes() {
		if n.Op() != nil && strings.HasPrefix(n.Op().String(), "DEQSolve") {
			solves++
		}
	}
	if solves != 2 {
		t.Fatalf("%d solve nodes in the graph, want 2", solves)
	}
}

// TestNonContractiveCellIsReported: a forward solve that cannot converge
// is a status (lenient) or an error (strict), and a NaN never reaches the
// weights.
func TestNonContractiveCellIsReported(t *testing.T) {
	build := func(strict bool, nanInput bool) (*G.ExprGraph, *Implicit, *G.Node, *DenseCell, G.VM) {
		g := G.NewGraph()
		rng := rand.New(rand.NewPCG(6, 6))
		s := NewScope(g, tensor.Float64, rng)
		x := layertest.Input(g, tensor.Float64, rng, "x", 3, 4)
		if nanInput {
			x.Value().Data().([]float64)[5] = math.NaN()
		}
		cell := s.DenseCell("cell", 4, Identity)
		layertest.ScaleToSpectralNorm(cell.W, 3, rng) // z ↦ zW + x expands by 3
		layer := s.Implicit("deq", cell, ImplicitConfig{Forward: deq.Picard{}, Strict: strict})
		y, err := layer.Fwd(x)
		if err != nil {
			t.Fatal(err)
		}
		loss, err := G.Sum(y)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := G.Grad(loss, cell.W); err != nil {
			t.Fatal(err)
		}
		prog, locs, err := G.Compile(g)
		if err != nil {
			t.Fatal(err)
		}
		return g, layer, loss, cell, G.NewTapeMachine(g, G.WithPrecompiled(prog, locs))
	}

	_, layer, _, _, vm := build(false, false)
	_ = vm.RunAll() // lenient: the run completes, the status tells
	st := layer.Stats()
	if st.ForwardStatus == deq.Converged {
		t.Fatalf("an expanding cell converged: %+v", st.Forward)
	}
	err := (deq.Result[float64]{Status: st.ForwardStatus, Stats: st.Forward}).Err()
	if err == nil || !strings.Contains(err.Error(), "deq: ") {
		t.Fatalf("status %v gives error %v", st.ForwardStatus, err)
	}
	t.Logf("lenient run: %v", err)

	_, _, _, _, vm = build(true, false)
	if err := vm.RunAll(); err == nil || !strings.Contains(err.Error(), "strict") {
		t.Fatalf("strict layer ran without error: %v", err)
	}

	_, _, _, cell, vm := build(false, true)
	before := append([]float64(nil), cell.W.Value().Data().([]float64)...)
	err = vm.RunAll()
	if err == nil || !strings.Contains(err.Error(), "NaN") {
		t.Fatalf("NaN input gave %v, want an error naming NaN", err)
	}
	for i, v := range cell.W.Value().Data().([]float64) {
		if v != before[i] || math.IsNaN(v) {
			t.Fatal("weights changed after a failed run")
		}
	}
}

// TestFixedIterationsGiveTheIterate checks the test-time control: with
// Iterations = t the layer outputs y_t = f^t(0), as the unrolled twin does.
func TestFixedIterationsGiveTheIterate(t *testing.T) {
	for _, steps := range []int{1, 2, 5} {
		t.Run(fmt.Sprint(steps), func(t *testing.T) {
			outs := make([][]float64, 2)
			for i, mode := range []deq.Backward{deq.IFT{}, deq.Unrolled{Steps: steps}} {
				g := G.NewGraph()
				rng := rand.New(rand.NewPCG(8, 8))
				s := NewScope(g, tensor.Float64, rng)
				x := layertest.Input(g, tensor.Float64, rng, "x", 3, 4)
				layer := s.Implicit("deq", s.DenseCell("cell", 4, Tanh), ImplicitConfig{Backward: mode})
				layer.SetControls(Controls{Iterations: steps})
				y, err := layer.Fwd(x)
				if err != nil {
					t.Fatal(err)
				}
				vm := G.NewTapeMachine(g)
				if err := vm.RunAll(); err != nil {
					t.Fatal(err)
				}
				outs[i], _ = Floats64(y.Value())
			}
			for j := range outs[0] {
				if math.Abs(outs[0][j]-outs[1][j]) > 1e-14 {
					t.Fatalf("y_%d differs from the unrolled twin: %v vs %v", steps, outs[0][:4], outs[1][:4])
				}
			}
		})
	}
}

func TestWarmStartSavesIterations(t *testing.T) {
	g := G.NewGraph()
	rng := rand.New(rand.NewPCG(9, 9))
	s := NewScope(g, tensor.Float64, rng)
	x := layertest.Input(g, tensor.Float64, rng, "x", 8, 16)
	layer := s.Implicit("deq", s.DenseCell("cell", 16, Tanh), ImplicitConfig{Stop: deq.Stop{Tol: 1e-8}})
	layer.SetControls(Controls{WarmStart: true})
	if _, err := layer.Fwd(x); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	cold := layer.Stats().Forward.Iterations
	vm.Reset()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	warm := layer.Stats().Forward.Iterations
	if warm >= cold {
		t.Fatalf("warm start took %d iterations, cold %d", warm, cold)
	}
}

// TestLispMachineGradients checks that the LispMachine, which uses DoDiff,
// gets the same gradients as the TapeMachine instead of silent zeros.
func TestLispMachineGradients(t *testing.T) {
	cfg := ImplicitConfig{Stop: tight, Backward: deq.IFT{Stop: tight}}
	for name, kind := range map[string]cellKind{"dense": halfContractive, "generic": cellKinds()["generic"]} {
		t.Run(name, func(t *testing.T) {
			want, _ := gradsOf(t, tensor.Float64, kind, cfg)
			g := G.NewGraph()
			loss, wrt, _, err := deqModel(g, tensor.Float64, 3, kind, cfg)
			if err != nil {
				t.Fatal(err)
			}
			vm := G.NewLispMachine(g)
			defer vm.Close()
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			_ = loss
			got := make([][]float64, len(wrt))
			for i, n := range wrt {
				gv, err := n.Grad()
				if err != nil {
					t.Fatalf("%s: %v", n.Name(), err)
				}
				got[i], _ = Floats64(gv)
			}
			if d := layertest.RelDiff(want, got); d > 1e-10 {
				t.Fatalf("LispMachine gradients differ from TapeMachine's by %.3g", d)
			}
		})
	}
}

func TestSpectralRadiusMonitor(t *testing.T) {
	g := G.NewGraph()
	rng := rand.New(rand.NewPCG(30, 30))
	s := NewScope(g, tensor.Float64, rng)
	x := layertest.Input(g, tensor.Float64, rng, "x", 4, 6)
	cell := s.DenseCell("cell", 6, Identity)
	layertest.ScaleToSpectralNorm(cell.W, 0.7, rng)
	layer := s.Implicit("deq", cell, ImplicitConfig{Stop: tight, Backward: deq.IFT{Stop: tight}})
	if _, err := layer.SpectralRadius(0, rng); err == nil {
		t.Fatal("a radius before any backward pass")
	}
	y, err := layer.Fwd(x)
	if err != nil {
		t.Fatal(err)
	}
	loss, _ := G.Sum(y)
	if _, err := G.Grad(loss, cell.W); err != nil {
		t.Fatal(err)
	}
	if err := G.NewTapeMachine(g).RunAll(); err != nil {
		t.Fatal(err)
	}
	// The identity cell's Jacobian is Wᵀ (rows): its spectral radius is
	// that of W, which for a random matrix with ‖W‖₂ = 0.7 is below 0.7.
	rho, err := layer.SpectralRadius(200, rng)
	if err != nil {
		t.Fatal(err)
	}
	w := mat.NewDense(6, 6, cell.W.Value().Data().([]float64))
	var eig mat.Eigen
	eig.Factorize(w, mat.EigenNone)
	want := 0.0
	for _, v := range eig.Values(nil) {
		want = math.Max(want, cmplx.Abs(v))
	}
	if math.Abs(rho-want) > 0.02 {
		t.Fatalf("monitored radius %v, eigenvalues say %v", rho, want)
	}
}

// TestPerSampleWarmStart: each sample restarts from its own last fixed
// point even when the batch comes in another order.
func TestPerSampleWarmStart(t *testing.T) {
	g := G.NewGraph()
	rng := rand.New(rand.NewPCG(31, 31))
	s := NewScope(g, tensor.Float64, rng)
	x := layertest.Input(g, tensor.Float64, rng, "x", 4, 16)
	layer := s.Implicit("deq", s.DenseCell("cell", 16, Tanh), ImplicitConfig{Stop: deq.Stop{Tol: 1e-10, Mode: deq.Absolute, MaxIter: 200}})
	layer.SetControls(Controls{WarmStart: true})
	if _, err := layer.Fwd(x); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	layer.SetSampleIDs([]int{10, 11, 12, 13})
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	cold := layer.Stats().Forward.Iterations
	// Swap rows 0 and 3 of the input and say so: the cache follows the ids.
	xd := x.Value().Data().([]float64)
	for j := 0; j < 16; j++ {
		xd[j], xd[48+j] = xd[48+j], xd[j]
	}
	layer.SetSampleIDs([]int{13, 11, 12, 10})
	vm.Reset()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	if warm := layer.Stats().Forward.Iterations; warm > 2 {
		t.Fatalf("per-sample warm start took %d iterations (cold %d); every sample should start at its fixed point", warm, cold)
	}
}

// TestSpectralRadiusAfterForward: an inference graph (no backward pass)
// measures the radius at its forward solve's fixed point too, with a
// nonlinear cell, against the eigenvalues of its Jacobian
// diag(1 − z*²)·Wᵀ at z*; an iterate (Controls.Iterations) is no fixed
// point and sets nothing.
func TestSpectralRadiusAfterForward(t *testing.T) {
	g := G.NewGraph()
	rng := rand.New(rand.NewPCG(31, 31))
	s := NewScope(g, tensor.Float64, rng)
	x := layertest.Input(g, tensor.Float64, rng, "x", 1, 5)
	cell := s.DenseCell("cell", 5, Tanh)
	layertest.ScaleToSpectralNorm(cell.W, 0.8, rng)
	layer := s.Implicit("deq", cell, ImplicitConfig{Stop: tight})
	layer.SetControls(Controls{Iterations: 3})
	y, err := layer.Fwd(x)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	if _, err := layer.SpectralRadius(0, rng); err == nil {
		t.Fatal("a radius after iterating only")
	}
	layer.SetControls(Controls{})
	vm.Reset()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	rho, err := layer.SpectralRadius(300, rng)
	if err != nil {
		t.Fatal(err)
	}
	z := y.Value().Data().([]float64)
	w := cell.W.Value().Data().([]float64)
	j := mat.NewDense(5, 5, nil) // J[i][k] = (1 − z_i²)·W[k][i] for z ← tanh(zW + …)
	for i := range 5 {
		for k := range 5 {
			j.Set(i, k, (1-z[i]*z[i])*w[k*5+i])
		}
	}
	var eig mat.Eigen
	eig.Factorize(j, mat.EigenNone)
	want := 0.0
	for _, v := range eig.Values(nil) {
		want = math.Max(want, cmplx.Abs(v))
	}
	if math.Abs(rho-want) > 0.02*want {
		t.Fatalf("radius after a forward solve %v, the Jacobian's eigenvalues say %v", rho, want)
	}
}

// TestSpectralRadiusAfterFailedSolve: when the layer's forward solves end
// without a fixed point (an expansive cell diverges), SpectralRadius says
// so and names how the solve ended, instead of claiming no solve ran (the
// ablation reported a diverged parity model as "has not solved for a
// fixed point yet").
func TestSpectralRadiusAfterFailedSolve(t *testing.T) {
	g := G.NewGraph()
	rng := rand.New(rand.NewPCG(31, 31))
	s := NewScope(g, tensor.Float64, rng)
	x := layertest.Input(g, tensor.Float64, rng, "x", 4, 6)
	cell := s.DenseCell("cell", 6, Identity)
	layertest.ScaleToSpectralNorm(cell.W, 3, rng)
	layer := s.Implicit("deq", cell, ImplicitConfig{Forward: deq.Picard{}, Stop: deq.Stop{Tol: 1e-10, MaxIter: 200}})
	if _, err := layer.Fwd(x); err != nil {
		t.Fatal(err)
	}
	_ = G.NewTapeMachine(g).RunAll() // a diverged solve may or may not be an error; the radius must say why it is missing
	st := layer.Stats().ForwardStatus
	if st == deq.Converged || st == deq.MaxIterations {
		t.Fatalf("the expansive cell's solve ended %s; the test needs one without a fixed point", st)
	}
	_, err := layer.SpectralRadius(0, rng)
	if err == nil || !strings.Contains(err.Error(), "last forward solve ended "+st.String()) {
		t.Fatalf("radius after a %s solve: %v; want an error naming the status", st, err)
	}
	if !errors.Is(err, ErrNoFixedPoint) {
		t.Errorf("radius after a %s solve: %v is not ErrNoFixedPoint", st, err)
	}
}
