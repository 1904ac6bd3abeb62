package deq

import (
	"math"
	"math/rand/v2"
	"slices"
)

// ProjectInfNorm projects the rows×cols row-major matrix a, in place, onto
// {A : ‖A‖∞ ≤ kappa}: each row is projected in Euclidean distance onto the
// ℓ1 ball of radius kappa (Duchi et al. 2008). With kappa < 1 and a
// 1-Lipschitz, componentwise nondecreasing activation φ, z = φ(Az + Bx) then
// has a unique fixed point (El Ghaoui et al., "Implicit deep learning",
// well-posedness condition) and Picard iteration converges to it.
func ProjectInfNorm[T Float](a []T, rows, cols int, kappa float64) error {
	if err := checkMatrix(len(a), rows, cols); err != nil {
		return err
	}
	if !(kappa > 0) || math.IsInf(kappa, 0) {
		return errorf("ProjectInfNorm: kappa %v must be positive and finite", kappa)
	}
	scratch := make([]float64, cols)
	for r := 0; r < rows; r++ {
		projectL1(a[r*cols:(r+1)*cols], 1, kappa, scratch)
	}
	return nil
}

// ProjectOneNorm projects a onto {W : ‖W‖₁ ≤ kappa} (the largest column
// ℓ1 norm) by projecting each column onto the ℓ1 ball. For a cell written
// z·W with W = Aᵀ, ‖W‖₁ = ‖A‖∞, so this is ProjectInfNorm of A.
func ProjectOneNorm[T Float](a []T, rows, cols int, kappa float64) error {
	if err := checkMatrix(len(a), rows, cols); err != nil {
		return err
	}
	if !(kappa > 0) || math.IsInf(kappa, 0) {
		return errorf("ProjectOneNorm: kappa %v must be positive and finite", kappa)
	}
	scratch := make([]float64, rows)
	for c := 0; c < cols; c++ {
		projectL1(a[c:], cols, kappa, scratch[:rows])
	}
	return nil
}

// InfNorm returns ‖A‖∞, the largest row ℓ1 norm.
func InfNorm[T Float](a []T, rows, cols int) float64 {
	m := 0.0
	for r := 0; r < rows; r++ {
		s := 0.0
		for _, v := range a[r*cols : (r+1)*cols] {
			s += math.Abs(float64(v))
		}
		m = math.Max(m, s)
	}
	return m
}

func checkMatrix(n, rows, cols int) error {
	if rows <= 0 || cols <= 0 || n != rows*cols {
		return errorf("matrix of %d values does not have shape %d×%d", n, rows, cols)
	}
	return nil
}

// projectL1 projects the strided vector x[0], x[stride], … (len(scratch)
// entries) onto the ℓ1 ball of radius r.
func projectL1[T Float](x []T, stride int, r float64, scratch []float64) {
	n := len(scratch)
	l1 := 0.0
	for i := 0; i < n; i++ {
		scratch[i] = math.Abs(float64(x[i*stride]))
		l1 += scratch[i]
	}
	if l1 <= r {
		return
	}
	// θ from the sorted magnitudes: the largest k with
	// μ_k − (Σ_{j≤k} μ_j − r)/k > 0.
	slices.Sort(scratch)
	slices.Reverse(scratch)
	cum, theta := 0.0, 0.0
	for k, mu := range scratch {
		cum += mu
		t := (cum - r) / float64(k+1)
		if mu-t > 0 {
			theta = t
		}
	}
	for i := 0; i < n; i++ {
		v := float64(x[i*stride])
		m := math.Max(math.Abs(v)-theta, 0)
		x[i*stride] = T(math.Copysign(m, v))
	}
}

// SpectralNorm estimates the largest singular value of the rows×cols
// row-major matrix a by iters steps of power iteration on AᵀA from a random
// start drawn from rng. Zero iters means 50.
func SpectralNorm[T Float](a []T, rows, cols, iters int, rng *rand.Rand) (float64, error) {
	if err := checkMatrix(len(a), rows, cols); err != nil {
		return 0, err
	}
	if rng == nil {
		return 0, errorf("SpectralNorm needs a *rand.Rand (randomness is injected, never global)")
	}
	if iters == 0 {
		iters = 50
	}
	v := make([]float64, cols)
	u := make([]float64, rows)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	normalize(v)
	sigma := 0.0
	for it := 0; it < iters; it++ {
		for r := 0; r < rows; r++ { // u = A v
			s := 0.0
			for c, x := range a[r*cols : (r+1)*cols] {
				s += float64(x) * v[c]
			}
			u[r] = s
		}
		sigma = normalize(u)
		for c := range v { // v = Aᵀ u
			v[c] = 0
		}
		for r := 0; r < rows; r++ {
			for c, x := range a[r*cols : (r+1)*cols] {
				v[c] += float64(x) * u[r]
			}
		}
		if normalize(v) == 0 {
			return 0, nil
		}
	}
	return sigma, nil
}

func normalize(v []float64) float64 {
	n := 0.0
	for _, x := range v {
		n += x * x
	}
	n = math.Sqrt(n)
	if n > 0 {
		for i := range v {
			v[i] /= n
		}
	}
	return n
}

// SpectralRadius estimates, per sample, the spectral radius of a batched
// linear operator (for instance J_F(z*)ᵀ through a vector–Jacobian
// product, which has the spectrum of J_F) by power iteration from random
// starts. The estimate is the geometric mean of the growth factors
// ‖A v‖/‖v‖ over the second half of the iterations, which is robust to the
// rotation a complex dominant eigenpair causes. Zero iters means 30.
func SpectralRadius[T Float](op Func[T], batch, dim, iters int, rng *rand.Rand) ([]float64, error) {
	if op == nil || batch <= 0 || dim <= 0 {
		return nil, errorf("SpectralRadius needs an operator and a positive shape, got batch=%d dim=%d", batch, dim)
	}
	if rng == nil {
		return nil, errorf("SpectralRadius needs a *rand.Rand (randomness is injected, never global)")
	}
	if iters == 0 {
		iters = 30
	}
	v := make([]T, batch*dim)
	av := make([]T, batch*dim)
	for i := range v {
		v[i] = T(rng.NormFloat64())
	}
	logSum := make([]float64, batch)
	counted := 0
	for it := 0; it < iters; it++ {
		for s := 0; s < batch; s++ {
			vs := v[s*dim : (s+1)*dim]
			scaleVec(vs, 1/math.Sqrt(dot(vs, vs)))
		}
		if err := op(av, v); err != nil {
			return nil, err
		}
		if it >= iters/2 {
			counted++
		}
		for s := 0; s < batch; s++ {
			g := math.Sqrt(dot(av[s*dim:(s+1)*dim], av[s*dim:(s+1)*dim]))
			if it >= iters/2 {
				logSum[s] += math.Log(g)
			}
			if g == 0 { // nilpotent direction: restart it randomly
				for i := s * dim; i < (s+1)*dim; i++ {
					av[i] = T(rng.NormFloat64())
				}
			}
		}
		v, av = av, v
	}
	rho := make([]float64, batch)
	for s := range rho {
		rho[s] = math.Exp(logSum[s] / float64(counted))
	}
	return rho, nil
}
