package layers

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/linalg"
	"github.com/implicit-ml/implicit/internal/opkit"
)

// DenseCell is the built-in dense cell
//
//	f(z, inj) = φ(z·W + inj + b)
//
// with hand-written kernels (two matrix products per Eval+VJP). Shapes: z
// and inj are (B, H), W is (H, H), b is (1, H) or absent.
//
// With Kappa > 0 it is El Ghaoui's implicit model z = φ(Az + Bx) written
// in rows (W = Aᵀ, inj = x·Bᵀ computed once outside the solve): Project
// keeps ‖A‖∞ = ‖W‖₁ ≤ Kappa < 1, which with a 1-Lipschitz monotone φ
// (ReLU, tanh) makes the fixed point unique and Picard iteration converge.
type DenseCell struct {
	W, B   *G.Node // B is nil for El Ghaoui cells
	Act    Activation
	Hidden int
	// Kappa bounds ‖W‖₁ through Project; zero means no projection.
	Kappa float64
	// raw lists the trainable parameters when W is reparametrised (W is
	// then computed from them in the graph); nil otherwise.
	raw   G.Nodes
	err   error
	cache *opkit.Cache
}

// CellOpt configures a built-in cell.
type CellOpt func(*cellConfig)

type cellConfig struct{ reparam Reparam }

// WithReparam builds the cell's recurrent weight W through a Reparam
// (WeightNorm, SpectralNorm, Monotone) instead of as a free parameter.
func WithReparam(r Reparam) CellOpt { return func(c *cellConfig) { c.reparam = r } }

var _ Cell = (*DenseCell)(nil)

// CellInit is the default initialiser of recurrent weights: Glorot uniform
// scaled so that ‖W‖₂ ≈ 0.5 for square W, which keeps a fresh tanh cell
// contractive.
func CellInit() Init { return GlorotUniform(0.25) }

// DenseCell creates the cell φ(z·W + inj + b) with parameters name.W (or
// the raw parameters of a Reparam, see WithReparam) and name.b.
func (s *Scope) DenseCell(name string, hidden int, act Activation, opts ...CellOpt) *DenseCell {
	var cfg cellConfig
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.reparam == nil {
		return s.denseCell(name, hidden, act, true, 0)
	}
	c := &DenseCell{Act: act, Hidden: hidden, cache: &opkit.Cache{}}
	if hidden <= 0 {
		c.err = s.Fail(fmt.Errorf("layers: cell %q needs a positive hidden size, got %d", name, hidden))
		return c
	}
	before := len(s.order)
	w, err := cfg.reparam.Weight(s, name+".W", hidden, hidden)
	if err != nil {
		c.err = s.Fail(err)
		return c
	}
	c.W = w
	c.B = s.Param(name+".b", tensor.Shape{1, hidden}, Zeros)
	c.raw = append(G.Nodes(nil), s.order[before:]...)
	c.err = s.err
	return c
}

// ElGhaouiCell creates the cell φ(z·W + inj) with ‖W‖₁ ≤ kappa enforced by
// Project (called once here and after every optimizer step by the
// training loop). kappa must be in (0, 1) for well-posedness.
func (s *Scope) ElGhaouiCell(name string, hidden int, act Activation, kappa float64) *DenseCell {
	c := s.denseCell(name, hidden, act, false, kappa)
	if c.err == nil && !(kappa > 0 && kappa < 1) {
		c.err = s.Fail(fmt.Errorf("layers: ElGhaouiCell %q needs kappa in (0, 1), got %v", name, kappa))
	}
	if c.err == nil {
		c.err = c.Project()
		s.projectors = append(s.projectors, c)
	}
	return c
}

func (s *Scope) denseCell(name string, hidden int, act Activation, bias bool, kappa float64) *DenseCell {
	c := &DenseCell{Act: act, Hidden: hidden, Kappa: kappa, cache: &opkit.Cache{}}
	if hidden <= 0 {
		c.err = s.Fail(fmt.Errorf("layers: cell %q needs a positive hidden size, got %d", name, hidden))
		return c
	}
	c.W = s.Param(name+".W", tensor.Shape{hidden, hidden}, CellInit())
	if bias {
		c.B = s.Param(name+".b", tensor.Shape{1, hidden}, Zeros)
	}
	c.err = s.err
	return c
}

// Params implements Cell: the trainable parameters.
func (c *DenseCell) Params() G.Nodes {
	if c.raw != nil {
		return c.raw
	}
	return c.KernelInputs()
}

// KernelInputs implements KernelInputter: the (effective) weight and bias.
func (c *DenseCell) KernelInputs() G.Nodes {
	if c.B == nil {
		return G.Nodes{c.W}
	}
	return G.Nodes{c.W, c.B}
}

// StateShape implements Cell: z has the injection's shape (B, H).
func (c *DenseCell) StateShape(inj []tensor.Shape) (tensor.Shape, error) {
	if c.err != nil {
		return nil, c.err
	}
	if len(inj) != 1 || len(inj[0]) != 2 || inj[0][1] != c.Hidden {
		return nil, fmt.Errorf("layers: DenseCell(%d) needs one injection of shape (B, %d), got %v", c.Hidden, c.Hidden, inj)
	}
	return inj[0].Clone(), nil
}

