package layers

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
)

// spectralGeom is the static shape of a spectral convolution: an S×S grid,
// M modes per direction, Cin → Cout channels.
type spectralGeom struct{ s, m, cin, cout int }

func (g spectralGeom) wShape() tensor.Shape {
	return tensor.Shape{2, spectralModes(g.m), g.cin, g.cout}
}

// planSlot lazily holds an op's or kernel's spectralPlan of one dtype.
type planSlot struct{ p any }

func planOf[T deq.Float](slot *planSlot, g spectralGeom) *spectralPlan[T] {
	if p, ok := slot.p.(*spectralPlan[T]); ok {
		return p
	}
	p := newSpectralPlan[T](g.s, g.m, g.cin, g.cout)
	slot.p = p
	return p
}

// spectralConv builds K x (+ add) for x (B, S²·Cin), w (2, 2M², Cin,
// Cout) and add (B, S²·Cout) or nil.
func spectralConv(geo spectralGeom, x, w, add *G.Node) (*G.Node, error) {
	xs := x.Shape()
	if len(xs) != 2 || xs[1] != geo.s*geo.s*geo.cin {
		return nil, fmt.Errorf("layers: spectral convolution on %d×%d grids with %d channels needs input (B, %d), got %v", geo.s, geo.s, geo.cin, geo.s*geo.s*geo.cin, xs)
	}
	if !w.Shape().Eq(geo.wShape()) {
		return nil, fmt.Errorf("layers: spectral weights have shape %v, want %v", w.Shape(), geo.wShape())
	}
	op := &spectralOp{geo: geo, dt: x.Dtype(), batch: xs[0], buf: &outBuf{}, plan: &planSlot{}}
	children := G.Nodes{x, w}
	if add != nil {
		if want := (tensor.Shape{xs[0], geo.s * geo.s * geo.cout}); !add.Shape().Eq(want) {
			return nil, fmt.Errorf("layers: spectral convolution addend has shape %v, want %v", add.Shape(), want)
		}
		op.hasAdd = true
		children = append(children, add)
	}
	return G.ApplyOp(op, children...)
}

// spectralOp computes K x + add, or with transposed Kᵀ x (Cout → Cin
// channels, no addend). Children: x, W, then add if hasAdd. Its output
// buffer is reused across runs, like the fused ops'.
type spectralOp struct {
	geo                spectralGeom
	transposed, hasAdd bool
	dt                 tensor.Dtype
	batch              int
	buf                *outBuf
	plan               *planSlot
}

func (op *spectralOp) outShape() tensor.Shape {
	c := op.geo.cout
	if op.transposed {
		c = op.geo.cin
	}
	return tensor.Shape{op.batch, op.geo.s * op.geo.s * c}
}

func (op *spectralOp) Arity() int { return 2 + btoi(op.hasAdd) }
func (op *spectralOp) Type() hm.Type {
	m := G.TensorType{Dims: 2, Of: op.dt}
	ts := []hm.Type{m, G.TensorType{Dims: 4, Of: op.dt}}
	if op.hasAdd {
		ts = append(ts, m)
	}
	return hm.NewFnType(append(ts, m)...)
}
func (op *spectralOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.outShape(), nil }
func (op *spectralOp) ReturnsPtr() bool                               { return false }
func (op *spectralOp) CallsExtern() bool                              { return false }
func (op *spectralOp) OverwritesInput() int                           { return -1 }
func (op *spectralOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "Spectral{%v,%v,%v,%v,%d}", op.geo, op.transposed, op.hasAdd, op.dt, op.batch)
}
func (op *spectralOp) Hashcode() uint32 { return hashOf(op) }
func (op *spectralOp) String() string {
	if op.transposed {
		return fmt.Sprintf("SpectralT{%d modes}", op.geo.m)
	}
	return fmt.Sprintf("Spectral{%d modes}", op.geo.m)
}

func (op *spectralOp) Do(vals ...G.Value) (G.Value, error) {
	if len(vals) != op.Arity() {
		return nil, fmt.Errorf("layers: %v takes %d inputs, got %d", op, op.Arity(), len(vals))
	}
	out := op.buf.get(op.dt, op.outShape())
	var err error
	if op.dt == tensor.Float32 {
		err = spectralDo[float32](op, out, vals)
	} else {
		err = spectralDo[float64](op, out, vals)
	}
	return out, err
}

func spectralDo[T deq.Float](op *spectralOp, out *tensor.Dense, vals []G.Value) error {
	x, err := data[T](vals[0])
	if err != nil {
		return err
	}
	w, err := data[T](vals[1])
	if err != nil {
		return err
	}
	var add []T
	if op.hasAdd {
		if add, err = data[T](vals[2]); err != nil {
			return err
		}
	}
	p := planOf[T](op.plan, op.geo)
	blk := blockBuf(p, w)
	if op.transposed {
		p.applyT(out.Data().([]T), x, blk, op.batch)
	} else {
		p.apply(out.Data().([]T), x, add, blk, op.batch)
	}
	return nil
}

