package conv

import (
	"fmt"

	"github.com/implicit-ml/implicit/layers"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/opkit"
)

// Conv2D is a 2-D convolution layer with a K×K window (K odd), stride 1
// and zero padding K/2, so the output has the input's H×W size:
//
//	y = φ(conv(x, W) + b)
//
// Shapes: x is (B, In·H·W) and y (B, Out·H·W), channel-major per sample
// (PyTorch's NCHW: pixel (i, j) of channel c at c·H·W + i·W + j), so
// single-channel images are just (B, H·W); W is (Out, In·K·K), tap (a, b)
// of input channel ci in column (ci·K + a)·K + b, and b is (1, Out). The
// op is im2col and one matrix product per sample, in parallel over
// samples, with hand-written gradients (the transposed convolution for x,
// a patch product for W) checked against finite differences. φ must be computable from its
// output (tanh, ReLU, sigmoid, softplus or identity).
type Conv2D struct {
	W, B                   *G.Node
	Height, Width, In, Out int
	K                      int
	Act                    layers.Activation
	// Bound, when positive, is the largest operator norm ‖conv_W‖₂ the
	// training allows (see ConvBound).
	Bound float64
	v     []float64 // right singular vector estimate, warm start of Project
	pool  *colPool
	err   error
}

var _ layers.Layer = (*Conv2D)(nil)

// ConvOpt configures a Conv2D layer.
type ConvOpt func(*convConfig)

type convConfig struct {
	init  layers.Init
	bound float64
}

// ConvInit sets the weight initialiser (default GlorotUniform(1)).
func ConvInit(i layers.Init) ConvOpt { return func(c *convConfig) { c.init = i } }

// ConvBound keeps the operator norm of the convolution (as a linear map
// of H×W images with zero padding, not of its weight matrix) at most c:
// after every optimizer step (Project) W is scaled down when the norm,
// estimated by power iteration through the convolution and its transpose
// warm started from the previous step's vector, exceeds c. With
// 1-Lipschitz activations a chain of such layers is at most Π c-Lipschitz
// (Ryu et al. 2019's spectrally normalised denoisers).
func ConvBound(c float64) ConvOpt { return func(cf *convConfig) { cf.bound = c } }

// Conv2D creates a convolution of height×width images from in to out
// channels with a k×k window; parameters name.W and name.b (zero).
func NewConv2D(s *layers.Scope, name string, height, width, in, out, k int, act layers.Activation, opts ...ConvOpt) *Conv2D {
	cfg := convConfig{init: layers.GlorotUniform(1)}
	for _, o := range opts {
		o(&cfg)
	}
	c := &Conv2D{Height: height, Width: width, In: in, Out: out, K: k, Act: act, pool: &colPool{}}
	switch {
	case height < 1 || width < 1 || in < 1 || out < 1:
		c.err = s.Fail(fmt.Errorf("conv: Conv2D %q needs positive sizes, got %d×%d images, %d → %d channels", name, height, width, in, out))
		return c
	case k < 1 || k%2 == 0:
		c.err = s.Fail(fmt.Errorf("conv: Conv2D %q needs an odd window, got %d", name, k))
		return c
	case !act.DerivFromOutput():
		c.err = s.Fail(fmt.Errorf("conv: Conv2D %q: activation %v is not supported (use tanh, relu, sigmoid, softplus or identity)", name, act))
		return c
	case cfg.bound < 0:
		c.err = s.Fail(fmt.Errorf("conv: Conv2D %q: bound %v must be positive", name, cfg.bound))
		return c
	}
	c.W = s.Param(name+".W", tensor.Shape{out, k * k * in}, cfg.init)
	c.B = s.Param(name+".b", tensor.Shape{1, out}, layers.Zeros)
	c.err = s.Err()
	if cfg.bound > 0 && c.err == nil {
		c.Bound = cfg.bound
		n := c.geom().inSize()
		c.v = s.Carried(fmt.Sprintf("%s.W#power%d", name, n), func() any {
			v := make([]float64, n)
			for i := range v {
				v[i] = s.Rand().NormFloat64()
			}
			return v
		}).([]float64)
		if s.Created(name + ".W") { // a rebuild leaves the shared weights alone
			c.err = c.project(30)
		}
		s.AddProjector(c)
	}
	return c
}

