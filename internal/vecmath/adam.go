package vecmath

import "math"

// AdamConsts are the per-step constants of an Adam update: gradient scale
// (clipping), weight decay, β₁, β₂, 1−β₁, 1−β₂, lr/(1−β₁ᵗ), 1/√(1−β₂ᵗ), ε.
type AdamConsts struct {
	Scale, WD, B1, B2, OB1, OB2, C1, C2, Eps float32
}

// Adam applies one Adam update to w with gradient g and moments m, v (all
// of one length), and zeroes g:
//
//	g' = g·Scale + WD·w;  m = B1·m + OB1·g';  v = B2·v + OB2·g'·g'
//	w -= C1·m / (√v·C2 + Eps)
//
// The vector path performs the same float32 operations in the same order
// (no fused multiply-add), so both paths agree bit for bit.
func Adam(w, g, m, v []float32, c AdamConsts) {
	n := 0
	if hasAVX2 {
		n = len(w) &^ 7
		k := [9]float32{c.Scale, c.WD, c.B1, c.B2, c.OB1, c.OB2, c.C1, c.C2, c.Eps}
		adamAVX2(w[:n], g[:n], m[:n], v[:n], &k)
	}
	for j := n; j < len(w); j++ {
		gj := g[j]*c.Scale + c.WD*w[j]
		mj := c.B1*m[j] + c.OB1*gj
		vj := c.B2*v[j] + c.OB2*gj*gj
		m[j], v[j] = mj, vj
		w[j] -= c.C1 * mj / (float32(math.Sqrt(float64(vj)))*c.C2 + c.Eps)
		g[j] = 0
	}
}
