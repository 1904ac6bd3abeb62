package imaging

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/blur"
	"github.com/implicit-ml/implicit/internal/layertest"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/layers/conv"
)

// hqsBlurs are the operators the HQS tests run on (9×11 images, not
// square): the workload's two kernels and a random 3×3 one with no
// symmetry and no normalisation, so a transposed or mis-scaled product
// cannot pass.
func hqsBlurs(t *testing.T) []*Blur {
	t.Helper()
	var out []*Blur
	for _, name := range []string{"shake", "gaussian"} {
		a, err := NewBlur(name, 9, 11)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	rng := rand.New(rand.NewPCG(70, 71))
	k := blur.Kernel{Name: "random 3×3", K: 3, W: make([]float64, 9)}
	for i := range k.W {
		k.W[i] = rng.Float64()
	}
	a, err := NewBlurOf(k, 9, 11)
	if err != nil {
		t.Fatal(err)
	}
	return append(out, a)
}

// TestHQSStepOp checks the op against blur.HQS.Step (its forward value)
// and its gradients in y, the measurement x (through Aᵀ) and ρ = log β
// against central differences, at three values of β.
func TestHQSStepOp(t *testing.T) {
	for _, a := range hqsBlurs(t) {
		for _, rho := range []float64{math.Log(0.05), math.Log(DefaultHQSBeta), math.Log(3)} {
			t.Run(fmt.Sprintf("%s β=%.3g", a.Kernel.Name, math.Exp(rho)), func(t *testing.T) {
				// step builds z and, with a target, the loss (whose ops may
				// overwrite z's value, so the forward check builds none).
				step := func(g *G.ExprGraph, withLoss bool) (*G.Node, *G.Node, G.Nodes, error) {
					rng := rand.New(rand.NewPCG(72, 73))
					n := a.H * a.W
					y := layertest.Input(g, tensor.Float64, rng, "y", 2, n)
					x := layertest.Input(g, tensor.Float64, rng, "x", 2, n)
					r := G.NewTensor(g, tensor.Float64, 2, G.WithShape(1, 1), G.WithName("rho"), G.WithValue(tensor.New(tensor.WithShape(1, 1), tensor.WithBacking([]float64{rho}))))
					atx, err := a.ApplyT(x)
					if err != nil {
						return nil, nil, nil, err
					}
					z, err := a.HQSStep(y, atx, r)
					if err != nil || !withLoss {
						return nil, z, G.Nodes{y, x, r}, err
					}
					loss, err := layers.MSE(z, layertest.Input(g, tensor.Float64, rng, "target", 2, n))
					return loss, z, G.Nodes{y, x, r}, err
				}
				g := G.NewGraph()
				_, z, in, err := step(g, false)
				if err != nil {
					t.Fatal(err)
				}
				vm := G.NewTapeMachine(g)
				if err := vm.RunAll(); err != nil {
					t.Fatal(err)
				}
				want := make([]float64, 2*a.H*a.W)
				a.hqs64.Step(want, in[0].Value().Data().([]float64), in[1].Value().Data().([]float64), 2, math.Exp(rho))
				layertest.Compare(t, "HQS step", z.Value().Data().([]float64), want)
				vm.Close()
				layertest.CheckGrads(t, 1e-6, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
					loss, _, wrt, err := step(g, true)
					return loss, wrt, err
				})
			})
		}
	}
}

// hqsModel is x → Aᵀx → implicit HQS layer → MSE against a random image;
// every parameter and x are checked.
func hqsModel(g *G.ExprGraph, mode deq.Backward) (*G.Node, G.Nodes, error) {
	rng := rand.New(rand.NewPCG(74, 75))
	s := layers.NewScope(g, tensor.Float64, rng)
	a, err := NewBlur("shake", 9, 10)
	if err != nil {
		return nil, nil, err
	}
	x := layertest.Input(g, tensor.Float64, rng, "x", cvB, a.H*a.W)
	atx, err := a.ApplyT(x)
	if err != nil {
		return nil, nil, err
	}
	// Skip 0.4 and a small N keep G a contraction, so the fixed point is
	// well defined.
	cell := NewHQSCell(s, "hqs", a, conv.NewResCNN(s, "hqs.D", a.H, a.W, 2, 3, layers.ReLU, conv.ResSkip(0.4)))
	perturb(cell.Denoiser.Params(), rng, 0.05)
	cell.LogBeta.Value().Data().([]float64)[0] = math.Log(0.7)
	return solvedLoss(g, s, rng, a, cell, x, atx, mode)
}

// gradStop is the tight stop of the gradient checks' solves.
var gradStop = deq.Stop{Tol: 1e-13, Mode: deq.Absolute, MaxIter: 400}