// Project implements Projector: it enforces ‖conv_W‖₂ ≤ Bound (a no-op
// without a bound).
func (c *Conv2D) Project() error {
	if c.Bound <= 0 || c.W == nil {
		return nil
	}
	return c.project(2)
}

// OperatorNorm estimates ‖conv_W‖₂ by iters power-iteration steps from
// the stored vector (a lower bound that tightens with every step).
func (c *Conv2D) OperatorNorm(iters int) (float64, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.v == nil {
		c.v = make([]float64, c.geom().inSize())
		for i := range c.v {
			c.v[i] = 1 / float64(i+1)
		}
	}
	w, err := layers.Floats64(c.W.Value())
	if err != nil {
		return 0, err
	}
	g := c.geom()
	u := make([]float64, g.outSize())
	sigma := 0.0
	for range iters {
		convForward(g, c.pool, u, c.v, w, nil, nil, 1, layers.Identity, nil) // u = K v
		nu := opkit.Norm2(u)
		if nu == 0 {
			return 0, nil
		}
		convBackData(g, c.pool, c.v, u, w, 1) // v = Kᵀu / ‖u‖
		nv := opkit.Norm2(c.v)
		sigma = nv / nu
		for i := range c.v {
			c.v[i] /= nv
		}
	}
	return sigma, nil
}

func (c *Conv2D) project(iters int) error {
	sigma, err := c.OperatorNorm(iters)
	if err != nil || sigma <= c.Bound {
		return err
	}
	switch w := c.W.Value().Data().(type) {
	case []float64:
		for i := range w {
			w[i] *= c.Bound / sigma
		}
	case []float32:
		f := float32(c.Bound / sigma)
		for i := range w {
			w[i] *= f
		}
	}
	return nil
}

func (c *Conv2D) geom() convGeom { return convGeom{c.Height, c.Width, c.In, c.Out, c.K} }

// Fwd implements Layer.
func (c *Conv2D) Fwd(x *G.Node) (*G.Node, error) { return c.Apply(x, nil) }

// Apply builds φ(conv(x, W) + b + add); add (B, Out·H·W) may be nil.
func (c *Conv2D) Apply(x, add *G.Node) (*G.Node, error) {
	if c.err != nil {
		return nil, c.err
	}
	return conv2d(c.geom(), x, c.W, c.B, add, c.Act)
}

// Params implements Layer.
func (c *Conv2D) Params() G.Nodes {
	if c.err != nil {
		return nil
	}
	return G.Nodes{c.W, c.B}
}

func conv2d(geo convGeom, x, w, b, add *G.Node, act layers.Activation) (*G.Node, error) {
	xs := x.Shape()
	if len(xs) != 2 || xs[1] != geo.inSize() {
		return nil, fmt.Errorf("conv: Conv2D on %d×%d images with %d channels needs input (B, %d), got %v", geo.h, geo.w, geo.cin, geo.inSize(), xs)
	}
	children := G.Nodes{x, w, b}
	if add != nil {
		if want := (tensor.Shape{xs[0], geo.outSize()}); !add.Shape().Eq(want) {
			return nil, fmt.Errorf("conv: Conv2D addend has shape %v, want %v", add.Shape(), want)
		}
		children = append(children, add)
	}
	dt, batch := x.Dtype(), xs[0]
	op := &conv2dOp{geo: geo, act: act, hasAdd: add != nil, batch: batch, pool: &colPool{}}
	op.Base = opkit.New(fmt.Sprintf("Conv2D{%dx%d,%d→%d,%v}", geo.k, geo.k, geo.cin, geo.cout, act),
		fmt.Sprintf("Conv2D{%v,%v,%v,%v,%d}", geo, act, op.hasAdd, dt, batch), dt, len(children), tensor.Shape{batch, geo.outSize()})
	return G.ApplyOp(op, children...)
}

// conv2dOp computes φ(conv(x, W) + b [+ add]). Children: x, W, b, then
// add if hasAdd. Its output buffer and im2col scratch are reused across
// runs.
type conv2dOp struct {
	opkit.Base
	geo    convGeom
	act    layers.Activation
	hasAdd bool
	batch  int
	pool   *colPool
}

func (op *conv2dOp) Do(vals ...G.Value) (G.Value, error) {
	return opkit.Do(op, "conv", vals, conv2dDo[float32], conv2dDo[float64])
}

