package deq

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// affine is a batch of problems z = A_s z + b_s with a known solution.
type affine struct {
	batch, dim int
	a          []*mat.Dense // per sample, dim×dim
	b          []float64    // batch*dim
}

// newAffine draws non-symmetric A_s with ‖A_s‖₂ = rho: A = rho·Q₁ D Q₂ᵀ
// with independent random orthogonal Q₁, Q₂ and singular values in [0, 1]
// (the largest 1). A ≠ Aᵀ, so a solver or a test that applied J where Jᵀ
// is due (or the other way round) gives a wrong answer; for rho < 1 the map
// is a contraction in the 2-norm.
func newAffine(rng *rand.Rand, batch, dim int, rho float64) *affine {
	p := &affine{batch: batch, dim: dim, b: make([]float64, batch*dim)}
	for s := 0; s < batch; s++ {
		q1, q2 := randomOrthogonal(rng, dim), randomOrthogonal(rng, dim)
		d := mat.NewDiagDense(dim, nil)
		for i := 0; i < dim; i++ {
			d.SetDiag(i, rng.Float64())
		}
		d.SetDiag(0, 1)
		var a mat.Dense
		a.Product(q1, d, q2.T())
		a.Scale(rho, &a)
		p.a = append(p.a, &a)
	}
	p.fillB(rng)
	return p
}

// newSymmetricAffine draws symmetric A_s with spectral radius exactly rho
// (A = rho·Q D Qᵀ, D's entries in [−1, 1], the largest 1): for the tests
// that need a known contraction factor. It cannot tell J from Jᵀ.
func newSymmetricAffine(rng *rand.Rand, batch, dim int, rho float64) *affine {
	p := &affine{batch: batch, dim: dim, b: make([]float64, batch*dim)}
	for s := 0; s < batch; s++ {
		q := randomOrthogonal(rng, dim)
		d := mat.NewDiagDense(dim, nil)
		for i := 0; i < dim; i++ {
			d.SetDiag(i, 2*rng.Float64()-1)
		}
		d.SetDiag(0, 1)
		var a mat.Dense
		a.Product(q, d, q.T())
		a.Scale(rho, &a)
		p.a = append(p.a, &a)
	}
	p.fillB(rng)
	return p
}

// newExpansiveAffine draws non-normal A_s (Gaussian entries) scaled to
// spectral radius rho ≥ 1: fixed-point iteration on it diverges, while
// I − A stays invertible (no eigenvalue is 1, with probability one).
func newExpansiveAffine(t *testing.T, rng *rand.Rand, batch, dim int, rho float64) *affine {
	t.Helper()
	p := &affine{batch: batch, dim: dim, b: make([]float64, batch*dim)}
	for s := 0; s < batch; s++ {
		a := mat.NewDense(dim, dim, nil)
		for i := 0; i < dim; i++ {
			for j := 0; j < dim; j++ {
				a.Set(i, j, rng.NormFloat64())
			}
		}
		var eig mat.Eigen
		if !eig.Factorize(a, mat.EigenNone) {
			t.Fatal("eigendecomposition failed")
		}
		r := 0.0
		for _, v := range eig.Values(nil) {
			r = math.Max(r, cmplx.Abs(v))
		}
		a.Scale(rho/r, a)
		p.a = append(p.a, a)
	}
	p.fillB(rng)
	return p
}

func (p *affine) fillB(rng *rand.Rand) {
	for i := range p.b {
		p.b[i] = rng.NormFloat64()
	}
}

// asymmetry is min over samples of ‖A − Aᵀ‖_F / ‖A‖_F: how far the test
// matrices are from symmetric.
func (p *affine) asymmetry() float64 {
	worst := math.Inf(1)
	for _, a := range p.a {
		var d mat.Dense
		d.Sub(a, a.T())
		worst = math.Min(worst, mat.Norm(&d, 2)/mat.Norm(a, 2))
	}
	return worst
}

// linear is the affine problem's linear part M(v) = A v as a Linear with
// constant term g.
func (p *affine) linear(g []float64) Linear[float64] {
	return Linear[float64]{Apply: func(out, v []float64) error {
		if err := p.f64(out, v); err != nil {
			return err
		}
		for i := range out {
			out[i] -= p.b[i]
		}
		return nil
	}, G: g, Batch: p.batch, Dim: p.dim}
}

func randomOrthogonal(rng *rand.Rand, n int) *mat.Dense {
	m := mat.NewDense(n, n, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			m.Set(i, j, rng.NormFloat64())
		}
	}
	var qr mat.QR
	qr.Factorize(m)
	var q mat.Dense
	qr.QTo(&q)
	return &q
}