// solvedLoss solves cell's implicit layer from y₀ = Aᵀx (to gradStop,
// backward mode) and returns the MSE to a random target with the nodes
// the gradient checks differentiate: x and the cell's parameters.
func solvedLoss(g *G.ExprGraph, s *layers.Scope, rng *rand.Rand, a *Blur, cell layers.Cell, x, atx *G.Node, mode deq.Backward) (*G.Node, G.Nodes, error) {
	l := s.Implicit("deq", cell, layers.ImplicitConfig{Stop: gradStop, Backward: mode})
	l.SetControls(layers.Controls{StartAtInjection: true})
	y, err := l.Fwd(atx)
	if err != nil {
		return nil, nil, err
	}
	loss, err := layers.MSE(y, layertest.Input(g, tensor.Float64, rng, "target", cvB, a.H*a.W))
	return loss, append(G.Nodes{x}, cell.Params()...), err
}

// TestHQSGradients checks the implicit HQS layer's gradients in x, β and
// the denoiser's weights against central differences, for exact IFT (two
// adjoint solvers) and unrolled backprop.
func TestHQSGradients(t *testing.T) {
	stop := deq.Stop{Tol: 1e-13, Mode: deq.Absolute, MaxIter: 400}
	for name, mode := range map[string]deq.Backward{
		"ift":        deq.IFT{Stop: stop},
		"ift-picard": deq.IFT{Solver: deq.Picard{}, Stop: stop},
		"unrolled-4": deq.Unrolled{Steps: 4},
	} {
		t.Run(name, func(t *testing.T) {
			layertest.CheckGrads(t, 1e-6, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) { return hqsModel(g, mode) })
		})
	}
}

// TestCellKernels checks both cells' kernels against the cells built in
// a graph (Eval) and against central differences of Eval (VJP), in
// float64, on non-square images with the asymmetric camera-shake kernel
// (where A and Aᵀ differ) and the diagonal ramp.
func TestCellKernels(t *testing.T) {
	for _, tc := range []struct {
		name, kernel string
		cell         func(s *layers.Scope, a *Blur, d *conv.ResCNN) layers.Cell
	}{
		{"pgd", "motion", func(s *layers.Scope, a *Blur, d *conv.ResCNN) layers.Cell {
			c := NewPGDCell(s, "c", a, d)
			c.Lambda = 0.3
			return c
		}},
		{"pgd", "shake", func(s *layers.Scope, a *Blur, d *conv.ResCNN) layers.Cell { return NewPGDCell(s, "c", a, d) }},
		{"hqs", "shake", func(s *layers.Scope, a *Blur, d *conv.ResCNN) layers.Cell { return NewHQSCell(s, "c", a, d) }},
	} {
		t.Run(tc.name+"/"+tc.kernel, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(76, 77))
			g := G.NewGraph()
			s := layers.NewScope(g, tensor.Float64, rng)
			a, err := NewBlur(tc.kernel, cvH+2, cvW+2)
			if err != nil {
				t.Fatal(err)
			}
			cell := tc.cell(s, a, conv.NewResCNN(s, "c.D", a.H, a.W, cvC, 4, layers.Tanh))
			perturb(cell.Params(), rng, 0.2)
			n := a.H * a.W
			y := layertest.Input(g, tensor.Float64, rng, "y", cvB, n)
			inj := layertest.Input(g, tensor.Float64, rng, "inj", cvB, n)
			if err := layers.CheckCellKernel(cell, y, inj, rng); err != nil {
				t.Fatal(err)
			}
			if _, err := cell.StateShape([]tensor.Shape{{2, n + 1}}); err == nil {
				t.Error("injection of the wrong size: no error")
			}
		})
	}
}

// TestBoundedDenoiserMakesHQSContract: with Lip(D) ≤ 0.9 (skip 0.5,
// Lip(N) ≤ 0.4) the HQS operator contracts (its data step is
// non-expansive in y for every β > 0), so plain iteration from two random
// starts reaches one fixed point, even after the weights were scaled up
// and projected back and β was made huge.
func TestBoundedDenoiserMakesHQSContract(t *testing.T) {
	rng := rand.New(rand.NewPCG(78, 79))
	g := G.NewGraph()
	s := layers.NewScope(g, tensor.Float64, rng)
	a, err := NewBlur("shake", 9, 10)
	if err != nil {
		t.Fatal(err)
	}
	d := conv.NewResCNN(s, "D", a.H, a.W, cvC, 4, layers.ReLU, conv.ResSkip(0.5), conv.ResLipschitz(0.4))
	cell := NewHQSCell(s, "hqs", a, d)
	for _, p := range d.Params() { // push every weight far outside its bound
		v := p.Value().Data().([]float64)
		for i := range v {
			v[i] = 3*v[i] + 0.2*rng.NormFloat64()
		}
	}
	cell.LogBeta.Value().Data().([]float64)[0] = 8
	for range 20 { // the warm-started norm estimates tighten over steps
		if err := s.Project(); err != nil {
			t.Fatal(err)
		}
	}
	sameFixedPoint(t, cell, rng, cvB, a.H*a.W, 500)
}

