package conv

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/implicit-ml/implicit/internal/linalg"
	"github.com/implicit-ml/implicit/layers"
)

// TestDirectConvMatchesIm2col: the direct float32 convolution (padded
// planes, linalg.SgemmRows) gives what the im2col path gives — outputs,
// activation derivatives, the added term and the bias — on shapes with
// output channels that are and are not multiples of 8, odd image sizes,
// 1×1, 3×3 and 5×5 windows, with and without an added term, a bias and
// a recorded φ' (the bias and ReLU fused into the product where nothing
// is added or recorded), and on the transposed convolution of the
// backward pass.
func TestDirectConvMatchesIm2col(t *testing.T) {
	if !linalg.HasSgemmRows() {
		t.Skip("no direct kernel in this build or on this CPU: convolutions take the im2col path")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	fill := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	for _, g := range []convGeom{
		{h: 28, w: 28, cin: 2, cout: 16, k: 3}, {h: 28, w: 28, cin: 16, cout: 16, k: 3},
		{h: 28, w: 28, cin: 16, cout: 1, k: 3}, {h: 7, w: 5, cin: 3, cout: 5, k: 3},
		{h: 6, w: 9, cin: 1, cout: 8, k: 5}, {h: 1, w: 1, cin: 1, cout: 1, k: 3},
		{h: 32, w: 32, cin: 4, cout: 12, k: 1},
	} {
		for _, act := range []layers.Activation{layers.Identity, layers.ReLU, layers.Tanh} {
			t.Run(fmt.Sprintf("%dx%d_%d-%d_k%d_%v", g.h, g.w, g.cin, g.cout, g.k, act), func(t *testing.T) {
				const n = 3
				x, w, bias, add := fill(n*g.inSize()), fill(g.weights()), fill(g.cout), fill(n*g.outSize())
				got, want := make([]float32, n*g.outSize()), make([]float32, n*g.outSize())
				dGot, dWant := make([]float32, len(got)), make([]float32, len(got))
				convForward(g, &colPool{}, got, x, w, bias, add, n, act, dGot)
				convForward(g, &colPool{im2colOnly: true}, want, x, w, bias, add, n, act, dWant)
				closeTo(t, "output", got, want)
				closeTo(t, "derivative", dGot, dWant)
				// Nothing added and no φ' kept: bias and activation fused
				// into the product where the activation allows.
				for _, b := range [][]float32{bias, nil} {
					convForward(g, &colPool{}, got, x, w, b, nil, n, act, nil)
					convForward(g, &colPool{im2colOnly: true}, want, x, w, b, nil, n, act, nil)
					closeTo(t, fmt.Sprintf("output (bias %v, nothing added)", b != nil), got, want)
				}
				// The backward pass's transposed convolution, no bias or add.
				s := fill(n * g.outSize())
				got, want = make([]float32, n*g.inSize()), make([]float32, n*g.inSize())
				convBackData(g, &colPool{}, got, s, w, n)
				convBackData(g, &colPool{im2colOnly: true}, want, s, w, n)
				closeTo(t, "transposed", got, want)
			})
		}
	}
}

func closeTo(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i, w := range want {
		if math.Abs(float64(got[i]-w)) > 1e-4*math.Max(1, math.Abs(float64(w))) {
			t.Fatalf("%s[%d] = %v direct, %v through im2col", what, i, got[i], w)
		}
	}
}

// BenchmarkConvForward: one batch of the deblur denoiser's hidden
// convolution (16 → 16 channels, 3×3, 28×28, batch 16 and 100) with ReLU,
// direct against im2col.
func BenchmarkConvForward(b *testing.B) {
	g := convGeom{h: 28, w: 28, cin: 16, cout: 16, k: 3}
	for _, n := range []int{16, 100} {
		x, w, bias := make([]float32, n*g.inSize()), make([]float32, g.weights()), make([]float32, g.cout)
		for i := range x {
			x[i] = float32(i%13) - 6
		}
		for i := range w {
			w[i] = float32(i%7)/7 - 0.5
		}
		out, d := make([]float32, n*g.outSize()), make([]float32, n*g.outSize())
		for _, path := range []string{"direct", "im2col"} {
			pool := &colPool{im2colOnly: path == "im2col"}
			b.Run(fmt.Sprintf("%s/batch=%d", path, n), func(b *testing.B) {
				for b.Loop() {
					convForward(g, pool, out, x, w, bias, nil, n, layers.ReLU, d)
				}
				b.ReportMetric(2*float64(n*g.outSize()*g.patch())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// TestBackWeightFloat32: the weight gradient in float32 (the tiled
// kernels) matches the float64 one (gonum) on the same data, for output
// channels that are and are not multiples of the tiles, and the padded
// layout's result matches float32 im2col's.
func TestBackWeightFloat32(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	for _, g := range []convGeom{
		{h: 28, w: 28, cin: 16, cout: 16, k: 3}, {h: 28, w: 28, cin: 16, cout: 1, k: 3},
		{h: 7, w: 5, cin: 3, cout: 5, k: 3}, {h: 6, w: 9, cin: 2, cout: 8, k: 5},
	} {
		const n = 3
		x64, s64 := make([]float64, n*g.inSize()), make([]float64, n*g.outSize())
		for _, v := range [][]float64{x64, s64} {
			for i := range v {
				v[i] = rng.NormFloat64()
			}
		}
		x32, s32 := make([]float32, len(x64)), make([]float32, len(s64))
		for i, v := range x64 {
			x32[i] = float32(v)
		}
		for i, v := range s64 {
			s32[i] = float32(v)
		}
		want, got := make([]float64, g.weights()), make([]float32, g.weights())
		viaCol := make([]float32, g.weights())
		convBackWeight(g, &colPool{}, want, x64, s64, n)
		// The padded layout, from a pool whose buffer holds NaN: every
		// value the product reads must be written or cleared first.
		d := newDirectGeom(g)
		kp := g.h * d.wp
		dirty := nanPool(d.xlen + (g.patch()+g.cout)*kp + g.weights())
		convBackWeight(g, dirty, got, x32, s32, n)
		for i, v := range got {
			if math.IsNaN(float64(v)) {
				t.Fatalf("%+v: dW[%d] holds a NaN of a reused buffer", g, i)
			}
		}
		convBackWeight(g, &colPool{im2colOnly: true}, viaCol, x32, s32, n)
		for i, w := range want {
			if math.Abs(float64(got[i])-w) > 1e-3*math.Max(1, math.Abs(w)) {
				t.Fatalf("%+v: dW[%d] = %v in float32, %v in float64", g, i, got[i], w)
			}
		}
		closeTo(t, fmt.Sprintf("%+v: padded layout against im2col", g), got, viaCol)
	}
}

// nanPool is a pool holding, for every part a parallel region can make,
// a buffer of m float32 values that are all NaN.
func nanPool(m int) *colPool {
	p := &colPool{}
	for range runtime.GOMAXPROCS(0) {
		b := make([]float32, m)
		for i := range b {
			b[i] = float32(math.NaN())
		}
		putCol(p, b)
	}
	return p
}
