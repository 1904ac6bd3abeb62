package layers

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/chewxy/hm"
	"github.com/implicit-ml/implicit/internal/opkit"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Reparam builds a weight from raw parameters, so that a constraint holds
// by construction or is easier to learn: weight normalisation, spectral
// normalisation, the monotone parametrisation of monDEQ. The raw
// parameters are created in the scope (what the optimizer updates); the
// returned node is the effective weight, differentiable with respect to
// them. A cell built with a Reparam passes the effective weight to its
// kernels (KernelInputter) and lists the raw parameters as its Params.
type Reparam interface {
	// Weight creates the raw parameters of the weight called name and
	// returns the effective weight of the given (rows, cols) shape.
	Weight(s *Scope, name string, rows, cols int) (*G.Node, error)
}

// WeightNorm is weight normalisation (Salimans & Kingma):
// W[:, j] = g_j · V[:, j] / ‖V[:, j]‖, a direction V and a length g per
// output column. Raw parameters name.V and name.g (1, cols).
type WeightNorm struct {
	// Init is V's initialiser; nil means CellInit.
	Init Init
}

// Weight implements Reparam; g starts at the initial column norms, so the
// initial weight is Init's.
func (r WeightNorm) Weight(s *Scope, name string, rows, cols int) (*G.Node, error) {
	init := r.Init
	if init == nil {
		init = CellInit()
	}
	v := s.Param(name+".V", tensor.Shape{rows, cols}, init)
	if v == nil {
		return nil, s.err
	}
	vd, err := Floats64(v.Value())
	if err != nil {
		return nil, err
	}
	norms := make([]float64, cols)
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			norms[j] += vd[i*cols+j] * vd[i*cols+j]
		}
	}
	g := s.Param(name+".g", tensor.Shape{1, cols}, func(_ *rand.Rand, _ tensor.Shape, out []float64) {
		for j := range out {
			out[j] = math.Sqrt(norms[j])
		}
	})
	if g == nil {
		return nil, s.err
	}
	return G.ApplyOp(newReparamOp("weightnorm", s.dt, rows, cols, nil, nil, 0), v, g)
}

// SpectralNorm is spectral normalisation (Miyato et al.) with a learnable
// target norm: W = γ·V/σ(V), σ estimated by power iteration. The singular
// vectors u, v are held between steps and advanced by one power-iteration
// step per optimizer step (Project), so within a step σ = uᵀVv is a fixed
// function of V and its gradient is exact. Raw parameters name.V and the
// scalar name.gamma; γ < 1 keeps a tanh or ReLU cell contractive.
type SpectralNorm struct {
	// Gamma is γ's initial value; zero means 0.9.
	Gamma float64
	// Init is V's initialiser; nil means GlorotUniform(1).
	Init Init
}

// Weight implements Reparam.
func (r SpectralNorm) Weight(s *Scope, name string, rows, cols int) (*G.Node, error) {
	init := r.Init
	if init == nil {
		init = GlorotUniform(1)
	}
	gamma := r.Gamma
	if gamma == 0 {
		gamma = 0.9
	}
	v := s.Param(name+".V", tensor.Shape{rows, cols}, init)
	gm := s.Param(name+".gamma", tensor.Shape{}, Constant(gamma))
	if v == nil || gm == nil {
		return nil, s.err
	}
	// The singular vectors live with V: an inference graph built before
	// training reads the ones the training graph's projections update.
	st := s.Carried(name+".V#spectral", func() any {
		st := &spectralState{u: make([]float64, rows), v: make([]float64, cols), node: v}
		for i := range st.v {
			st.v[i] = s.rng.NormFloat64()
		}
		st.power(30)
		return st
	}).(*spectralState)
	s.projectors = append(s.projectors, st)
	return G.ApplyOp(newReparamOp("spectral", s.dt, rows, cols, st, nil, 0), v, gm)
}

// spectralState holds the singular-vector estimates of a SpectralNorm.
type spectralState struct {
	u, v []float64
	node *G.Node // V
}

