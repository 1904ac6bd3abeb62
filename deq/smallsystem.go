package deq

import "math"

// smallSystem solves the m×m regularised systems of Anderson mixing with
// preallocated scratch space, in float64 whatever the element type.
type smallSystem struct {
	a, y []float64
}

func newSmallSystem(m int) *smallSystem {
	return &smallSystem{a: make([]float64, m*m), y: make([]float64, m)}
}

// mixing returns α minimising ‖Σ α_k g_k‖ with Σ α_k = 1 over the given
// slots of the m×m Gram matrix: α = y/Σy where (H + λI) y = 1 and
// λ = ridge·max(diag H). It reports false when the system is singular or
// the result is not finite. The returned slice is scratch space.
func (s *smallSystem) mixing(gram []float64, m int, slots []int, ridge float64) ([]float64, bool) {
	n := len(slots)
	a, y := s.a[:n*n], s.y[:n]
	scale := 0.0
	for _, j := range slots {
		scale = math.Max(scale, gram[j*m+j])
	}
	if !(scale > 0) || math.IsInf(scale, 0) {
		// All residuals zero (already at a fixed point) or overflow: any
		// affine combination is as good; take the newest iterate.
		return s.newest(n), scale == 0
	}
	lambda := ridge * scale
	for r, i := range slots {
		for c, j := range slots {
			a[r*n+c] = gram[i*m+j] / scale
		}
		a[r*n+r] += lambda / scale
		y[r] = 1
	}
	if !choleskySolve(a, y, n) {
		return nil, false
	}
	sum := 0.0
	for _, v := range y {
		sum += v
	}
	if sum == 0 || isNonFinite(sum) {
		return nil, false
	}
	for i := range y {
		y[i] /= sum
		if isNonFinite(y[i]) {
			return nil, false
		}
	}
	return y, true
}

// newest returns the coefficients that select the last slot.
func (s *smallSystem) newest(n int) []float64 {
	y := s.y[:n]
	for i := range y {
		y[i] = 0
	}
	y[n-1] = 1
	return y
}

// choleskySolve solves the symmetric positive definite n×n system a·x = b
// in place (b becomes x; a is overwritten). It reports false when a is not
// numerically positive definite.
func choleskySolve(a, b []float64, n int) bool {
	for j := 0; j < n; j++ {
		d := a[j*n+j]
		for k := 0; k < j; k++ {
			d -= a[j*n+k] * a[j*n+k]
		}
		if !(d > 0) {
			return false
		}
		d = math.Sqrt(d)
		a[j*n+j] = d
		for i := j + 1; i < n; i++ {
			v := a[i*n+j]
			for k := 0; k < j; k++ {
				v -= a[i*n+k] * a[j*n+k]
			}
			a[i*n+j] = v / d
		}
	}
	for i := 0; i < n; i++ { // L y = b
		v := b[i]
		for k := 0; k < i; k++ {
			v -= a[i*n+k] * b[k]
		}
		b[i] = v / a[i*n+i]
	}
	for i := n - 1; i >= 0; i-- { // Lᵀ x = y
		v := b[i]
		for k := i + 1; k < n; k++ {
			v -= a[k*n+i] * b[k]
		}
		b[i] = v / a[i*n+i]
	}
	return true
}
