package deq

import "math"

// BatchMap evaluates a batched map x ↦ y(x): in holds Batch rows of the
// input, out receives Batch rows of the output.
type BatchMap[T Float] func(out, in []T) error

// LipschitzEstimate holds the empirical Lipschitz constant of a map and
// the ratios it was drawn from.
type LipschitzEstimate struct {
	// Max is the largest ratio ‖y(x+δ) − y(x)‖ / ‖δ‖ over samples and
	// perturbations; Mean is their average.
	Max, Mean float64
	// Ratios holds one row per perturbation with one ratio per sample
	// (NaN where the sample's perturbation was zero).
	Ratios [][]float64
}

// Lipschitz estimates the empirical Lipschitz constant
//
//	L = max (and mean) over samples s and perturbations δ of
//	    ‖y(x+δ)_s − y(x)_s‖ / ‖δ_s‖
//
// of a batched map y at the points x (batch rows of inDim values). Each
// perturbation is a full batch (batch rows of inDim values), so every
// sample may be moved in its own direction; rows that are zero are
// skipped. The experiments report L_t, this estimate for the map
// x ↦ y_t(x) after t iterations.
func Lipschitz[T Float](y BatchMap[T], x []T, batch, inDim, outDim int, deltas [][]T) (LipschitzEstimate, error) {
	var est LipschitzEstimate
	switch {
	case y == nil:
		return est, errorf("Lipschitz needs a map")
	case batch <= 0 || inDim <= 0 || outDim <= 0:
		return est, errorf("Lipschitz shape batch=%d inDim=%d outDim=%d must be positive", batch, inDim, outDim)
	case len(x) != batch*inDim:
		return est, errorf("Lipschitz: x has %d values, want batch*inDim = %d", len(x), batch*inDim)
	case len(deltas) == 0:
		return est, errorf("Lipschitz needs at least one perturbation")
	}
	y0 := make([]T, batch*outDim)
	if err := y(y0, x); err != nil {
		return est, err
	}
	xp := make([]T, len(x))
	yp := make([]T, len(y0))
	n := 0
	for k, dx := range deltas {
		if len(dx) != len(x) {
			return est, errorf("Lipschitz: perturbation %d has %d values, want %d", k, len(dx), len(x))
		}
		for i := range x {
			xp[i] = x[i] + dx[i]
		}
		if err := y(yp, xp); err != nil {
			return est, err
		}
		row := make([]float64, batch)
		for s := 0; s < batch; s++ {
			// Use the perturbation actually applied, after rounding.
			var dn, yn float64
			for i := s * inDim; i < (s+1)*inDim; i++ {
				d := float64(xp[i]) - float64(x[i])
				dn += d * d
			}
			for i := s * outDim; i < (s+1)*outDim; i++ {
				d := float64(yp[i]) - float64(y0[i])
				yn += d * d
			}
			if dn == 0 {
				row[s] = math.NaN()
				continue
			}
			r := math.Sqrt(yn / dn)
			row[s] = r
			if r > est.Max || math.IsNaN(r) {
				est.Max = r
			}
			est.Mean += r
			n++
		}
		est.Ratios = append(est.Ratios, row)
	}
	if n == 0 {
		return est, errorf("Lipschitz: every perturbation was zero")
	}
	est.Mean /= float64(n)
	return est, nil
}