// Project implements Projector: one power-iteration step per optimizer
// step, the usual cost of spectral normalisation.
func (st *spectralState) Project() error { st.power(1); return nil }

func (st *spectralState) power(iters int) {
	vd, err := Floats64(st.node.Value())
	if err != nil {
		return
	}
	rows, cols := len(st.u), len(st.v)
	for it := 0; it < iters; it++ {
		for i := 0; i < rows; i++ { // u = V v
			sum := 0.0
			for j := 0; j < cols; j++ {
				sum += vd[i*cols+j] * st.v[j]
			}
			st.u[i] = sum
		}
		normalizeVec(st.u)
		for j := range st.v { // v = Vᵀ u
			st.v[j] = 0
		}
		for i := 0; i < rows; i++ {
			for j := 0; j < cols; j++ {
				st.v[j] += vd[i*cols+j] * st.u[i]
			}
		}
		normalizeVec(st.v)
	}
}

func normalizeVec(x []float64) {
	n := opkit.Norm2(x)
	if n > 0 {
		for i := range x {
			x[i] /= n
		}
	}
}

// Monotone is the monotone parametrisation of monDEQ (Winston & Kolter)
// for square dense cells, written in this package's row convention
// (f(z) = φ(z·W + …)): the operator I − W is strongly monotone,
// ⟨(I − W)z, z⟩ ≥ m‖z‖², when
//
//	W = (1 − m)I − AᵀA + Bᵀ − B.
//
// With ReLU (or any monotone 1-Lipschitz φ) the equilibrium is unique. The
// effective weight is that of the forward–backward splitting
// z ← φ(z − α((I − W)z − inj − b)), i.e. (1 − α)I + αW with the injection
// and bias scaled by α (absorbed by the learned injection), which has the
// same fixed point and contracts when α < 2m/L², L ≥ ‖I − W‖₂. Project
// sets α = m/L² after every optimizer step from a power-iteration bound on
// L, so every solver converges, to the same point, from any start. Raw
// parameters name.A and name.B (square).
type Monotone struct {
	// M is the monotonicity margin m in (0, 1); zero means 0.5.
	M float64
	// Init initialises A and B; nil means GlorotUniform(0.25).
	Init Init
}

// Weight implements Reparam; rows must equal cols.
func (r Monotone) Weight(s *Scope, name string, rows, cols int) (*G.Node, error) {
	if rows != cols {
		return nil, fmt.Errorf("layers: Monotone needs a square weight, got %d×%d", rows, cols)
	}
	m := r.M
	if m == 0 {
		m = 0.5
	}
	if !(m > 0 && m < 1) {
		return nil, fmt.Errorf("layers: Monotone margin %v is outside (0, 1)", r.M)
	}
	init := r.Init
	if init == nil {
		init = GlorotUniform(0.25)
	}
	a := s.Param(name+".A", tensor.Shape{rows, cols}, init)
	b := s.Param(name+".B", tensor.Shape{rows, cols}, init)
	if a == nil || b == nil {
		return nil, s.err
	}
	// α lives with A and B: every graph of the model uses the step the
	// training graph's projections set.
	st := s.Carried(name+"#monotone", func() any {
		st := &monotoneState{m: m, a: a, b: b, n: rows, alpha: 0.1}
		st.Project()
		return st
	}).(*monotoneState)
	s.projectors = append(s.projectors, st)
	return G.ApplyOp(newReparamOp("monotone", s.dt, rows, cols, nil, st, 0), a, b)
}

// monotoneState holds the margin and the splitting step α.
type monotoneState struct {
	m, alpha float64
	a, b     *G.Node
	n        int
}