func (p *affine) f64(out, z []float64) error {
	for s := 0; s < p.batch; s++ {
		zs := mat.NewVecDense(p.dim, z[s*p.dim:(s+1)*p.dim])
		os := mat.NewVecDense(p.dim, out[s*p.dim:(s+1)*p.dim])
		os.MulVec(p.a[s], zs)
		for i := 0; i < p.dim; i++ {
			out[s*p.dim+i] += p.b[s*p.dim+i]
		}
	}
	return nil
}

func (p *affine) f32(out, z []float32) error {
	z64, o64 := widen(z), make([]float64, len(out))
	if err := p.f64(o64, z64); err != nil {
		return err
	}
	for i, v := range o64 {
		out[i] = float32(v)
	}
	return nil
}

// transposeApply writes A_sᵀ v per sample.
func (p *affine) transposeApply(out, v []float64) error {
	for s := 0; s < p.batch; s++ {
		vs := mat.NewVecDense(p.dim, v[s*p.dim:(s+1)*p.dim])
		os := mat.NewVecDense(p.dim, out[s*p.dim:(s+1)*p.dim])
		os.MulVec(p.a[s].T(), vs)
	}
	return nil
}

// solution returns z* solving (I − A_s) z = b_s per sample.
func (p *affine) solution(t *testing.T) []float64 {
	return p.solveWith(t, false, p.b)
}

// adjointSolution returns u solving (I − A_sᵀ) u = g per sample.
func (p *affine) adjointSolution(t *testing.T, g []float64) []float64 {
	return p.solveWith(t, true, g)
}

func (p *affine) solveWith(t *testing.T, trans bool, rhs []float64) []float64 {
	t.Helper()
	out := make([]float64, p.batch*p.dim)
	for s := 0; s < p.batch; s++ {
		m := mat.NewDense(p.dim, p.dim, nil)
		if trans {
			m.CloneFrom(p.a[s].T())
		} else {
			m.CloneFrom(p.a[s])
		}
		m.Scale(-1, m)
		for i := 0; i < p.dim; i++ {
			m.Set(i, i, m.At(i, i)+1)
		}
		x := mat.NewVecDense(p.dim, out[s*p.dim:(s+1)*p.dim])
		if err := x.SolveVec(m, mat.NewVecDense(p.dim, rhs[s*p.dim:(s+1)*p.dim])); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// tanhMap is z = tanh(W z + b) per sample with ‖W‖₂ = rho.
type tanhMap struct {
	dim int
	w   *mat.Dense
	b   []float64
}

func newTanhMap(rng *rand.Rand, batch, dim int, rho float64) *tanhMap {
	w := mat.NewDense(dim, dim, nil)
	for i := 0; i < dim; i++ {
		for j := 0; j < dim; j++ {
			w.Set(i, j, rng.NormFloat64())
		}
	}
	var svd mat.SVD
	svd.Factorize(w, mat.SVDNone)
	w.Scale(rho/svd.Values(nil)[0], w)
	b := make([]float64, batch*dim)
	for i := range b {
		b[i] = rng.NormFloat64()
	}
	return &tanhMap{dim: dim, w: w, b: b}
}

func (m *tanhMap) f64(out, z []float64) error {
	batch := len(z) / m.dim
	for s := 0; s < batch; s++ {
		os := mat.NewVecDense(m.dim, out[s*m.dim:(s+1)*m.dim])
		os.MulVec(m.w, mat.NewVecDense(m.dim, z[s*m.dim:(s+1)*m.dim]))
		for i := 0; i < m.dim; i++ {
			k := s*m.dim + i
			out[k] = math.Tanh(out[k] + m.b[k])
		}
	}
	return nil
}

func (m *tanhMap) f32(out, z []float32) error {
	o64 := make([]float64, len(out))
	if err := m.f64(o64, widen(z)); err != nil {
		return err
	}
	for i, v := range o64 {
		out[i] = float32(v)
	}
	return nil
}

func widen(z []float32) []float64 {
	out := make([]float64, len(z))
	for i, v := range z {
		out[i] = float64(v)
	}
	return out
}

// maxAbsDiff returns the largest |a_i − b_i| over float64 slices.
func maxAbsDiff(a, b []float64) float64 {
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(a[i]-b[i]))
	}
	return m
}

func solvers() map[string]Solver {
	return map[string]Solver{
		"picard":        Picard{},
		"picard-damped": Picard{Damping: 0.7},
		"anderson":      Anderson{},
		"anderson-mix":  Anderson{Memory: 3, Mixing: 0.8},
		"broyden":       Broyden{},
		"broyden-short": Broyden{Memory: 2},
	}
}
