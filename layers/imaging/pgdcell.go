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
// (I − γAᵀA)·J_D(u)ᵀv without graphs, so every backward mode works.
type PGDCell struct {
	Blur     *Blur
	Denoiser *conv.ResCNN
	// Gamma is the step γ, (1, 1), initialised to 1 (with a kernel that
	// sums to 1, ‖A‖ = 1 and the step is non-expansive for γ ≤ 2).
	Gamma *G.Node
	// Lambda is the fixed Tikhonov weight λ ≥ 0 of the step (zero: none).
	// Set it before the cell is used.
	Lambda float64
	err    error
	cache  *opkit.Cache
}

var _ layers.Cell = (*PGDCell)(nil)

// PGDCell creates the cell for the operator a and the denoiser d (built in
// the same scope, on a's image size); its own parameter is name.gamma.
// After every optimizer step (Project) γ is clipped to [0, 2/(1 + λ)],
// where the step y ↦ y − γ((AᵀA + λI)y − Aᵀx) is (1 − γλ)-Lipschitz (A's
// kernels sum to 1, so ‖A‖ = 1): then Lip_y(G) ≤ Lip(D)·(1 − γλ), and a
// denoiser with Lip(D) ≤ 1 (ResSkip and ResLipschitz) makes G a
// contraction with a unique fixed point that plain iteration reaches from
// any start.
func NewPGDCell(s *layers.Scope, name string, a *Blur, d *conv.ResCNN) *PGDCell {
	c := &PGDCell{Blur: a, Denoiser: d, cache: &opkit.Cache{}}
	switch {
	case a == nil || d == nil:
		c.err = s.Fail(fmt.Errorf("imaging: PGDCell %q needs a blur operator and a denoiser", name))
		return c
	case d.Err() != nil:
		c.err = d.Err()
		return c
	case d.Height != a.H || d.Width != a.W:
		c.err = s.Fail(fmt.Errorf("imaging: PGDCell %q: the denoiser works on %d×%d images, the blur on %d×%d", name, d.Height, d.Width, a.H, a.W))
		return c
	}
	c.Gamma = s.Param(name+".gamma", tensor.Shape{1, 1}, layers.Constant(1))
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
func (c *PGDCell) Params() G.Nodes {
	if c.err != nil {
		return nil
	}
	return append(G.Nodes{c.Gamma}, c.Denoiser.Params()...)
}

// StateShape implements Cell: y has the injection's shape (B, H·W).
func (c *PGDCell) StateShape(inj []tensor.Shape) (tensor.Shape, error) {
	if c.err != nil {
		return nil, c.err
	}
	n := c.Blur.H * c.Blur.W
	if len(inj) != 1 || len(inj[0]) != 2 || inj[0][1] != n {
		return nil, fmt.Errorf("imaging: PGDCell on %d×%d images needs one injection Aᵀx of shape (B, %d), got %v", c.Blur.H, c.Blur.W, n, inj)
	}
	return inj[0].Clone(), nil
}

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
	return pgdKernelFor[float64](c, inj, "float64")
}

// Kernel32 implements Cell.
func (c *PGDCell) Kernel32(inj []tensor.Shape) (layers.Kernel[float32], error) {
	return pgdKernelFor[float32](c, inj, "float32")
}

func pgdKernelFor[T deq.Float](c *PGDCell, inj []tensor.Shape, dt string) (layers.Kernel[T], error) {
	st, err := c.StateShape(inj)
	if err != nil {
		return nil, err
	}
	k, err := c.cache.Get(opkit.ShapesKey(dt, inj), func() (any, error) {
		n := st.TotalSize()
		return &pgdKernel[T]{c: c, d: conv.NewResCNNKernel[T](c.Denoiser, st[0]), u: make([]T, n), t1: make([]T, n), t2: make([]T, n)}, nil
	})
	if err != nil {
		return nil, err
	}
	return k.(*pgdKernel[T]), nil
}

// pgdKernel evaluates the PGD operator on flat buffers.
type pgdKernel[T deq.Float] struct {
	c      *PGDCell
	d      *conv.ResCNNKernel[T]
	inj    []T
	gamma  T
	u      []T // the gradient step's output
	t1, t2 []T // scratch for A y and AᵀA y
}

func (k *pgdKernel[T]) Bind(inj, params []G.Value) error {
	if len(inj) != 1 || len(params) != 1+2*k.d.Layers() {
		return fmt.Errorf("imaging: PGDCell kernel bound to %d injections and %d parameters, want 1 and %d", len(inj), len(params), 1+2*k.d.Layers())
	}
	var err error
	if k.inj, err = opkit.Data[T](inj[0]); err != nil {
		return err
	}
	if len(k.inj) != len(k.u) {
		return fmt.Errorf("imaging: PGDCell kernel got an injection of %d values, want %d", len(k.inj), len(k.u))
	}
	g, err := opkit.Data[T](params[0])
	if err != nil {
		return err
	}
	if len(g) != 1 {
		return fmt.Errorf("imaging: PGDCell kernel got %d step values, want 1", len(g))
	}
	k.gamma = g[0]
	ps := make([][]T, len(params)-1)
	for i, p := range params[1:] {
		if ps[i], err = opkit.Data[T](p); err != nil {
			return err
		}
	}
	return k.d.Bind(ps)
}

// normal writes AᵀA v into k.t2.
func (k *pgdKernel[T]) normal(v []T) {
	blurEval(k.c.Blur, k.t1, v, false)
	blurEval(k.c.Blur, k.t2, k.t1, true)
}

// step writes u = y − γ(AᵀA y + λy − inj) into k.u.
func (k *pgdKernel[T]) step(y []T) {
	k.normal(y)
	lam := T(k.c.Lambda)
	for i := range k.u {
		k.u[i] = y[i] - k.gamma*(k.t2[i]+lam*y[i]-k.inj[i])
	}
}

func (k *pgdKernel[T]) Eval(out, y []T) error {
	k.step(y)
	k.d.Forward(out, k.u, false)
	return nil
}

func (k *pgdKernel[T]) Linearize(y []T) error {
	k.step(y)
	k.d.Forward(k.t1, k.u, true) // the output is not needed, φ' is
	return nil
}

// VJP: J_Gᵀv = (I − γ(AᵀA + λI))·J_D(u)ᵀv (AᵀA is symmetric).
func (k *pgdKernel[T]) VJP(out, v []T) error {
	k.d.VJP(out, v)
	k.normal(out)
	c := 1 - k.gamma*T(k.c.Lambda)
	for i := range out {
		out[i] = c*out[i] - k.gamma*k.t2[i]
	}
	return nil
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
	if err := op.CheckArity(vals); err != nil {
		return nil, fmt.Errorf("imaging: %w", err)
	}
	out := op.Output()
	return out, op.Dispatch(
		func() error { return gradStepDo[float32](op, out, vals) },
		func() error { return gradStepDo[float64](op, out, vals) })
}

func gradStepDo[T deq.Float](op *gradStepOp, out *tensor.Dense, vals []G.Value) error {
	in := make([][]T, len(vals))
	for i, v := range vals {
		d, err := opkit.Data[T](v)
		if err != nil {
			return err
		}
		in[i] = d
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
	for i, part := range gradParts {
		d, err := newGradStepOp(op.lambda, op.Dtype(), op.shape, part).Do(vals...)
		if err != nil {
			return err
		}
		if err := opkit.AccumulateGrad(inputs[i], d); err != nil {
			return err
		}
	}
	return nil
}
