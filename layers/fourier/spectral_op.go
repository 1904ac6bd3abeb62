package fourier

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/opkit"
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
		return nil, fmt.Errorf("fourier: spectral convolution on %d×%d grids with %d channels needs input (B, %d), got %v", geo.s, geo.s, geo.cin, geo.s*geo.s*geo.cin, xs)
	}
	if !w.Shape().Eq(geo.wShape()) {
		return nil, fmt.Errorf("fourier: spectral weights have shape %v, want %v", w.Shape(), geo.wShape())
	}
	children := G.Nodes{x, w}
	if add != nil {
		if want := (tensor.Shape{xs[0], geo.s * geo.s * geo.cout}); !add.Shape().Eq(want) {
			return nil, fmt.Errorf("fourier: spectral convolution addend has shape %v, want %v", add.Shape(), want)
		}
		children = append(children, add)
	}
	return G.ApplyOp(newSpectralOp(geo, false, add != nil, x.Dtype(), xs[0], &planSlot{}), children...)
}

// spectralOp computes K x + add, or with transposed Kᵀ x (Cout → Cin
// channels, no addend). Children: x, W, then add if hasAdd. Its output
// buffer is reused across runs, like the fused ops'.
type spectralOp struct {
	opkit.Base
	geo                spectralGeom
	transposed, hasAdd bool
	batch              int
	plan               *planSlot
}

func newSpectralOp(geo spectralGeom, transposed, hasAdd bool, dt tensor.Dtype, batch int, plan *planSlot) *spectralOp {
	c, name := geo.cout, fmt.Sprintf("Spectral{%d modes}", geo.m)
	if transposed {
		c, name = geo.cin, fmt.Sprintf("SpectralT{%d modes}", geo.m)
	}
	m := G.TensorType{Dims: 2, Of: dt}
	ts := []hm.Type{m, G.TensorType{Dims: 4, Of: dt}}
	if hasAdd {
		ts = append(ts, m)
	}
	op := &spectralOp{geo: geo, transposed: transposed, hasAdd: hasAdd, batch: batch, plan: plan}
	op.Base = opkit.New(name, fmt.Sprintf("Spectral{%v,%v,%v,%v,%d}", geo, transposed, hasAdd, dt, batch), dt, len(ts),
		tensor.Shape{batch, geo.s * geo.s * c}).WithTypes(append(ts, m)...)
	return op
}

func (op *spectralOp) Do(vals ...G.Value) (G.Value, error) {
	return opkit.Do(op, "fourier", vals, spectralDo[float32], spectralDo[float64])
}

func spectralDo[T deq.Float](op *spectralOp, out *tensor.Dense, vals []G.Value) error {
	x, err := opkit.Data[T](vals[0])
	if err != nil {
		return err
	}
	w, err := opkit.Data[T](vals[1])
	if err != nil {
		return err
	}
	var add []T
	if op.hasAdd {
		if add, err = opkit.Data[T](vals[2]); err != nil {
			return err
		}
	}
	p := planOf[T](op.plan, op.geo)
	blk := blockBuf(p, w)
	if op.transposed {
		p.applyT(out.Data().([]T), x, nil, blk, op.batch)
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

func (op *spectralOp) DiffWRT(n int) []bool { return opkit.AllTrue(n) }

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
	dw, err := G.ApplyOp(newSpectralWGradOp(op.geo, op.Dtype(), op.batch, &planSlot{}), wx, wg)
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
	return newSpectralOp(op.geo, !op.transposed, false, op.Dtype(), op.batch, plan)
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
	if err := opkit.AccumulateGrad(inputs[0], dx); err != nil {
		return err
	}
	wx, wg := inputs[0].Value(), g
	if op.transposed {
		wx, wg = g, inputs[0].Value()
	}
	dw, err := newSpectralWGradOp(op.geo, op.Dtype(), op.batch, op.plan).Do(wx, wg)
	if err != nil {
		return err
	}
	if err := opkit.AccumulateGrad(inputs[1], dw); err != nil {
		return err
	}
	if op.hasAdd {
		return opkit.AccumulateGrad(inputs[2], g)
	}
	return nil
}

// spectralWGradOp computes the gradient of ⟨g, K x⟩ with respect to the
// weights, (2, 2M², Cin, Cout). Children: x (B, S²·Cin), g (B, S²·Cout).
type spectralWGradOp struct {
	opkit.Base
	geo   spectralGeom
	batch int
	plan  *planSlot
}

func newSpectralWGradOp(geo spectralGeom, dt tensor.Dtype, batch int, plan *planSlot) *spectralWGradOp {
	m := G.TensorType{Dims: 2, Of: dt}
	return &spectralWGradOp{geo: geo, batch: batch, plan: plan, Base: opkit.New("SpectralWGrad",
		fmt.Sprintf("SpectralWGrad{%v,%v,%d}", geo, dt, batch), dt, 2, geo.wShape()).WithTypes(m, m, G.TensorType{Dims: 4, Of: dt})}
}

func (op *spectralWGradOp) Do(vals ...G.Value) (G.Value, error) {
	return opkit.Do(op, "fourier", vals, spectralWGradDo[float32], spectralWGradDo[float64])
}

func spectralWGradDo[T deq.Float](op *spectralWGradOp, out *tensor.Dense, vals []G.Value) error {
	x, err := opkit.Data[T](vals[0])
	if err != nil {
		return err
	}
	g, err := opkit.Data[T](vals[1])
	if err != nil {
		return err
	}
	planOf[T](op.plan, op.geo).weightGrad(out.Data().([]T), x, g, op.batch)
	return nil
}

func (op *spectralWGradOp) DiffWRT(n int) []bool { return make([]bool, n) }
func (op *spectralWGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("fourier: the spectral weight gradient is not differentiated again")
}
