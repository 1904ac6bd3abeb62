package layers

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Activation is an elementwise nonlinearity.
type Activation int

const (
	// Identity is no activation (the zero value).
	Identity Activation = iota
	// Tanh is the hyperbolic tangent, 1-Lipschitz.
	Tanh
	// ReLU is max(x, 0), 1-Lipschitz and monotone.
	ReLU
	// Sigmoid is 1/(1+e^−x), ¼-Lipschitz.
	Sigmoid
	// Softplus is log(1+eˣ), 1-Lipschitz and monotone.
	Softplus
	// GELU is x·Φ(x) in its tanh approximation,
	// ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
	GELU
)

// String names the activation.
func (a Activation) String() string {
	switch a {
	case Identity:
		return "identity"
	case Tanh:
		return "tanh"
	case ReLU:
		return "relu"
	case Sigmoid:
		return "sigmoid"
	case Softplus:
		return "softplus"
	case GELU:
		return "gelu"
	}
	return fmt.Sprintf("Activation(%d)", int(a))
}

// ParseActivation returns the activation named s (as printed by String).
func ParseActivation(s string) (Activation, error) {
	for a := Identity; a <= GELU; a++ {
		if a.String() == s {
			return a, nil
		}
	}
	return 0, fmt.Errorf("layers: unknown activation %q (want identity, tanh, relu, sigmoid, softplus or gelu)", s)
}

// Apply builds the activation of x in x's graph.
func (a Activation) Apply(x *G.Node) (*G.Node, error) {
	switch a {
	case Identity:
		return x, nil
	case Tanh:
		return G.Tanh(x)
	case ReLU:
		return G.Rectify(x)
	case Sigmoid:
		return G.Sigmoid(x)
	case Softplus:
		return G.Softplus(x)
	case GELU:
		return geluNode(x)
	}
	return nil, fmt.Errorf("layers: unknown activation %d", int(a))
}

const geluC = 0.7978845608028654 // √(2/π)

func geluNode(x *G.Node) (*G.Node, error) {
	dt := x.Dtype()
	c := func(v float64) *G.Node { return Const(dt, v) }
	x3, err := G.Cube(x)
	if err != nil {
		return nil, err
	}
	inner, err := G.Mul(x3, c(geluA))
	if err != nil {
		return nil, err
	}
	if inner, err = G.Add(x, inner); err != nil {
		return nil, err
	}
	if inner, err = G.Mul(inner, c(geluC)); err != nil {
		return nil, err
	}
	t, err := G.Tanh(inner)
	if err != nil {
		return nil, err
	}
	if t, err = G.Add(t, c(1)); err != nil {
		return nil, err
	}
	if t, err = G.HadamardProd(x, t); err != nil {
		return nil, err
	}
	return G.Mul(t, c(0.5))
}

// Const returns a scalar constant node of dtype dt (float32 or float64)
// holding v, for cells and layers that must build the same graph in
// either precision.
func Const(dt tensor.Dtype, v float64) *G.Node {
	if dt == tensor.Float32 {
		return G.NewConstant(float32(v))
	}
	return G.NewConstant(v)
}

// eval returns φ(x) and φ'(x).
func (a Activation) eval(x float64) (y, dy float64) {
	switch a {
	case Tanh:
		y = math.Tanh(x)
		return y, 1 - y*y
	case ReLU:
		if x > 0 {
			return x, 1
		}
		return 0, 0
	case Sigmoid:
		y = 1 / (1 + math.Exp(-x))
		return y, y * (1 - y)
	case Softplus:
		if x > 30 {
			return x, 1
		}
		return math.Log1p(math.Exp(x)), 1 / (1 + math.Exp(-x))
	case GELU:
		u := geluC * (x + geluA*x*x*x)
		t := math.Tanh(u)
		du := geluC * (1 + 3*geluA*x*x)
		return 0.5 * x * (1 + t), 0.5*(1+t) + 0.5*x*(1-t*t)*du
	}
	return x, 1
}

// ConstLike returns a scalar constant node holding v in n's element type.
// A Builder cell uses it to write numbers (G.Mul(z, ConstLike(z, 0.5)))
// without knowing whether its model runs in float32 or float64:
// G.NewConstant(0.5) is a float64 and fails to unify with a float32 model.
func ConstLike(n *G.Node, v float64) *G.Node { return Const(n.Dtype(), v) }
