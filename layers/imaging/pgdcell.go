package imaging

import (
	"fmt"
	"math"

	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/layers/conv"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/opkit"
)

// PGDCell is the plug-and-play proximal-gradient operator of the
// deblurring workload (Liu et al. 2025, case study 1):
//
//	G(y, x) = D_θ(y − γ·(Aᵀ(A y − x) + λy))
//
// one gradient step on ½‖Ay − x‖² + ½λ‖y‖² followed by a learned denoiser
// D_θ (a conv.ResCNN), with the step γ learned too. With λ = 0 (the paper's
// form) the step does not contract the modes that A nearly annihilates,
// so only the denoiser makes G a contraction there; a small λ > 0 makes
// the step itself contract every mode by at least 1 − γλ. The injection is Aᵀx (B, H·W),
// computed once outside the solve (Blur.ApplyT); the state y is the image
// estimate (B, H·W). Its kernels evaluate G and y ↦ J_G(y)ᵀv =
// (I − γ(AᵀA + λI))·J_D(u)ᵀv without graphs, so every backward mode works.
type PGDCell struct {
	pnp
	// Gamma is the step γ, (1, 1), initialised to DefaultPGDStep = 1 or
	// InitialStep's value (with a kernel that sums to 1, ‖A‖ = 1 and the
	// step is non-expansive for γ ≤ 2).
	Gamma *G.Node
	// Lambda is the fixed Tikhonov weight λ ≥ 0 of the step (zero: none).
	// Set it before the cell is used.
	Lambda float64
}

var _ layers.Cell = (*PGDCell)(nil)

// NewPGDCell creates the cell for the operator a and the denoiser d (built in
// the same scope, on a's image size); its own parameter is name.gamma,
// initialised to DefaultPGDStep or to InitialStep's γ ≤ 2.
// After every optimizer step (Project) γ is clipped to [0, 2/(1 + λ)],
// where the step y ↦ y − γ((AᵀA + λI)y − Aᵀx) is (1 − γλ)-Lipschitz (A's
// kernels sum to 1, so ‖A‖ = 1): then Lip_y(G) ≤ Lip(D)·(1 − γλ), and a
// denoiser with Lip(D) ≤ 1 (ResSkip and ResLipschitz) makes G a
// contraction with a unique fixed point that plain iteration reaches from
// any start.
func NewPGDCell(s *layers.Scope, name string, a *Blur, d *conv.ResCNN, opts ...CellOpt) *PGDCell {
	c := &PGDCell{pnp: newPnP(s, "PGDCell", name, a, d)}
	if c.err != nil {
		return c
	}
	gamma, err := initialStep("PGDCell", name, DefaultPGDStep, 2, opts)
	if err != nil {
		c.err = s.Fail(err)
		return c
	}
	c.Gamma = s.Param(name+".gamma", tensor.Shape{1, 1}, layers.Constant(gamma))
	c.err = s.Err()
	if c.err == nil {
		s.AddProjector(c)
	}
	return c
}

// Project implements Projector: it clips γ to [0, 2/(1 + λ)].
func (c *PGDCell) Project() error {
	if c.err != nil {
		return nil
	}
	hi := 2 / (1 + c.Lambda)
	switch g := c.Gamma.Value().Data().(type) {
	case []float64:
		g[0] = math.Min(math.Max(g[0], 0), hi)
	case []float32:
		g[0] = float32(math.Min(math.Max(float64(g[0]), 0), hi))
	}
	return nil
}

// Params implements Cell: γ, then the denoiser's weights and biases.
func (c *PGDCell) Params() G.Nodes { return c.params(c.Gamma) }

// Apply implements Cell: u = y − γ(AᵀA y + λy − inj), then D(u).
func (c *PGDCell) Apply(y *G.Node, inj G.Nodes) (*G.Node, error) {
	if c.err != nil {
		return nil, c.err
	}
	if len(inj) != 1 {
		return nil, fmt.Errorf("imaging: PGDCell takes one injection, got %d", len(inj))
	}
	ay, err := c.Blur.Apply(y)
	if err != nil {
		return nil, err
	}
	atay, err := c.Blur.ApplyT(ay)
	if err != nil {
		return nil, err
	}
	u, err := G.ApplyOp(newGradStepOp(c.Lambda, y.Dtype(), y.Shape(), 0), y, atay, inj[0], c.Gamma)
	if err != nil {
		return nil, err
	}
	return c.Denoiser.Fwd(u)
}

// Kernel64 implements Cell.
func (c *PGDCell) Kernel64(inj []tensor.Shape) (layers.Kernel[float64], error) {
	return kernelFor(&c.pnp, inj, "float64", func(n int) dataStep[float64] { return newPGDStep[float64](c, n) })
}

// Kernel32 implements Cell.
func (c *PGDCell) Kernel32(inj []tensor.Shape) (layers.Kernel[float32], error) {
	return kernelFor(&c.pnp, inj, "float32", func(n int) dataStep[float32] { return newPGDStep[float32](c, n) })
}

