package layers

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Norms of a Contraction.
const (
	// Euclidean is the 2-norm of one sample's state (the norm of the deq
	// residuals).
	Euclidean = "2"
	// MaxNorm is the ∞-norm of one sample's state; since ‖v‖∞ ≤ ‖v‖₂, a
	// bound in it may be fed the 2-norm residuals.
	MaxNorm = "inf"
)

// Contraction bounds how much a cell contracts its state: for every
// injection and all states z, z′ of one sample,
//
//	‖f(z, inj) − f(z′, inj)‖ ≤ Mu·‖z − z′‖   in the norm Norm.
//
// With Mu < 1 the fixed point z* is unique, and any state z is within
// ‖f(z) − z‖/(1 − Mu) of it; the layer's output f(z) is within
// Mu/(1 − Mu)·‖f(z) − z‖ (Bound): the a-posteriori error bound of anytime
// inference, computable from the residual alone.
type Contraction struct {
	Mu float64
	// Norm is Euclidean or MaxNorm.
	Norm string
	// Source says how Mu was obtained, for reports.
	Source string
}

// Bound returns Mu/(1 − Mu)·residual, the bound on ‖f(z) − z*‖ given the
// residual ‖f(z) − z‖ (in Norm, or the 2-norm for MaxNorm), or +Inf when
// Mu ≥ 1 (no bound).
func (c Contraction) Bound(residual float64) float64 {
	if !(c.Mu < 1) || c.Mu < 0 {
		return math.Inf(1)
	}
	return c.Mu / (1 - c.Mu) * residual
}

// Contractive is implemented by cells that can bound their contraction
// factor from their current parameter values.
type Contractive interface {
	// Contraction returns the cell's bound, and false when it has none (an
	// activation that is not Lipschitz with a known constant, parameters
	// without values). A bound with Mu ≥ 1 is a bound, not a contraction.
	Contraction() (Contraction, bool)
}

// Contraction returns the contraction bound of the layer's cell at its
// current parameters, when the cell is Contractive and has one.
func (l *Implicit) Contraction() (Contraction, bool) {
	c, ok := l.Cell.(Contractive)
	if !ok {
		return Contraction{}, false
	}
	return c.Contraction()
}

var _ Contractive = (*DenseCell)(nil)

// Contraction implements Contractive: Lip(φ)·‖W‖₂ (the largest singular
// value of W, exact by SVD), or for El Ghaoui cells, when that is not
// below 1, Lip(φ)·‖W‖₁ in the ∞-norm (the bound the projection keeps
// below Kappa). It has no bound for GELU, whose Lipschitz constant
// exceeds 1, or before W holds a value (a reparametrised W is computed in
// the graph).
func (c *DenseCell) Contraction() (Contraction, bool) {
	lip, ok := lipschitz(c.Act)
	if !ok || c.W == nil || c.W.Value() == nil {
		return Contraction{}, false
	}
	w, err := Floats64(c.W.Value())
	if err != nil || len(w) != c.Hidden*c.Hidden {
		return Contraction{}, false
	}
	var svd mat.SVD
	if !svd.Factorize(mat.NewDense(c.Hidden, c.Hidden, w), mat.SVDNone) {
		return Contraction{}, false
	}
	two := Contraction{Mu: lip * svd.Values(nil)[0], Norm: Euclidean,
		Source: fmt.Sprintf("Lip(%v)·‖W‖₂ (largest singular value of the trained W)", c.Act)}
	if c.Kappa == 0 || two.Mu < 1 {
		return two, true
	}
	cols := make([]float64, c.Hidden)
	for i := 0; i < c.Hidden; i++ {
		for j := 0; j < c.Hidden; j++ {
			cols[j] += math.Abs(w[i*c.Hidden+j])
		}
	}
	m := 0.0
	for _, s := range cols {
		m = max(m, s)
	}
	return Contraction{Mu: lip * m, Norm: MaxNorm, Source: fmt.Sprintf("Lip(%v)·‖W‖₁ (the ∞-norm projection's quantity)", c.Act)}, true
}

// lipschitz is the Lipschitz constant of an activation, when known.
func lipschitz(a Activation) (float64, bool) {
	switch a {
	case Identity, Tanh, ReLU, Softplus:
		return 1, true
	case Sigmoid:
		return 0.25, true
	}
	return 0, false
}
