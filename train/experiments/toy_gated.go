package experiments

import (
	"errors"
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/network"
	"github.com/implicit-ml/implicit/train"
)

// toyGateRecipe is how the gated implicit operator
// G(y, x) = (1 − a(x))·y + b(x) is built and trained.
type toyGateRecipe struct {
	// Bound is the Lipschitz bound in x of each of the two x-networks.
	Bound float64
	// Shift is v's offset: v = Shift + MLP₁(x), so a fresh network
	// (MLP₁ ≈ 0) starts with a ≈ Shift²/(1 + Shift²).
	Shift float64
	// T, when positive, adds Weight × the squared error of the iterate
	// y_T (T plain iterations of G from y₀ = 0) to the squared error of
	// the fixed point y* = b/a.
	T      int
	Weight float64
	// Relative scores y_T by its error relative to 1 + |F|, so that the
	// points nearest the poles, which no y_T of a regular operator can
	// follow, do not dominate the term.
	Relative bool
	// GateBound, when positive, is the Lipschitz bound of the gate's
	// x-network alone (Bound stays b's).
	GateBound float64
	// Act is the x-networks' hidden activation; the zero value
	// (layers.Identity) means toyActivation.
	Act layers.Activation
}

// toyGate is the toy's recipe. The fixed point b/a alone leaves the
// scale of a free (a and b can shrink or grow together at every x
// without moving it), so how fast the iterates converge, and with it
// L_t, is wherever a run's start and the poles push it: trained on y*
// alone (ReLU x-networks, seeds 1–3) L_100 was 222, 705 and 107 against
// the construction's 97.6. The term 0.03·MSE(y_25/(1 + |F|), F/(1 + |F|))
// asks for iterates close to F after 25 steps, relative to the target's
// size, so that the points nearest the poles (which no regular operator
// reaches in 25 steps) do not push the gate's scale up there: it gave
// L_100 247, 158 and 98 and clipped near-pole RMS 0.15, 0.08 and 0.14.
// Tried on the same seeds: the same term weighted 0.1 (L_100 180, 202,
// 273), T = 100 (153, 1130, 85), and the absolute MSE(y_25) weighted
// 0.1, the recipe of the tanh x-networks (L_100 1113 in seed 1: the term
// drives the gate near the poles as high as b's Lipschitz bound allows).
var toyGate = toyGateRecipe{Bound: toyImplicitBound, Shift: 1, T: 25, Weight: 0.03, Relative: true}

// toyGatedModelWith builds the gated implicit model from the experiment's
// constructors.
func toyGatedModelWith(mk toyMakerFunc, h int, icfg layers.ImplicitConfig, r toyGateRecipe) *network.Network {
	act := r.Act
	if act == layers.Identity {
		act = toyActivation
	}
	xnet := toyXNet(h, r.Bound, act)
	var yT *G.Node // the body's y_T, which the loss scores
	desc := fmt.Sprintf("G(y, x) = (1 − a(x))·y + b(x), a = δ + (1 − δ)·v²/(1 + v²), v = %g + MLP₁(x), b = MLP₂(x), 1→%d→%d→1 %s each, Lipschitz ≤ %g in x; fixed point b/a", r.Shift, h, h, act, r.Bound)
	loss := network.Loss(network.MaskedMSE)
	if r.T > 0 {
		desc += fmt.Sprintf("; trained on the squared errors of y* and, weighted %g, of y_%d", r.Weight, r.T)
		if r.Relative {
			desc += " relative to 1 + |F|"
		}
		loss = func(out, target, mask *G.Node) (*G.Node, error) {
			if yT == nil || yT.Graph() != out.Graph() {
				return nil, errors.New("toy: the loss has no y_T of this graph")
			}
			return toyLoss(out, yT, target, mask, r.Weight, r.Relative)
		}
	}
	return mk("implicit-gated", train.KindImplicit, desc, loss, func(s *layers.Scope, x *G.Node) (*G.Node, error) {
		anet := xnet
		if r.GateBound > 0 {
			anet = toyXNet(h, r.GateBound, act)
		}
		u, err := anet(s, "a", 1, layers.Identity).Fwd(x)
		if err != nil {
			return nil, err
		}
		a, err := squareGate(u, r.Shift)
		if err != nil {
			return nil, err
		}
		b, err := xnet(s, "b", 1, layers.Identity).Fwd(x)
		if err != nil {
			return nil, err
		}
		if r.T > 0 {
			if yT, err = gatedIterate(a, b, r.T); err != nil {
				return nil, err
			}
		}
		inj, err := G.Concat(1, a, b)
		if err != nil {
			return nil, err
		}
		cell := layers.NewCell(gatedCell)
		cell.State = func(inj tensor.Shape) tensor.Shape { return tensor.Shape{inj[0], 1} }
		return s.Implicit("deq", cell, icfg).Fwd(inj)
	})
}