// pgdStep is the gradient step u = y − γ(AᵀA y + λy − b) on flat buffers.
type pgdStep[T deq.Float] struct {
	c      *PGDCell
	gamma  T
	t1, t2 []T // A v and AᵀA v
}

func newPGDStep[T deq.Float](c *PGDCell, n int) *pgdStep[T] {
	m := n * c.Blur.H * c.Blur.W
	return &pgdStep[T]{c: c, t1: make([]T, m), t2: make([]T, m)}
}

func (p *pgdStep[T]) bind(gamma T) error { p.gamma = gamma; return nil }

// normal writes AᵀA v into p.t2.
func (p *pgdStep[T]) normal(v []T) {
	blurEval(p.c.Blur, p.t1, v, false)
	blurEval(p.c.Blur, p.t2, p.t1, true)
}

func (p *pgdStep[T]) step(u, y, b []T) {
	p.normal(y)
	lam := T(p.c.Lambda)
	for i := range u {
		u[i] = y[i] - p.gamma*(p.t2[i]+lam*y[i]-b[i])
	}
}

// vjp: (I − γ(AᵀA + λI))w, AᵀA being symmetric.
func (p *pgdStep[T]) vjp(out, w []T) {
	p.normal(w)
	c := 1 - p.gamma*T(p.c.Lambda)
	for i := range out {
		out[i] = c*w[i] - p.gamma*p.t2[i]
	}
}

// gradStepOp computes the PGD step u = y − γ(t + λy − inj), t = AᵀA y.
// Children: y, t, inj (all (B, N)) and γ (1, 1). Its gradient ops
// (part > 0) take (g, y, t, inj, γ) and compute part 1: (1 − γλ)·g (∂y),
// 2: −γ·g (∂t), 3: γ·g (∂inj), 4: −Σ g ⊙ (t + λy − inj) (∂γ).
type gradStepOp struct {
	opkit.Base
	lambda float64
	shape  tensor.Shape
	part   int
}

func newGradStepOp(lambda float64, dt tensor.Dtype, shape tensor.Shape, part int) *gradStepOp {
	out := shape
	if part == 4 {
		out = tensor.Shape{1, 1}
	}
	return &gradStepOp{lambda: lambda, shape: shape.Clone(), part: part, Base: opkit.New(fmt.Sprintf("GradStep{%d}", part),
		fmt.Sprintf("GradStep{%v,%v,%v,%d}", lambda, dt, []int(shape), part), dt, 4+opkit.Btoi(part > 0), out)}
}

func (op *gradStepOp) Do(vals ...G.Value) (G.Value, error) {
	return doOp(op, op.Base, vals, gradStepDo[float32], gradStepDo[float64])
}

func gradStepDo[T deq.Float](op *gradStepOp, out *tensor.Dense, vals []G.Value) error {
	in, err := floatValues[T](vals)
	if err != nil {
		return err
	}
	var g []T // the incoming gradient, for the gradient ops
	if op.part > 0 {
		g, in = in[0], in[1:]
	}
	y, t, inj, gamma := in[0], in[1], in[2], in[3]
	if len(gamma) != 1 || len(t) != len(y) || len(inj) != len(y) || (g != nil && len(g) != len(y)) {
		return fmt.Errorf("imaging: %v got values of the wrong size", op)
	}
	o, ga, lam := out.Data().([]T), gamma[0], T(op.lambda)
	scale := map[int]T{1: 1 - ga*lam, 2: -ga, 3: ga}
	switch op.part {
	case 0:
		for i := range o {
			o[i] = y[i] - ga*(t[i]+lam*y[i]-inj[i])
		}
	case 1, 2, 3:
		c := scale[op.part]
		for i := range o {
			o[i] = c * g[i]
		}
	case 4:
		var s T
		for i := range g {
			s -= g[i] * (t[i] + lam*y[i] - inj[i])
		}
		o[0] = s
	}
	return nil
}

func (op *gradStepOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	for i := range d {
		d[i] = op.part == 0
	}
	return d
}

// gradParts are the gradient ops' parts, in the order of the children.
var gradParts = [4]int{1, 2, 3, 4}

func (op *gradStepOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	if op.part != 0 {
		return nil, fmt.Errorf("imaging: the gradient step's gradients are not differentiated again")
	}
	var grads G.Nodes
	for _, part := range gradParts {
		d, err := G.ApplyOp(newGradStepOp(op.lambda, op.Dtype(), op.shape, part), append(G.Nodes{grad}, inputs...)...)
		if err != nil {
			return nil, err
		}
		grads = append(grads, d)
	}
	return grads, nil
}

func (op *gradStepOp) DoDiff(_ G.ExecutionContext, inputs G.Nodes, output *G.Node) error {
	g, err := output.Grad()
	if err != nil {
		return err
	}
	vals := []G.Value{g}
	for _, n := range inputs {
		vals = append(vals, n.Value())
	}
	return accumulateParts(inputs, vals, gradParts[:], func(part int) G.Op { return newGradStepOp(op.lambda, op.Dtype(), op.shape, part) })
}
