package layers

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/implicit-ml/implicit/internal/opkit"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// JacobianVJPer is implemented by cells that can write vᵀJ_f(z*) with
// once-differentiable graph ops, given fz = f(z*) (which depends on the
// parameters) and a vector v of the state's shape: the Jacobian penalty
// differentiates it once more with respect to the parameters, at fixed
// z* (as Bai et al. 2021 and torchdeq do: dz*/dθ is not followed).
//
// DenseCell implements it, and so do cells of the family packages whose
// backward ops differentiate once more. Builder cells would
// need vᵀJ from Gorgonia's reverse mode inside the main graph, i.e. a
// second Backpropagate over it, which Gorgonia does not support (Backpropagate
// caches each node's derivative, so the loss's own gradient would be
// corrupted); and the backward ops of this package's fused layers
// (ActGrad, ColSum, the reparametrisations' gradients) have no second
// derivative. Gorgonia's own elementwise ops (Tanh, Sigmoid, Rectify,
// Softplus) do differentiate twice.
type JacobianVJPer interface {
	JacobianVJP(fz, v *G.Node) (*G.Node, error)
}

// JacobianVJP implements JacobianVJPer: vᵀJ = (v ⊙ φ'(fz))·Wᵀ in rows.
func (c *DenseCell) JacobianVJP(fz, v *G.Node) (*G.Node, error) {
	if !c.Act.DerivFromOutput() {
		return nil, fmt.Errorf("layers: the Jacobian penalty needs an activation whose derivative is a function of its output, not %v", c.Act)
	}
	s, err := TimesActDeriv(c.Act, fz, v)
	if err != nil {
		return nil, err
	}
	return MatMul(s, c.W, false, true)
}

// TimesActDeriv builds v ⊙ φ'(x) from y = φ(x), differentiable once more
// (through y): the first factor of every cell's vᵀJ (JacobianVJPer).
func TimesActDeriv(act Activation, y, v *G.Node) (*G.Node, error) {
	d, err := G.ApplyOp(newActDerivOp(act, y.Dtype(), y.Shape(), false), y)
	if err != nil {
		return nil, err
	}
	return G.HadamardProd(v, d)
}

// jacobianPenalty builds weight · mean over the batch of ‖vᵀJ_f(z*)‖²/d
// with v ~ N(0, I) drawn afresh every run (and v = 0 on the runs skipped
// by every): the Hutchinson estimate of ‖J_f‖_F²/d (Bai et al., 2021),
// since E‖vᵀJ‖² = ‖J‖_F² for standard Gaussian v.
func jacobianPenalty(c Cell, fz *G.Node, weight float64, every int, seed uint64) (*G.Node, *gaussState, error) {
	if _, ok := c.(JacobianVJPer); !ok {
		return nil, nil, fmt.Errorf("layers: cell %T cannot form vᵀJ for the Jacobian penalty: it needs a cell implementing JacobianVJPer (DenseCell does; each cell's documentation says whether it does)", c)
	}
	s := fz.Shape()
	src := rand.NewPCG(seed, penaltyStream)
	st := &gaussState{src: src, rng: rand.New(src)}
	v, err := G.ApplyOp(newGaussianOp(fz.Dtype(), s, every, st), fz)
	if err != nil {
		return nil, nil, err
	}
	p, err := c.(JacobianVJPer).JacobianVJP(fz, v)
	if err != nil {
		return nil, nil, err
	}
	sq, err := G.Square(p)
	if err != nil {
		return nil, nil, err
	}
	m, err := G.Mean(sq) // Σ over batch and units / (B·d): the mean of ‖vᵀJ‖²/d
	if err != nil {
		return nil, nil, err
	}
	pen, err := G.Mul(m, Const(fz.Dtype(), weight))
	return pen, st, err
}

// penaltyStream is the second word of the PCG seed of the penalty's
// random vectors (the first is ImplicitConfig.JacobianSeed), so they are a
// stream of their own.
const penaltyStream = 0x6a6163