// Project implements Projector: α = m/L² with L = ‖I − W‖₂ estimated by
// power iteration on I − W = mI + AᵀA + B − Bᵀ (row convention) and
// rounded up by 10%, since power iteration approaches from below.
func (st *monotoneState) Project() error {
	ad, err := Floats64(st.a.Value())
	if err != nil {
		return err
	}
	bd, err := Floats64(st.b.Value())
	if err != nil {
		return err
	}
	n := st.n
	iw := make([]float64, n*n)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			ata := 0.0
			for k := 0; k < n; k++ {
				ata += ad[k*n+i] * ad[k*n+j]
			}
			v := ata - bd[j*n+i] + bd[i*n+j]
			if i == j {
				v += st.m
			}
			iw[i*n+j] = v
		}
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = float64(1 + i%3)
	}
	l := 1.1 * powerStep(iw, n, n, v, 50)
	st.alpha = math.Min(1, st.m/(l*l))
	return nil
}

// reparamOp computes an effective weight. Children: weightnorm (V, g),
// spectral (V, γ), monotone (A, B).
type reparamOp struct {
	opkit.Base
	kind       string
	rows, cols int
	spec       *spectralState
	mono       *monotoneState
	grad       int // > 0 for the gradient op of child grad−1 (children + G)
}

func newReparamOp(kind string, dt tensor.Dtype, rows, cols int, spec *spectralState, mono *monotoneState, grad int) *reparamOp {
	op := &reparamOp{kind: kind, rows: rows, cols: cols, spec: spec, mono: mono, grad: grad}
	name := "Reparam" + kind
	w := G.TensorType{Dims: 2, Of: dt}
	types := []hm.Type{op.childType(0, dt), op.childType(1, dt), w}
	out := tensor.Shape{rows, cols}
	if op.isGrad() {
		name = fmt.Sprintf("Reparam%sGrad%d", kind, grad)
		types = append(types, op.childType(grad-1, dt))
		out = op.childShape(grad - 1)
	}
	op.Base = opkit.New(name, fmt.Sprintf("Reparam{%s,%v,%d,%d,%d,%p,%p}", kind, dt, rows, cols, grad, spec, mono), dt, len(types)-1, out).WithTypes(types...)
	return op
}

func (op *reparamOp) isGrad() bool { return op.grad > 0 }

func (op *reparamOp) childShape(i int) tensor.Shape {
	switch {
	case op.kind == "weightnorm" && i == 1:
		return tensor.Shape{1, op.cols}
	case op.kind == "spectral" && i == 1:
		return tensor.ScalarShape()
	}
	return tensor.Shape{op.rows, op.cols}
}

func (op *reparamOp) childType(i int, dt tensor.Dtype) hm.Type {
	if s := op.childShape(i); s.IsScalar() {
		return dt
	}
	return G.TensorType{Dims: 2, Of: dt}
}

func (op *reparamOp) Do(vals ...G.Value) (G.Value, error) {
	if err := op.CheckArity(vals); err != nil {
		return nil, fmt.Errorf("layers: %w", err)
	}
	in := make([][]float64, len(vals))
	for i, v := range vals {
		d, err := Floats64(v)
		if err != nil {
			return nil, err
		}
		in[i] = d
	}
	var out []float64
	if op.isGrad() {
		out = op.backward(in[0], in[1], in[2], op.grad-1)
	} else {
		out = op.forward(in[0], in[1])
	}
	shape, _ := op.InferShape()
	if shape.IsScalar() {
		if op.Dtype() == tensor.Float32 {
			return G.NewF32(float32(out[0])), nil
		}
		return G.NewF64(out[0]), nil
	}
	t := op.Output()
	setFloats64(t, out)
	return t, nil
}