// blockBuf returns blockWeights' form of w in a buffer the plan keeps.
func blockBuf[T deq.Float](p *spectralPlan[T], w []T) []T {
	modes := spectralModes(p.m)
	if len(p.blk) != modes*4*p.cin*p.cout {
		p.blk = make([]T, modes*4*p.cin*p.cout)
	}
	blockWeights(p.blk, w, modes, p.cin, p.cout)
	return p.blk
}

func (op *spectralOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	for i := range d {
		d[i] = true
	}
	return d
}

// SymDiff: for K x + add, ∂x = Kᵀg, ∂W = spectralWGrad(x, g), ∂add = g;
// for Kᵀs (the Jacobian penalty's vᵀJ differentiates it), ∂s = K g and
// ∂W = spectralWGrad(g, s), since ⟨g, Kᵀs⟩ = ⟨K g, s⟩.
func (op *spectralOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	x, w := inputs[0], inputs[1]
	dx, err := G.ApplyOp(op.adjoint(&planSlot{}), grad, w)
	if err != nil {
		return nil, err
	}
	wx, wg := x, grad
	if op.transposed {
		wx, wg = grad, x
	}
	dw, err := G.ApplyOp(&spectralWGradOp{geo: op.geo, dt: op.dt, batch: op.batch, buf: &outBuf{}, plan: &planSlot{}}, wx, wg)
	if err != nil {
		return nil, err
	}
	grads := G.Nodes{dx, dw}
	if op.hasAdd {
		grads = append(grads, grad)
	}
	return grads, nil
}

// adjoint is the op of the data gradient: Kᵀ for K, K (without addend)
// for Kᵀ.
func (op *spectralOp) adjoint(plan *planSlot) *spectralOp {
	return &spectralOp{geo: op.geo, transposed: !op.transposed, dt: op.dt, batch: op.batch, buf: &outBuf{}, plan: plan}
}

func (op *spectralOp) DoDiff(_ G.ExecutionContext, inputs G.Nodes, output *G.Node) error {
	g, err := output.Grad()
	if err != nil {
		return err
	}
	dx, err := op.adjoint(op.plan).Do(g, inputs[1].Value())
	if err != nil {
		return err
	}
	if err := accumulateGrad(inputs[0], dx); err != nil {
		return err
	}
	wx, wg := inputs[0].Value(), g
	if op.transposed {
		wx, wg = g, inputs[0].Value()
	}
	dw, err := (&spectralWGradOp{geo: op.geo, dt: op.dt, batch: op.batch, buf: &outBuf{}, plan: op.plan}).Do(wx, wg)
	if err != nil {
		return err
	}
	if err := accumulateGrad(inputs[1], dw); err != nil {
		return err
	}
	if op.hasAdd {
		return accumulateGrad(inputs[2], g)
	}
	return nil
}

// spectralWGradOp computes the gradient of ⟨g, K x⟩ with respect to the
// weights, (2, 2M², Cin, Cout). Children: x (B, S²·Cin), g (B, S²·Cout).
type spectralWGradOp struct {
	geo   spectralGeom
	dt    tensor.Dtype
	batch int
	buf   *outBuf
	plan  *planSlot
}

func (op *spectralWGradOp) Arity() int { return 2 }
func (op *spectralWGradOp) Type() hm.Type {
	m := G.TensorType{Dims: 2, Of: op.dt}
	return hm.NewFnType(m, m, G.TensorType{Dims: 4, Of: op.dt})
}
func (op *spectralWGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.geo.wShape(), nil
}
func (op *spectralWGradOp) ReturnsPtr() bool     { return false }
func (op *spectralWGradOp) CallsExtern() bool    { return false }
func (op *spectralWGradOp) OverwritesInput() int { return -1 }
func (op *spectralWGradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "SpectralWGrad{%v,%v,%d}", op.geo, op.dt, op.batch)
}
func (op *spectralWGradOp) Hashcode() uint32 { return hashOf(op) }
func (op *spectralWGradOp) String() string   { return "SpectralWGrad" }
func (op *spectralWGradOp) Do(vals ...G.Value) (G.Value, error) {
	if len(vals) != 2 {
		return nil, fmt.Errorf("layers: %v takes 2 inputs, got %d", op, len(vals))
	}
	out := op.buf.get(op.dt, op.geo.wShape())
	var err error
	if op.dt == tensor.Float32 {
		err = spectralWGradDo[float32](op, out, vals)
	} else {
		err = spectralWGradDo[float64](op, out, vals)
	}
	return out, err
}

func spectralWGradDo[T deq.Float](op *spectralWGradOp, out *tensor.Dense, vals []G.Value) error {
	x, err := data[T](vals[0])
	if err != nil {
		return err
	}
	g, err := data[T](vals[1])
	if err != nil {
		return err
	}
	planOf[T](op.plan, op.geo).weightGrad(out.Data().([]T), x, g, op.batch)
	return nil
}

func (op *spectralWGradOp) DiffWRT(n int) []bool { return make([]bool, n) }
func (op *spectralWGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("layers: the spectral weight gradient is not differentiated again")
}