// gaussState is the random source of a gaussianOp, behind a pointer so the
// op's hash never sees it.
type gaussState struct {
	mu  sync.Mutex
	src *rand.PCG // rng's source, whose state a checkpoint saves
	rng *rand.Rand
	run int
	// frozen keeps the last draw (finite-difference tests need the same v
	// in every evaluation).
	frozen bool
}

// gaussianOp outputs standard Gaussian noise of a fixed shape, fresh on
// every run (zeros on the runs skipped by every). Its child only places
// it in the graph.
type gaussianOp struct {
	opkit.Base
	every int
	st    *gaussState
}

func newGaussianOp(dt tensor.Dtype, shape tensor.Shape, every int, st *gaussState) *gaussianOp {
	return &gaussianOp{every: every, st: st, Base: opkit.New("Gaussian", fmt.Sprintf("Gaussian{%p}", st), dt, 1, shape)}
}

func (op *gaussianOp) DiffWRT(n int) []bool { return make([]bool, n) }
func (op *gaussianOp) SymDiff(inputs G.Nodes, _, _ *G.Node) (G.Nodes, error) {
	return make(G.Nodes, len(inputs)), nil
}

func (op *gaussianOp) Do(...G.Value) (G.Value, error) {
	t := op.Output()
	op.st.mu.Lock()
	defer op.st.mu.Unlock()
	if op.st.frozen && op.st.run > 0 {
		return t, nil
	}
	op.st.run++
	skip := op.every > 1 && (op.st.run-1)%op.every != 0
	switch d := t.Data().(type) {
	case []float64:
		for i := range d {
			d[i] = 0
			if !skip {
				d[i] = op.st.rng.NormFloat64()
			}
		}
	case []float32:
		for i := range d {
			d[i] = 0
			if !skip {
				d[i] = float32(op.st.rng.NormFloat64())
			}
		}
	}
	return t, nil
}

// actDerivOp computes φ'(x) from y = φ(x), once differentiable: its
// derivative is g ⊙ dφ'/dy (−2y for tanh, 1 − 2y for sigmoid, 1 − φ' for
// softplus, 0 for identity and ReLU).
type actDerivOp struct {
	opkit.Base
	act    Activation
	second bool // the derivative op: children y, g
}

func newActDerivOp(act Activation, dt tensor.Dtype, shape tensor.Shape, second bool) *actDerivOp {
	return &actDerivOp{act: act, second: second, Base: opkit.New(fmt.Sprintf("ActDeriv{%v,%v}", act, second),
		fmt.Sprintf("ActDeriv{%v,%v,%v,%v}", act, dt, []int(shape), second), dt, 1+opkit.Btoi(second), shape)}
}

func (op *actDerivOp) Do(vals ...G.Value) (G.Value, error) {
	y, err := Floats64(vals[0])
	if err != nil {
		return nil, err
	}
	var g []float64
	if op.second {
		if g, err = Floats64(vals[1]); err != nil {
			return nil, err
		}
	}
	out := make([]float64, len(y))
	for i, v := range y {
		d, dd := 1.0, 0.0
		switch op.act {
		case Tanh:
			d, dd = 1-v*v, -2*v
		case ReLU:
			if v <= 0 {
				d = 0
			}
		case Sigmoid:
			d, dd = v*(1-v), 1-2*v
		case Softplus:
			e := math.Exp(-v)
			d, dd = 1-e, e
		}
		if op.second {
			out[i] = g[i] * dd
		} else {
			out[i] = d
		}
	}
	t := op.Output()
	setFloats64(t, out)
	return t, nil
}

func (op *actDerivOp) DiffWRT(n int) []bool {
	if op.second {
		return make([]bool, n)
	}
	return []bool{true}
}

func (op *actDerivOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	if op.second {
		return nil, fmt.Errorf("layers: %v is not differentiated again", op)
	}
	d, err := G.ApplyOp(newActDerivOp(op.act, op.Dtype(), op.Shape(), true), inputs[0], grad)
	return G.Nodes{d}, err
}