// toyLoss is MSE(y*) + w·MSE(y_T) over the real rows; relative divides
// y_T's errors by 1 + |F|.
func toyLoss(out, yT, target, mask *G.Node, w float64, relative bool) (*G.Node, error) {
	l, err := network.MaskedMSE(out, target, mask)
	if err != nil {
		return nil, err
	}
	yTarget := target
	if relative {
		if yT, yTarget, err = toyRelative(yT, target); err != nil {
			return nil, err
		}
	}
	lT, err := network.MaskedMSE(yT, yTarget, mask)
	if err != nil {
		return nil, err
	}
	if lT, err = G.Mul(lT, scalarOf(out.Dtype(), w)); err != nil {
		return nil, err
	}
	return G.Add(l, lT)
}

// toyGatedModel is the gated implicit model alone, with hidden width h
// and recipe r, for tests.
func toyGatedModel(o Options, h int, r toyGateRecipe) *network.Network {
	s := Settings{Options: o, Dtype: orDtype(o.Dtype, tensor.Float64)}
	stop := deq.Stop{Tol: 1e-6, MaxIter: 100}
	return toyGatedModelWith(toyMaker(s), h, layers.ImplicitConfig{Stop: stop, Backward: deq.IFT{Stop: stop}}, r)
}

// gatedCell is G(y, inj) = (1 − a)·y + b with inj = [a, b] (B, 2).
func gatedCell(y, inj *G.Node, _ G.Nodes) (*G.Node, error) {
	dt := inj.Dtype()
	a, err := G.Mul(inj, column(dt, 2, 0))
	if err != nil {
		return nil, err
	}
	b, err := G.Mul(inj, column(dt, 2, 1))
	if err != nil {
		return nil, err
	}
	ay, err := G.HadamardProd(a, y)
	if err != nil {
		return nil, err
	}
	out, err := G.Sub(y, ay)
	if err != nil {
		return nil, err
	}
	return G.Add(out, b)
}

// gatedIterate is y_T of gatedCell from y₀ = 0 in closed form:
// y_T = Σ_{k<T} (1 − a)^k·b = (1 − (1 − a)^T)·b/a, for a in (0, 1).
func gatedIterate(a, b *G.Node, T int) (*G.Node, error) {
	dt := a.Dtype()
	q, err := G.Sub(scalarOf(dt, 1), a)
	if err != nil {
		return nil, err
	}
	if q, err = G.Log(q); err != nil {
		return nil, err
	}
	if q, err = G.Mul(q, scalarOf(dt, float64(T))); err != nil {
		return nil, err
	}
	if q, err = G.Exp(q); err != nil {
		return nil, err
	}
	if q, err = G.Sub(scalarOf(dt, 1), q); err != nil {
		return nil, err
	}
	if q, err = G.HadamardProd(q, b); err != nil {
		return nil, err
	}
	return G.HadamardDiv(q, a)
}

// column is the n×1 constant picking column k of a (B, n) matrix.
func column(dt tensor.Dtype, n, k int) *G.Node { return selector(dt, n, k, 1) }

// selector is the n×w constant picking columns k … k+w−1.
func selector(dt tensor.Dtype, n, k, w int) *G.Node {
	vals := make([]float64, n*w)
	for j := 0; j < w; j++ {
		vals[(k+j)*w+j] = 1
	}
	var t tensor.Tensor
	if dt == tensor.Float32 {
		v32 := make([]float32, len(vals))
		for i, v := range vals {
			v32[i] = float32(v)
		}
		t = tensor.New(tensor.WithShape(n, w), tensor.WithBacking(v32))
	} else {
		t = tensor.New(tensor.WithShape(n, w), tensor.WithBacking(vals))
	}
	return G.NewConstant(t, G.WithName(fmt.Sprintf("select%d_%d_%d", n, k, w)))
}

