package datasets

import (
	"math"
	"math/rand/v2"
)

// ToyTarget is the paper's 1-D locally Lipschitz target with poles at 0
// and 1: −x for x < 0; 1/x + 1/(x−1) on (0, 1); 1/(x−1) − 1/x for x > 1.
func ToyTarget(x float64) float64 {
	switch {
	case x < 0:
		return -x
	case x < 1:
		return 1/x + 1/(x-1)
	default:
		return 1/(x-1) - 1/x
	}
}

// Toy domain: [ToyLo, ToyHi] without the radius-neighbourhoods of the
// poles 0 and 1.
const (
	ToyLo = -2.0
	ToyHi = 3.0
)

// ToyOutside reports whether x is in the toy domain for the given radius.
func ToyOutside(x, radius float64) bool {
	return x >= ToyLo && x <= ToyHi && math.Abs(x) > radius && math.Abs(x-1) > radius
}

// ToyPoleDistance is the distance from x to the nearer pole.
func ToyPoleDistance(x float64) float64 { return math.Min(math.Abs(x), math.Abs(x-1)) }

// ToySet is a set of points x with targets ToyTarget(x); as a
// train.Dataset its inputs and targets are single values.
type ToySet struct {
	X, Y []float64
}

// Len implements train.Dataset.
func (s *ToySet) Len() int { return len(s.X) }

// InputShape implements train.Dataset.
func (s *ToySet) InputShape() []int { return []int{1} }

// TargetShape implements train.Dataset.
func (s *ToySet) TargetShape() []int { return []int{1} }

// Sample implements train.Dataset.
func (s *ToySet) Sample(i int, x, y []float32) {
	x[0], y[0] = float32(s.X[i]), float32(s.Y[i])
}

// ToyPoints draws n points uniformly from the toy domain (rejection
// sampling), deterministic for the seed.
func ToyPoints(n int, radius float64, seed uint64) *ToySet {
	rng := rand.New(rand.NewPCG(seed, toyStream))
	s := &ToySet{}
	for len(s.X) < n {
		x := ToyLo + (ToyHi-ToyLo)*rng.Float64()
		if ToyOutside(x, radius) {
			s.X = append(s.X, x)
			s.Y = append(s.Y, ToyTarget(x))
		}
	}
	return s
}

// ToyGrid returns the points of the grid ToyLo + k·step inside the toy
// domain.
func ToyGrid(step, radius float64) *ToySet {
	s := &ToySet{}
	for k := 0; ; k++ {
		x := ToyLo + float64(k)*step
		if x > ToyHi {
			break
		}
		if ToyOutside(x, radius) {
			s.X = append(s.X, x)
			s.Y = append(s.Y, ToyTarget(x))
		}
	}
	return s
}

// toyStream is the second word of the PCG seed of the toy's training
// points ("toy").
const toyStream = 0x746f79