// Apply implements Cell.
func (c *DenseCell) Apply(z *G.Node, inj G.Nodes) (*G.Node, error) {
	if c.err != nil {
		return nil, c.err
	}
	if len(inj) != 1 {
		return nil, fmt.Errorf("layers: DenseCell takes one injection, got %d", len(inj))
	}
	if c.Act.DerivFromOutput() {
		return Affine(z, c.W, inj[0], c.B, c.Act)
	}
	pre, err := Affine(z, c.W, inj[0], c.B, Identity)
	if err != nil {
		return nil, err
	}
	return c.Act.Apply(pre)
}

// Project enforces ‖W‖₁ ≤ Kappa in place when Kappa > 0 (El Ghaoui's
// well-posedness condition ‖A‖∞ < 1 with A = Wᵀ). It is a no-op otherwise.
func (c *DenseCell) Project() error {
	if c.Kappa <= 0 || c.W == nil || c.raw != nil {
		return nil
	}
	h := c.Hidden
	switch w := c.W.Value().Data().(type) {
	case []float64:
		return deq.ProjectOneNorm(w, h, h, c.Kappa)
	case []float32:
		return deq.ProjectOneNorm(w, h, h, c.Kappa)
	}
	return fmt.Errorf("layers: DenseCell weights have unsupported type %T", c.W.Value().Data())
}

// Kernel64 implements Cell.
func (c *DenseCell) Kernel64(inj []tensor.Shape) (Kernel[float64], error) {
	return denseKernelFor[float64](c, inj, "float64")
}

// Kernel32 implements Cell.
func (c *DenseCell) Kernel32(inj []tensor.Shape) (Kernel[float32], error) {
	return denseKernelFor[float32](c, inj, "float32")
}

func denseKernelFor[T deq.Float](c *DenseCell, inj []tensor.Shape, dt string) (Kernel[T], error) {
	s, err := c.StateShape(inj)
	if err != nil {
		return nil, err
	}
	k, err := c.cache.Get(opkit.ShapesKey(dt, inj), func() (any, error) {
		b := s[0]
		return &denseKernel[T]{
			batch: b, h: c.Hidden, act: c.Act, bias: c.B != nil,
			deriv: make([]T, b*c.Hidden), tmp: make([]T, b*c.Hidden),
		}, nil
	})
	if err != nil {
		return nil, err
	}
	return k.(*denseKernel[T]), nil
}

// denseKernel evaluates φ(z·W + inj + b) and its VJP.
type denseKernel[T deq.Float] struct {
	batch, h int
	act      Activation
	bias     bool
	w, b     []T
	inj      []T
	deriv    []T // φ'(pre) at the linearisation point
	tmp      []T
}

func (k *denseKernel[T]) Bind(inj, params []G.Value) error {
	want := 1
	if k.bias {
		want = 2
	}
	if len(inj) != 1 || len(params) != want {
		return fmt.Errorf("layers: DenseCell kernel bound to %d injections and %d parameters, want 1 and %d", len(inj), len(params), want)
	}
	var err error
	if k.inj, err = opkit.Data[T](inj[0]); err != nil {
		return err
	}
	if k.w, err = opkit.Data[T](params[0]); err != nil {
		return err
	}
	if k.bias {
		if k.b, err = opkit.Data[T](params[1]); err != nil {
			return err
		}
	}
	if len(k.inj) != k.batch*k.h || len(k.w) != k.h*k.h || (k.bias && len(k.b) != k.h) {
		return fmt.Errorf("layers: DenseCell kernel got values of the wrong size")
	}
	return nil
}

// pre writes z·W + inj + b into out and, with act, applies φ (and writes
// φ' into d when d is not nil); rows are split over cores for big batches.
func (k *denseKernel[T]) pre(out, z []T, act bool, d []T) {
	h := k.h
	linalg.Work(k.batch, 2*k.batch*h*h, func(lo, hi int) {
		linalg.MatMul(out[lo*h:hi*h], z[lo*h:hi*h], k.w, hi-lo, h, h)
		for r := lo; r < hi; r++ {
			o, in := out[r*k.h:(r+1)*k.h], k.inj[r*k.h:(r+1)*k.h]
			for j := range o {
				o[j] += in[j]
			}
			if k.bias {
				for j := range o {
					o[j] += k.b[j]
				}
			}
		}
		if act {
			var dd []T
			if d != nil {
				dd = d[lo*k.h : hi*k.h]
			}
			Activate(k.act, out[lo*k.h:hi*k.h], dd)
		}
	})
}

func (k *denseKernel[T]) Eval(out, z []T) error {
	k.pre(out, z, true, nil)
	return nil
}

func (k *denseKernel[T]) Linearize(z []T) error {
	k.pre(k.tmp, z, true, k.deriv)
	return nil
}

func (k *denseKernel[T]) VJP(out, v []T) error {
	h := k.h
	linalg.Work(k.batch, 2*k.batch*h*h, func(lo, hi int) {
		for i := lo * h; i < hi*h; i++ {
			k.tmp[i] = v[i] * k.deriv[i]
		}
		opkit.FlushSubnormal(k.tmp[lo*h : hi*h])
		linalg.MatMulBT(out[lo*h:hi*h], k.tmp[lo*h:hi*h], k.w, hi-lo, h, h)
	})
	return nil
}