// toyGateFloor is the smallest gate: G's contraction factor in y is at
// most 1 − toyGateFloor.
const toyGateFloor = 1e-4

// squareGate maps u to a = δ + (1 − δ)·v²/(1 + v²), v = shift + u, δ =
// toyGateFloor: in [δ, 1), Lipschitz in u (so in x), and as small as δ
// where v crosses zero, so that the fixed point b/a can follow a pole
// while a, b and G stay regular. A fresh network (u ≈ 0) starts at
// a ≈ shift²/(1 + shift²).
func squareGate(u *G.Node, shift float64) (*G.Node, error) {
	dt := u.Dtype()
	v, err := G.Add(u, scalarOf(dt, shift))
	if err != nil {
		return nil, err
	}
	v2, err := G.Square(v)
	if err != nil {
		return nil, err
	}
	den, err := G.Add(v2, scalarOf(dt, 1))
	if err != nil {
		return nil, err
	}
	r, err := G.HadamardDiv(v2, den)
	if err != nil {
		return nil, err
	}
	scaled, err := G.Mul(r, scalarOf(dt, 1-toyGateFloor))
	if err != nil {
		return nil, err
	}
	return G.Add(scaled, scalarOf(dt, toyGateFloor))
}

// toyXNet returns the builder of the implicit operators' x-networks:
// 1 → h → h → out, each linear map bounded so the whole is
// bound-Lipschitz in x.
func toyXNet(h int, bound float64, act layers.Activation) func(*layers.Scope, string, int, layers.Activation) layers.Sequential {
	cx := math.Pow(bound, 1.0/3) // three linear maps per x-network
	return func(s *layers.Scope, name string, out int, last layers.Activation) layers.Sequential {
		return layers.Sequential{
			s.Dense(name+"1", 1, h, act, layers.SpectralBound(cx)),
			s.Dense(name+"2", h, h, act, layers.SpectralBound(cx)),
			s.Dense(name+"3", h, out, last, layers.SpectralBound(cx)),
		}
	}
}

// lossText says what the gated model is trained on, for the report.
func (r toyGateRecipe) lossText() string {
	if r.T <= 0 {
		return "mean squared error of the fixed point y*"
	}
	rel := ""
	if r.Relative {
		rel = ", both divided by 1 + |F|"
	}
	return fmt.Sprintf("implicit model: MSE(y*) + %g·MSE(y_%d, F)%s, y_%d the iterate after %d plain iterations from y₀ = 0; explicit models: MSE", r.Weight, r.T, rel, r.T, r.T)
}

// note explains the recipe in the report.
func (r toyGateRecipe) note() string {
	if r.T <= 0 {
		return fmt.Sprintf("The gated model is trained on the squared error of its fixed point y* = b/a alone; each x-network is %g-Lipschitz.", r.Bound)
	}
	scored := fmt.Sprintf("MSE(y_%d)", r.T)
	if r.Relative {
		scored = fmt.Sprintf("MSE(y_%d/(1 + |F|), F/(1 + |F|))", r.T)
	}
	return fmt.Sprintf("The gated model is trained on MSE(y*) + %g·%s: the fixed point b/a alone leaves the scale of a free (a and b can shrink or grow together at any x without moving it), "+
		"so how fast the iterates converge, and L_t with it, is wherever a run drifts (trained on y* alone, L_100 was 222, 705 and 107 in seeds 1–3 against the construction's 97.6); "+
		"scoring y_%d too asks for iterates close to F after %d steps wherever b, %g-Lipschitz like a's network, allows, as the paper's construction ε = min(c, x²(x − 1)²) gives them, and scoring it relative to 1 + |F| keeps the points nearest the poles from pushing the gate up there.", r.Weight, scored, r.T, r.T, r.Bound)
}

// toyRelative divides y and the target F by 1 + |F|.
func toyRelative(y, target *G.Node) (*G.Node, *G.Node, error) {
	abs, err := G.Abs(target)
	if err != nil {
		return nil, nil, err
	}
	scale, err := G.Add(abs, scalarOf(target.Dtype(), 1))
	if err != nil {
		return nil, nil, err
	}
	ys, err := G.HadamardDiv(y, scale)
	if err != nil {
		return nil, nil, err
	}
	ts, err := G.HadamardDiv(target, scale)
	return ys, ts, err
}
