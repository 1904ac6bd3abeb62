package layers

import (
	"fmt"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/internal/gradcheck"
)

// CheckCellKernel checks a cell's float64 kernel against the cell built
// in a graph, at the values the float64 nodes z (the state) and inj (one
// injection) hold: Eval must equal f(z) as Apply computes it (to 1e-12
// relative), and VJP must satisfy ⟨J_fᵀv, δ⟩ = d/dε ⟨v, f(z + εδ)⟩ for
// random v and δ drawn from rng (central difference, to 1e-7 relative).
// It is how the hand-written kernels of this module's cells are tested;
// use it on a cell of your own that implements Kernel64. z and inj must
// live in a graph that holds nothing else to run.
func CheckCellKernel(cell Cell, z, inj *G.Node, rng *rand.Rand) error {
	fz, err := cell.Apply(z, G.Nodes{inj})
	if err != nil {
		return err
	}
	vm := G.NewTapeMachine(z.Graph())
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		return err
	}
	want, err := Floats64(fz.Value())
	if err != nil {
		return err
	}
	k, err := cell.Kernel64([]tensor.Shape{inj.Shape()})
	if err != nil {
		return err
	}
	if err := k.Bind([]G.Value{inj.Value()}, kernelValues(cell)); err != nil {
		return err
	}
	zv, ok := z.Value().Data().([]float64)
	if !ok {
		return fmt.Errorf("layers: CheckCellKernel needs a float64 state, got %v", z.Dtype())
	}
	got := make([]float64, len(zv))
	if err := k.Eval(got, zv); err != nil {
		return err
	}
	if d, scale := maxDiff(got, want); !(d <= 1e-12*math.Max(scale, 1)) {
		return fmt.Errorf("layers: the kernel's Eval differs from the cell's graph by %.3g (scale %.3g)", d, scale)
	}
	v, delta := normals(rng, len(zv)), normals(rng, len(zv))
	if err := k.Linearize(zv); err != nil {
		return err
	}
	jtv := make([]float64, len(zv))
	if err := k.VJP(jtv, v); err != nil {
		return err
	}
	const h = 1e-6
	at := func(sign float64) (float64, error) {
		zp := make([]float64, len(zv))
		for i := range zp {
			zp[i] = zv[i] + sign*h*delta[i]
		}
		out := make([]float64, len(zv))
		err := k.Eval(out, zp)
		return dot(v, out), err
	}
	plus, err := at(1)
	if err != nil {
		return err
	}
	minus, err := at(-1)
	if err != nil {
		return err
	}
	num, ana := (plus-minus)/(2*h), dot(jtv, delta)
	if !(math.Abs(num-ana) <= 1e-7*math.Abs(ana)) {
		return fmt.Errorf("layers: the kernel's VJP gives ⟨J_fᵀv, δ⟩ = %.10g, the central difference %.10g", ana, num)
	}
	return nil
}

// CheckJacobianVJP checks a JacobianVJPer cell: build makes the cell, its
// float64 state z and injection in g (deterministically: it is called once
// per graph). The cell's JacobianVJP at z must equal its kernel's VJP (to
// 1e-12), and the gradient of ‖vᵀJ‖² with respect to the injection and
// the parameters — what the Jacobian penalty trains with — must match
// central differences to tol. It returns the finite-difference reports.
func CheckJacobianVJP(build func(g *G.ExprGraph) (cell Cell, z, inj *G.Node), tol float64) ([]GradReport, error) {
	vjp := func(g *G.ExprGraph) (Cell, *G.Node, *G.Node, *G.Node, *G.Node, error) {
		cell, z, inj := build(g)
		j, ok := cell.(JacobianVJPer)
		if !ok {
			return nil, nil, nil, nil, nil, fmt.Errorf("layers: cell %T does not implement JacobianVJPer", cell)
		}
		rng := rand.New(rand.NewPCG(54, 54))
		vals := normals(rng, z.Shape().TotalSize())
		v := G.NewTensor(g, tensor.Float64, len(z.Shape()), G.WithShape(z.Shape()...), G.WithName("v"),
			G.WithValue(tensor.New(tensor.WithShape(z.Shape()...), tensor.WithBacking(vals))))
		fz, err := cell.Apply(z, G.Nodes{inj})
		if err != nil {
			return nil, nil, nil, nil, nil, err
		}
		p, err := j.JacobianVJP(fz, v)
		return cell, z, inj, v, p, err
	}
	g := G.NewGraph()
	cell, z, inj, v, p, err := vjp(g)
	if err != nil {
		return nil, err
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		return nil, err
	}
	k, err := cell.Kernel64([]tensor.Shape{inj.Shape()})
	if err != nil {
		return nil, err
	}
	if err := k.Bind([]G.Value{inj.Value()}, kernelValues(cell)); err != nil {
		return nil, err
	}
	zd, err := Floats64(z.Value())
	if err != nil {
		return nil, err
	}
	if err := k.Linearize(zd); err != nil {
		return nil, err
	}
	vd, err := Floats64(v.Value())
	if err != nil {
		return nil, err
	}
	want := make([]float64, len(zd))
	if err := k.VJP(want, vd); err != nil {
		return nil, err
	}
	got, err := Floats64(p.Value())
	if err != nil {
		return nil, err
	}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			return nil, fmt.Errorf("layers: vᵀJ[%d] = %v in the graph, %v from the kernel", i, got[i], want[i])
		}
	}
	reps, err := gradcheck.Check(func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
		cell, _, inj, _, p, err := vjp(g)
		if err != nil {
			return nil, nil, err
		}
		sq, err := G.Square(p)
		if err != nil {
			return nil, nil, err
		}
		loss, err := G.Sum(sq)
		return loss, append(G.Nodes{inj}, cell.Params()...), err
	}, 1e-5)
	if err != nil {
		return nil, err
	}
	for _, r := range reps {
		if !(r.RelErr <= tol) {
			return reps, fmt.Errorf("layers: gradient of ‖vᵀJ‖² with respect to %s: relative error %.3g > %.3g", r.Name, r.RelErr, tol)
		}
	}
	return reps, nil
}

// kernelValues are the values a cell's kernels are bound to.
func kernelValues(c Cell) []G.Value {
	var vs []G.Value
	for _, n := range kernelInputs(c) {
		vs = append(vs, n.Value())
	}
	return vs
}

func maxDiff(got, want []float64) (d, scale float64) {
	if len(got) != len(want) {
		return math.Inf(1), 0
	}
	for i := range got {
		d = math.Max(d, math.Abs(got[i]-want[i]))
		scale = math.Max(scale, math.Abs(want[i]))
	}
	return d, scale
}

func normals(rng *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return v
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}