func conv2dDo[T deq.Float](op *conv2dOp, out *tensor.Dense, vals []G.Value) error {
	var in [4][]T
	for i, v := range vals {
		d, err := opkit.Data[T](v)
		if err != nil {
			return err
		}
		in[i] = d
	}
	g := op.geo
	if len(in[0]) != op.batch*g.inSize() || len(in[1]) != g.weights() || len(in[2]) != g.cout {
		return fmt.Errorf("conv: %v got values of the wrong size", op)
	}
	convForward(g, op.pool, out.Data().([]T), in[0], in[1], in[2], in[3], op.batch, op.act, nil)
	return nil
}

func (op *conv2dOp) DiffWRT(n int) []bool { return opkit.AllTrue(n) }

// SymDiff: s = g ⊙ φ'(y); ∂x = convᵀ(s, W), ∂W = im2col(x)ᵀ·s,
// ∂b = Σ_pixels s, ∂add = s.
func (op *conv2dOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	s, err := layers.ActivationGrad(op.act, output, grad)
	if err != nil {
		return nil, err
	}
	var grads G.Nodes
	for part, children := range []G.Nodes{{s, inputs[1]}, {inputs[0], s}, {s, inputs[2]}} {
		d, err := G.ApplyOp(op.grad(part), children...)
		if err != nil {
			return nil, err
		}
		grads = append(grads, d)
	}
	if op.hasAdd {
		grads = append(grads, s)
	}
	return grads, nil
}

func (op *conv2dOp) DoDiff(_ G.ExecutionContext, inputs G.Nodes, output *G.Node) error {
	g, err := output.Grad()
	if err != nil {
		return err
	}
	s, err := layers.ActivationGradValue(op.act, output.Value(), g)
	if err != nil {
		return err
	}
	for part, args := range [][]G.Value{{s, inputs[1].Value()}, {inputs[0].Value(), s}, {s, inputs[2].Value()}} {
		d, err := op.grad(part).Do(args...)
		if err != nil {
			return err
		}
		if err := opkit.AccumulateGrad(inputs[part], d); err != nil {
			return err
		}
	}
	if op.hasAdd {
		return opkit.AccumulateGrad(inputs[3], s)
	}
	return nil
}

// grad returns the op computing the gradient of part 0 (x), 1 (W) or 2 (b).
func (op *conv2dOp) grad(part int) *convGradOp {
	g, dt := op.geo, op.Dtype()
	out := tensor.Shape{op.batch, g.inSize()}
	switch part {
	case 1:
		out = tensor.Shape{g.cout, g.patch()}
	case 2:
		out = tensor.Shape{1, g.cout}
	}
	return &convGradOp{geo: g, part: part, batch: op.batch, pool: op.pool,
		Base: opkit.New("Conv2DGrad"+[3]string{"X", "W", "b"}[part], fmt.Sprintf("Conv2DGrad{%v,%d,%v,%d}", g, part, dt, op.batch), dt, 2, out)}
}

// convGradOp computes a gradient of the convolution from s = g ⊙ φ':
// part 0, ∂x = convᵀ(s, W) from children (s, W); part 1, ∂W =
// Σ s·im2col(x)ᵀ from children (x, s); part 2, ∂b = Σ_pixels s from
// children (s, b) (b only gives the shape).
type convGradOp struct {
	opkit.Base
	geo   convGeom
	part  int
	batch int
	pool  *colPool
}

func (op *convGradOp) Do(vals ...G.Value) (G.Value, error) {
	return opkit.Do(op, "conv", vals, convGradDo[float32], convGradDo[float64])
}

func convGradDo[T deq.Float](op *convGradOp, out *tensor.Dense, vals []G.Value) error {
	a, err := opkit.Data[T](vals[0])
	if err != nil {
		return err
	}
	b, err := opkit.Data[T](vals[1])
	if err != nil {
		return err
	}
	g, o := op.geo, out.Data().([]T)
	switch op.part {
	case 0:
		convBackData(g, op.pool, o, a, b, op.batch)
	case 1:
		convBackWeight(g, op.pool, o, a, b, op.batch)
	case 2:
		convBiasGrad(g, o, a, op.batch)
	}
	return nil
}

func (op *convGradOp) DiffWRT(n int) []bool { return make([]bool, n) }
func (op *convGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("conv: the convolution's gradient is not differentiated again")
}
