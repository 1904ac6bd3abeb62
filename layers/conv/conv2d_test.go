package conv

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/internal/layertest"
	"github.com/implicit-ml/implicit/layers"
)

// Sizes of the small convolutional models of these tests: B images of
// H×W pixels (not square, so rows and columns cannot be confused), C
// channels.
const cvB, cvH, cvW, cvC = 2, 7, 8, 3

// TestConv2DMatchesDefinition compares the op with the sum that defines a
// zero-padded convolution, with and without an addend, in float64.
func TestConv2DMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	for _, k := range []int{1, 3, 5} {
		g := G.NewGraph()
		s := layers.NewScope(g, tensor.Float64, rng)
		c := NewConv2D(s, "c", cvH, cvW, 2, cvC, k, layers.Identity)
		for _, v := range [][]float64{c.B.Value().Data().([]float64)} {
			for i := range v {
				v[i] = rng.NormFloat64()
			}
		}
		x := layertest.Input(g, tensor.Float64, rng, "x", cvB, cvH*cvW*2)
		add := layertest.Input(g, tensor.Float64, rng, "add", cvB, cvH*cvW*cvC)
		y, err := c.Apply(x, add)
		if err != nil {
			t.Fatal(err)
		}
		vm := G.NewTapeMachine(g)
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		got := y.Value().Data().([]float64)
		xv, wv, bv, av := x.Value().Data().([]float64), c.W.Value().Data().([]float64), c.B.Value().Data().([]float64), add.Value().Data().([]float64)
		for s := range cvB {
			for i := range cvH {
				for j := range cvW {
					for co := range cvC {
						at := ((s*cvC+co)*cvH+i)*cvW + j
						want := bv[co] + av[at]
						for a := range k {
							for b := range k {
								r, q := i+a-k/2, j+b-k/2
								if r < 0 || r >= cvH || q < 0 || q >= cvW {
									continue
								}
								for ci := range 2 {
									want += wv[co*k*k*2+(ci*k+a)*k+b] * xv[((s*2+ci)*cvH+r)*cvW+q]
								}
							}
						}
						if v := got[at]; math.Abs(v-want) > 1e-12 {
							t.Fatalf("k=%d: y[%d,%d,%d,%d] = %v, want %v", k, s, i, j, co, v, want)
						}
					}
				}
			}
		}
		vm.Close()
	}
}

// conv2DModel is x → Conv2D(tanh) → Conv2D(identity, plus x as the
// addend) → MSE, for the finite-difference checks.
func conv2DModel(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
	rng := rand.New(rand.NewPCG(53, 54))
	s := layers.NewScope(g, tensor.Float64, rng)
	x := layertest.Input(g, tensor.Float64, rng, "x", cvB, cvH*cvW*2)
	c1 := NewConv2D(s, "c1", cvH, cvW, 2, cvC, 3, layers.Tanh)
	c2 := NewConv2D(s, "c2", cvH, cvW, cvC, 2, 3, layers.Identity)
	for _, c := range []*Conv2D{c1, c2} {
		for i, v := range c.B.Value().Data().([]float64) {
			c.B.Value().Data().([]float64)[i] = v + 0.1*rng.NormFloat64()
		}
	}
	h, err := c1.Fwd(x)
	if err != nil {
		return nil, nil, err
	}
	y, err := c2.Apply(h, x)
	if err != nil {
		return nil, nil, err
	}
	loss, err := layers.MSE(y, layertest.Input(g, tensor.Float64, rng, "target", cvB, cvH*cvW*2))
	return loss, append(G.Nodes{x}, append(c1.Params(), c2.Params()...)...), err
}

func TestConv2DGradients(t *testing.T) {
	layertest.CheckGrads(t, 1e-6, conv2DModel)
}

// TestConv2DLispMachine: DoDiff gives the LispMachine the same gradients
// as SymDiff gives the TapeMachine.
func TestConv2DLispMachine(t *testing.T) {
	layertest.CheckLispMachine(t, 1e-12, conv2DModel)
}

// convMatrix returns the convolution as a dense (Out·H·W) × (In·H·W)
// matrix, column by column.
func convMatrix(t *testing.T, c *Conv2D) *mat.Dense {
	t.Helper()
	g := c.geom()
	w, err := layers.Floats64(c.W.Value())
	if err != nil {
		t.Fatal(err)
	}
	m := mat.NewDense(g.outSize(), g.inSize(), nil)
	e, col := make([]float64, g.inSize()), make([]float64, g.outSize())
	for j := range e {
		clear(e)
		e[j] = 1
		convForward(g, c.pool, col, e, w, nil, nil, 1, layers.Identity, nil)
		m.SetCol(j, col)
	}
	return m
}

// TestConvBound: the power-iteration estimate matches the largest
// singular value of the convolution's matrix, and a bounded layer is
// scaled to its bound (and left alone below it).
func TestConvBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(65, 66))
	s := layers.NewScope(G.NewGraph(), tensor.Float64, rng)
	c := NewConv2D(s, "c", cvH, cvW, 2, cvC, 3, layers.Identity)
	var svd mat.SVD
	if !svd.Factorize(convMatrix(t, c), mat.SVDNone) {
		t.Fatal("SVD failed")
	}
	want := svd.Values(nil)[0]
	got, err := c.OperatorNorm(3000) // the top singular values of a convolution lie close together
	if err != nil {
		t.Fatal(err)
	}
	if got > want*(1+1e-12) || got < want*(1-1e-4) {
		t.Errorf("operator norm %v, SVD %v", got, want)
	}
	for _, bound := range []float64{0.5 * want, 2 * want} {
		b := NewConv2D(layers.NewScope(G.NewGraph(), tensor.Float64, rand.New(rand.NewPCG(65, 66))), "c", cvH, cvW, 2, cvC, 3, layers.Identity, ConvBound(bound))
		if !svd.Factorize(convMatrix(t, b), mat.SVDNone) {
			t.Fatal("SVD failed")
		}
		if got := svd.Values(nil)[0]; got > bound*(1+1e-3) || (bound > want && math.Abs(got-want) > 1e-9) {
			t.Errorf("bound %v: norm %v after projection (unbounded %v)", bound, got, want)
		}
	}
}
