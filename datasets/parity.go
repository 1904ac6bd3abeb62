package datasets

import "math/rand/v2"

// ParitySet is the prefix-parity task: N random bit strings of length
// Len; the target at position i is the XOR of bits 0 … i. Answering
// position i needs information from every earlier position, so a looped
// model needs more iterations on longer strings. As a train.Dataset, the
// input is the bits as ±1 (Len values) and the target one-hot (Len, 2).
type ParitySet struct {
	N, Length int
	Bits      []uint8 // N·Length bits, one per byte
}

// ParitySequences draws n strings of the given length; string k is a
// function of (seed, length, k) only.
func ParitySequences(n, length int, seed uint64) *ParitySet {
	s := &ParitySet{N: n, Length: length, Bits: make([]uint8, n*length)}
	for k := 0; k < n; k++ {
		rng := rand.New(rand.NewPCG(seed^uint64(length)<<32, uint64(k)))
		for i := 0; i < length; i++ {
			s.Bits[k*length+i] = uint8(rng.IntN(2))
		}
	}
	return s
}

// Len implements train.Dataset.
func (s *ParitySet) Len() int { return s.N }

// InputShape implements train.Dataset.
func (s *ParitySet) InputShape() []int { return []int{s.Length} }

// TargetShape implements train.Dataset.
func (s *ParitySet) TargetShape() []int { return []int{s.Length, 2} }

// Sample implements train.Dataset.
func (s *ParitySet) Sample(k int, x, y []float32) {
	p := uint8(0)
	for i, b := range s.Bits[k*s.Length : (k+1)*s.Length] {
		x[i] = float32(2*int(b) - 1)
		p ^= b
		y[2*i], y[2*i+1] = float32(1-p), float32(p)
	}
}

// Parity returns the prefix parity of string k at position i.
func (s *ParitySet) Parity(k, i int) uint8 {
	p := uint8(0)
	for _, b := range s.Bits[k*s.Length : k*s.Length+i+1] {
		p ^= b
	}
	return p
}