// forward computes the effective weight (in float64 whatever the dtype:
// weights are small and this runs once per step).
func (op *reparamOp) forward(p, q []float64) []float64 {
	r, c := op.rows, op.cols
	w := make([]float64, r*c)
	switch op.kind {
	case "weightnorm":
		norms := colNorms(p, r, c)
		for i := 0; i < r; i++ {
			for j := 0; j < c; j++ {
				w[i*c+j] = q[j] * p[i*c+j] / norms[j]
			}
		}
	case "spectral":
		sigma := op.sigma(p)
		for i := range w {
			w[i] = q[0] * p[i] / sigma
		}
	case "monotone":
		st := op.mono
		n := r
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				ata := 0.0
				for k := 0; k < n; k++ {
					ata += p[k*n+i] * p[k*n+j]
				}
				v := -ata + q[j*n+i] - q[i*n+j]
				if i == j {
					v += 1 - st.m
				}
				// (1 − α)I + αW
				w[i*n+j] = st.alpha * v
				if i == j {
					w[i*n+j] += 1 - st.alpha
				}
			}
		}
	}
	return w
}

// backward returns the gradient for child k given the incoming gradient g.
func (op *reparamOp) backward(p, q, g []float64, k int) []float64 {
	r, c := op.rows, op.cols
	switch op.kind {
	case "weightnorm":
		norms := colNorms(p, r, c)
		dots := make([]float64, c) // Σ_i g_ij v_ij
		for i := 0; i < r; i++ {
			for j := 0; j < c; j++ {
				dots[j] += g[i*c+j] * p[i*c+j]
			}
		}
		if k == 1 {
			out := make([]float64, c)
			for j := range out {
				out[j] = dots[j] / norms[j]
			}
			return out
		}
		out := make([]float64, r*c)
		for i := 0; i < r; i++ {
			for j := 0; j < c; j++ {
				n := norms[j]
				out[i*c+j] = q[j] / n * (g[i*c+j] - p[i*c+j]*dots[j]/(n*n))
			}
		}
		return out
	case "spectral":
		sigma := op.sigma(p)
		gv := 0.0
		for i := range g {
			gv += g[i] * p[i]
		}
		if k == 1 {
			return []float64{gv / sigma}
		}
		st := op.spec
		out := make([]float64, r*c)
		for i := 0; i < r; i++ {
			for j := 0; j < c; j++ {
				out[i*c+j] = q[0] / sigma * (g[i*c+j] - gv/sigma*st.u[i]*st.v[j])
			}
		}
		return out
	}
	// monotone: with G the gradient of W_eff = (1 − α)I + αW,
	// ∂A = −α·A(G + Gᵀ), ∂B = α(Gᵀ − G).
	n := r
	a := op.mono.alpha
	out := make([]float64, n*n)
	if k == 1 {
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				out[i*n+j] = a * (g[j*n+i] - g[i*n+j])
			}
		}
		return out
	}
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			s := 0.0
			for l := 0; l < n; l++ {
				s += p[i*n+l] * (g[l*n+j] + g[j*n+l])
			}
			out[i*n+j] = -a * s
		}
	}
	return out
}

// sigma is uᵀVv with the held singular vectors.
func (op *reparamOp) sigma(p []float64) float64 {
	st := op.spec
	s := 0.0
	for i, ui := range st.u {
		for j, vj := range st.v {
			s += ui * p[i*op.cols+j] * vj
		}
	}
	if s == 0 {
		return 1
	}
	return s
}

func colNorms(p []float64, r, c int) []float64 {
	norms := make([]float64, c)
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			norms[j] += p[i*c+j] * p[i*c+j]
		}
	}
	for j := range norms {
		norms[j] = math.Sqrt(norms[j])
		if norms[j] == 0 {
			norms[j] = 1
		}
	}
	return norms
}

func (op *reparamOp) DiffWRT(n int) []bool {
	if op.isGrad() {
		return make([]bool, n)
	}
	return []bool{true, true}
}

func (op *reparamOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	if op.isGrad() {
		return nil, fmt.Errorf("layers: %v is not differentiated twice", op)
	}
	out := make(G.Nodes, 2)
	for k := range out {
		d, err := G.ApplyOp(newReparamOp(op.kind, op.Dtype(), op.rows, op.cols, op.spec, op.mono, k+1), inputs[0], inputs[1], grad)
		if err != nil {
			return nil, err
		}
		out[k] = d
	}
	return out, nil
}