func TestHQSErrors(t *testing.T) {
	g := G.NewGraph()
	rng := rand.New(rand.NewPCG(80, 81))
	s := layers.NewScope(g, tensor.Float64, rng)
	a, err := NewBlur("shake", 12, 12)
	if err != nil {
		t.Fatal(err)
	}
	y := layertest.Input(g, tensor.Float64, rng, "y", 2, 144)
	r := layertest.Input(g, tensor.Float64, rng, "rho", 1, 1)
	if _, err := a.HQSStep(y, layertest.Input(g, tensor.Float64, rng, "b", 3, 144), r); err == nil {
		t.Error("y and Aᵀx of different batch sizes accepted")
	}
	if _, err := a.HQSStep(y, y, layertest.Input(g, tensor.Float64, rng, "r2", 1, 2)); err == nil {
		t.Error("two values of log β accepted")
	}
	bare := &Blur{Kernel: a.Kernel, H: 12, W: 12}
	if _, err := bare.HQSStep(y, y, r); err == nil {
		t.Error("a Blur without HQS tables gave a step")
	}
	d := conv.NewResCNN(s, "D", 12, 12, 2, 2, layers.ReLU)
	if c := NewHQSCell(s, "bare", bare, d); c.Err() == nil {
		t.Error("an HQS cell on a Blur without tables built")
	}
	s2 := layers.NewScope(G.NewGraph(), tensor.Float64, rng)
	small := conv.NewResCNN(s2, "D", 10, 10, 2, 2, layers.ReLU)
	if c := NewHQSCell(s2, "mismatch", a, small); c.Err() == nil || !math.IsNaN(c.Beta()) {
		t.Error("a 10×10 denoiser accepted for 12×12 images")
	}
	if _, err := NewBlurOf(blur.Kernel{Name: "nan", K: 1, W: []float64{math.NaN()}}, 4, 4); err == nil {
		t.Error("a NaN kernel accepted")
	}
}

// TestLispMachineGradients checks the ops' DoDiff, which the LispMachine
// uses: one PGD and one HQS step (each followed by its denoiser) get the
// TapeMachine's gradients in y, x and every parameter, not silent zeros.
func TestLispMachineGradients(t *testing.T) {
	for _, op := range []string{"pgd", "hqs"} {
		t.Run(op, func(t *testing.T) {
			build := func(g *G.ExprGraph) (*G.Node, G.Nodes) {
				rng := rand.New(rand.NewPCG(82, 83))
				s := layers.NewScope(g, tensor.Float64, rng)
				a, err := NewBlur("shake", 9, 10)
				if err != nil {
					t.Fatal(err)
				}
				d := conv.NewResCNN(s, "D", a.H, a.W, 2, 2, layers.Tanh)
				var cell layers.Cell
				if op == "pgd" {
					cell = NewPGDCell(s, "c", a, d)
				} else {
					cell = NewHQSCell(s, "c", a, d)
				}
				perturb(cell.Params(), rng, 0.1)
				y := layertest.Input(g, tensor.Float64, rng, "y", 2, a.H*a.W)
				x := layertest.Input(g, tensor.Float64, rng, "x", 2, a.H*a.W)
				atx, err := a.ApplyT(x)
				if err != nil {
					t.Fatal(err)
				}
				out, err := cell.Apply(y, G.Nodes{atx})
				if err != nil {
					t.Fatal(err)
				}
				loss, err := layers.MSE(out, layertest.Input(g, tensor.Float64, rng, "target", 2, a.H*a.W))
				if err != nil {
					t.Fatal(err)
				}
				return loss, append(G.Nodes{y, x}, cell.Params()...)
			}
			grads := func(wrt G.Nodes) [][]float64 {
				out := make([][]float64, len(wrt))
				for i, n := range wrt {
					gv, err := n.Grad()
					if err != nil {
						t.Fatalf("%s: %v", n.Name(), err)
					}
					out[i], _ = layers.Floats64(gv)
				}
				return out
			}
			g := G.NewGraph()
			loss, wrt := build(g)
			if _, err := G.Grad(loss, wrt...); err != nil {
				t.Fatal(err)
			}
			tape := G.NewTapeMachine(g)
			if err := tape.RunAll(); err != nil {
				t.Fatal(err)
			}
			want := grads(wrt)
			tape.Close()
			g = G.NewGraph()
			_, wrt = build(g)
			lisp := G.NewLispMachine(g)
			defer lisp.Close()
			if err := lisp.RunAll(); err != nil {
				t.Fatal(err)
			}
			if d := layertest.RelDiff(want, grads(wrt)); d > 1e-10 {
				t.Fatalf("LispMachine gradients differ from TapeMachine's by %.3g", d)
			}
		})
	}
}
