package datasets

import "math"

// meanStd returns the mean and the population standard deviation of x,
// 0 and 1 when x is empty. Two passes in float64: millions of float32
// values summed in float32 would lose digits.
func meanStd[T float32 | float64](x []T) (mean, std float64) {
	if len(x) == 0 {
		return 0, 1
	}
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	m := s / float64(len(x))
	var s2 float64
	for _, v := range x {
		e := float64(v) - m
		s2 += e * e
	}
	return m, math.Sqrt(s2 / float64(len(x)))
}

// usableStd returns the deviation s, or 1 where s is not positive and
// finite (a constant field), so that standardised values stay finite.
func usableStd[T float32 | float64](s T) T {
	if !(s > 0) || math.IsInf(float64(s), 1) {
		return 1
	}
	return s
}
