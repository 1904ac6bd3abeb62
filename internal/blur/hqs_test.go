package blur

import (
	"fmt"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"sync"
	"testing"

	"gonum.org/v1/gonum/diff/fd"
	"gonum.org/v1/gonum/dsp/fourier"
)

// hqsKernels are the kernels the HQS tests run on: the workload's three
// and a random 3×3 one with no symmetry and no normalisation, so neither
// a transposition nor a hidden sum-to-one assumption can pass unseen.
func hqsKernels(t *testing.T) []Kernel {
	t.Helper()
	var out []Kernel
	for _, name := range []string{"gaussian", "motion", "shake"} {
		k, err := Named(name)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, k)
	}
	rng := rand.New(rand.NewPCG(20, 21))
	r := Kernel{Name: "random 3×3", K: 3, W: make([]float64, 9)}
	for i := range r.W {
		r.W[i] = rng.Float64()
	}
	return append(out, r)
}

// naiveDFT2 is the definition X(f) = Σ_p x(p)·e^{−2πi(fy·i/h + fx·j/w)},
// all frequencies, h·w values row-major.
func naiveDFT2(x []float64, h, w int) []complex128 {
	out := make([]complex128, h*w)
	for fy := range h {
		for fx := range w {
			var s complex128
			for i := range h {
				for j := range w {
					th := -2 * math.Pi * (float64(fy*i%h)/float64(h) + float64(fx*j%w)/float64(w))
					s += complex(x[i*w+j], 0) * cmplx.Rect(1, th)
				}
			}
			out[fy*w+fx] = s
		}
	}
	return out
}

// TestRealDFT checks the folded DFT against the definition and its
// inverse against the identity, on even, odd and degenerate sizes (the
// folds treat the self-paired Nyquist row and column separately).
func TestRealDFT(t *testing.T) {
	rng := rand.New(rand.NewPCG(22, 23))
	for _, hw := range [][2]int{{28, 28}, {9, 13}, {10, 7}, {7, 10}, {4, 4}, {3, 2}, {2, 3}, {1, 1}, {1, 6}, {5, 1}} {
		h, w := hw[0], hw[1]
		t.Run(fmt.Sprintf("%d×%d", h, w), func(t *testing.T) {
			d := newRealDFT(h, w)
			wk := d.newWork()
			x := randomImages(rng, h*w)
			wc := w/2 + 1
			re, im := make([]float64, h*wc), make([]float64, h*wc)
			d.forward(re, im, x, wk)
			want := naiveDFT2(x, h, w)
			for fy := range h {
				for fx := range wc {
					got := complex(re[fy*wc+fx], im[fy*wc+fx])
					if cmplx.Abs(got-want[fy*w+fx]) > 1e-12 {
						t.Fatalf("X(%d, %d) = %v, want %v", fy, fx, got, want[fy*w+fx])
					}
				}
			}
			back := make([]float64, h*w)
			d.inverse(back, re, im, wk)
			for p := range x {
				if math.Abs(back[p]-x[p]) > 1e-13 {
					t.Fatalf("inverse(forward(x))[%d] = %v, want %v", p, back[p], x[p])
				}
			}
		})
	}
}

// eigen returns â(fy, fx) for any frequency, using â(−f) = conj(â(f))
// (a real kernel) for the half the tables leave out.
func eigen[T Float](s *HQS[T], fy, fx int) complex128 {
	wc := s.w/2 + 1
	if fx < wc {
		return complex(s.are[fy*wc+fx], s.aim[fy*wc+fx])
	}
	fy, fx = (s.h-fy)%s.h, s.w-fx
	return complex(s.are[fy*wc+fx], -s.aim[fy*wc+fx])
}

// TestHQSEigenvalues checks the per-frequency table against the spatial
// operator: A maps the complex Fourier mode e^{2πi(fy·i/h + fx·j/w)} to
// â(f) times itself (applied to its cosine and sine parts with Apply),
// and |â(f)| is the singular value Spectrum reports.
func TestHQSEigenvalues(t *testing.T) {
	for _, k := range hqsKernels(t) {
		for _, hw := range [][2]int{{9, 13}, {28, 28}} {
			h, w := hw[0], hw[1]
			s, err := NewHQS[float64](k, h, w)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range Spectrum(k, h, w) {
				if a := cmplx.Abs(eigen(s, m.Fy, m.Fx)); math.Abs(a-m.Sigma) > 1e-13 {
					t.Fatalf("%s on %d×%d: |â(%d, %d)| = %v, Spectrum says %v", k.Name, h, w, m.Fy, m.Fx, a, m.Sigma)
				}
			}
			c, sn := make([]float64, h*w), make([]float64, h*w)
			ac, as := make([]float64, h*w), make([]float64, h*w)
			for fy := range h {
				for fx := range w {
					if h*w > 200 && (fy*w+fx)%7 != 0 {
						continue // every seventh mode at 28×28 keeps this fast
					}
					for i := range h {
						for j := range w {
							th := 2 * math.Pi * (float64(fy*i%h)/float64(h) + float64(fx*j%w)/float64(w))
							c[i*w+j], sn[i*w+j] = math.Cos(th), math.Sin(th)
						}
					}
					Apply(ac, c, 1, h, w, k, false)
					Apply(as, sn, 1, h, w, k, false)
					a := eigen(s, fy, fx)
					for p := range c {
						got := complex(ac[p], as[p])
						want := a * complex(c[p], sn[p])
						if cmplx.Abs(got-want) > 1e-13 {
							t.Fatalf("%s on %d×%d: A·mode(%d, %d) at pixel %d is %v, â·mode is %v", k.Name, h, w, fy, fx, p, got, want)
						}
					}
				}
			}
		}
	}
}

// normalEq returns the largest |(AᵀA + βI)z − Aᵀx − βy| over all pixels,
// with A and Aᵀ applied spatially by Apply, independently of the Fourier
// path, and the largest |Aᵀx + βy| to scale it by.
func normalEq(z, y, x []float64, n, h, w int, k Kernel, beta float64) (res, scale float64) {
	az, ataz, atx := make([]float64, len(z)), make([]float64, len(z)), make([]float64, len(z))
	Apply(az, z, n, h, w, k, false)
	Apply(ataz, az, n, h, w, k, true)
	Apply(atx, x, n, h, w, k, true)
	for p := range z {
		rhs := atx[p] + beta*y[p]
		res = math.Max(res, math.Abs(ataz[p]+beta*z[p]-rhs))
		scale = math.Max(scale, math.Abs(rhs))
	}
	return res, scale
}

// TestHQSStep checks that Step solves (AᵀA + βI)z = Aᵀx + βy, for every
// image of a batch, over a range of β that includes the ill-conditioned
// small end, and that writing the result over y or x changes nothing.
func TestHQSStep(t *testing.T) {
	rng := rand.New(rand.NewPCG(24, 25))
	for _, k := range hqsKernels(t) {
		for _, hw := range [][2]int{{28, 28}, {9, 13}} {
			h, w, n := hw[0], hw[1], 3
			s, err := NewHQS[float64](k, h, w)
			if err != nil {
				t.Fatal(err)
			}
			for _, beta := range []float64{1e-3, 0.25, 4} {
				y, x := randomImages(rng, n*h*w), randomImages(rng, n*h*w)
				z := make([]float64, n*h*w)
				s.Step(z, y, x, n, beta)
				res, scale := normalEq(z, y, x, n, h, w, k, beta)
				t.Logf("%s on %d×%d, β = %g: residual %.2g, scale %.2g", k.Name, h, w, beta, res, scale)
				if res > 1e-12*math.Max(1, scale) {
					t.Errorf("%s on %d×%d, β = %g: normal-equation residual %.3g (scale %.3g)", k.Name, h, w, beta, res, scale)
				}
				for _, in := range [][]float64{y, x} {
					alias := append([]float64(nil), in...)
					yy, xx := y, x
					if &in[0] == &y[0] {
						yy = alias
					} else {
						xx = alias
					}
					s.Step(alias, yy, xx, n, beta)
					for p := range z {
						if alias[p] != z[p] {
							t.Fatalf("%s: Step in place differs at %d: %v vs %v", k.Name, p, alias[p], z[p])
						}
					}
				}
			}
		}
	}
}

// TestHQSFloat32 checks that float32 storage computes the same step and
// products as float64 on the same (float32-representable) data.
func TestHQSFloat32(t *testing.T) {
	rng := rand.New(rand.NewPCG(26, 27))
	const h, w, n, beta = 28, 28, 2, 0.25
	k, err := Named("shake")
	if err != nil {
		t.Fatal(err)
	}
	s64, err := NewHQS[float64](k, h, w)
	if err != nil {
		t.Fatal(err)
	}
	s32, err := NewHQS[float32](k, h, w)
	if err != nil {
		t.Fatal(err)
	}
	in64 := make([][]float64, 3) // y, x, v
	in32 := make([][]float32, 3)
	for i := range in64 {
		in64[i], in32[i] = make([]float64, n*h*w), make([]float32, n*h*w)
		for p := range in64[i] {
			in32[i][p] = float32(rng.NormFloat64())
			in64[i][p] = float64(in32[i][p])
		}
	}
	z64, z32 := make([]float64, n*h*w), make([]float32, n*h*w)
	s64.Step(z64, in64[0], in64[1], n, beta)
	s32.Step(z32, in32[0], in32[1], n, beta)
	gy64, gx64, gb64 := make([]float64, n*h*w), make([]float64, n*h*w), make([]float64, n)
	gy32, gx32, gb32 := make([]float32, n*h*w), make([]float32, n*h*w), make([]float64, n)
	s64.VJP(gy64, gx64, gb64, in64[2], in64[0], z64, n, beta)
	s32.VJP(gy32, gx32, gb32, in32[2], in32[0], z32, n, beta)
	for _, c := range []struct {
		name string
		a    []float64
		b    []float32
	}{{"z", z64, z32}, {"gy", gy64, gy32}, {"gx", gx64, gx32}} {
		if e := relDiff32(c.a, c.b); e > 1e-5 {
			t.Errorf("%s: float32 and float64 differ by %.3g (relative to the largest value)", c.name, e)
		}
	}
	for i := range gb64 {
		if math.Abs(gb64[i]-gb32[i]) > 1e-5*math.Abs(gb64[i]) {
			t.Errorf("gbeta[%d]: float32 %v, float64 %v", i, gb32[i], gb64[i])
		}
	}
}

func relDiff32(a []float64, b []float32) float64 {
	d, m := 0.0, 0.0
	for i := range a {
		d = math.Max(d, math.Abs(a[i]-float64(b[i])))
		m = math.Max(m, math.Abs(a[i]))
	}
	return d / m
}

func relErr(got, want []float64) float64 {
	d, m := 0.0, 0.0
	for i := range got {
		d += (got[i] - want[i]) * (got[i] - want[i])
		m += want[i] * want[i]
	}
	return math.Sqrt(d / m)
}

// TestHQSVJP checks the three vector–Jacobian products against central
// finite differences of L = ⟨v, Step(y, x, β)⟩ (gonum's diff/fd), per
// coordinate of y and x and per image for β, on a batch of two
// non-square images with random, unstructured v, y, x: ∂z/∂x = MAᵀ is not
// symmetric, so returning MAᵀv for AMv fails here.
func TestHQSVJP(t *testing.T) {
	rng := rand.New(rand.NewPCG(28, 29))
	const h, w, n = 9, 13, 2
	for _, k := range hqsKernels(t) {
		for _, beta := range []float64{0.05, 0.25, 4} {
			t.Run(fmt.Sprintf("%s β=%g", k.Name, beta), func(t *testing.T) {
				s, err := NewHQS[float64](k, h, w)
				if err != nil {
					t.Fatal(err)
				}
				y, x, v := randomImages(rng, n*h*w), randomImages(rng, n*h*w), randomImages(rng, n*h*w)
				z := make([]float64, n*h*w)
				s.Step(z, y, x, n, beta)
				gy, gx, gb := make([]float64, n*h*w), make([]float64, n*h*w), make([]float64, n)
				s.VJP(gy, gx, gb, v, y, z, n, beta)

				zz := make([]float64, n*h*w)
				loss := func(yy, xx []float64, b float64) float64 {
					s.Step(zz, yy, xx, n, b)
					return dot(v, zz)
				}
				const tol = 1e-7
				fdy := fd.Gradient(nil, func(yy []float64) float64 { return loss(yy, x, beta) }, y, &fd.Settings{Formula: fd.Central})
				ey := relErr(gy, fdy)
				if ey > tol {
					t.Errorf("y-VJP: relative error %.3g against finite differences", ey)
				}
				fdx := fd.Gradient(nil, func(xx []float64) float64 { return loss(y, xx, beta) }, x, &fd.Settings{Formula: fd.Central})
				ex := relErr(gx, fdx)
				if ex > tol {
					t.Errorf("x-VJP: relative error %.3g against finite differences", ex)
				}
				// One image at a time: image i's β-derivative of ⟨v_i, z_i⟩.
				hw := h * w
				for i := range n {
					li := func(b float64) float64 {
						s.Step(zz, y, x, n, b)
						return dot(v[i*hw:(i+1)*hw], zz[i*hw:(i+1)*hw])
					}
					want := fd.Derivative(li, beta, &fd.Settings{Formula: fd.Central, Step: 1e-5 * beta})
					e := math.Abs(gb[i]-want) / math.Abs(want)
					if e > tol {
						t.Errorf("β-VJP image %d: %.12g, finite differences %.12g (relative error %.3g)", i, gb[i], want, e)
					}
					t.Logf("relative errors: y %.2g, x %.2g, β (image %d) %.2g", ey, ex, i, e)
				}

				// Skipped outputs and gy written over v change nothing.
				gx2 := make([]float64, n*h*w)
				s.VJP(nil, gx2, nil, v, nil, nil, n, beta)
				vv := append([]float64(nil), v...)
				s.VJP(vv, nil, nil, vv, nil, nil, n, beta)
				for p := range gx {
					if gx2[p] != gx[p] || vv[p] != gy[p] {
						t.Fatalf("partial or in-place VJP differs at %d", p)
					}
				}
			})
		}
	}
}

// TestHQSStepNormal checks that StepNormal on b = Aᵀx (Apply's spatial
// adjoint) is Step on x, and that VJPNormal's products match central
// differences of ⟨v, StepNormal(y, b, β)⟩ in y, b and β: gb = Mv, while
// Step's gx = AMv, so mixing the two fails here.
func TestHQSStepNormal(t *testing.T) {
	rng := rand.New(rand.NewPCG(34, 35))
	const h, w, n, tol = 9, 13, 2, 1e-7
	for _, k := range hqsKernels(t) {
		s, err := NewHQS[float64](k, h, w)
		if err != nil {
			t.Fatal(err)
		}
		for _, beta := range []float64{0.05, 4} {
			y, x, v := randomImages(rng, n*h*w), randomImages(rng, n*h*w), randomImages(rng, n*h*w)
			b := make([]float64, n*h*w)
			Apply(b, x, n, h, w, k, true)
			z, zb := make([]float64, n*h*w), make([]float64, n*h*w)
			s.Step(z, y, x, n, beta)
			s.StepNormal(zb, y, b, n, beta)
			if e := relErr(zb, z); e > 1e-13 {
				t.Errorf("%s β=%g: StepNormal(y, Aᵀx) differs from Step(y, x) by %.3g", k.Name, beta, e)
			}
			gy, gb, gbeta := make([]float64, n*h*w), make([]float64, n*h*w), make([]float64, n)
			s.VJPNormal(gy, gb, gbeta, v, y, zb, n, beta)
			zz := make([]float64, n*h*w)
			loss := func(yy, bb []float64, be float64) float64 {
				s.StepNormal(zz, yy, bb, n, be)
				return dot(v, zz)
			}
			set := &fd.Settings{Formula: fd.Central}
			if e := relErr(gy, fd.Gradient(nil, func(yy []float64) float64 { return loss(yy, b, beta) }, y, set)); e > tol {
				t.Errorf("%s β=%g: y-VJP relative error %.3g", k.Name, beta, e)
			}
			if e := relErr(gb, fd.Gradient(nil, func(bb []float64) float64 { return loss(y, bb, beta) }, b, set)); e > tol {
				t.Errorf("%s β=%g: b-VJP relative error %.3g", k.Name, beta, e)
			}
			sum := gbeta[0] + gbeta[1]
			want := fd.Derivative(func(be float64) float64 { return loss(y, b, be) }, beta, &fd.Settings{Formula: fd.Central, Step: 1e-5 * beta})
			if e := math.Abs(sum-want) / math.Abs(want); e > tol {
				t.Errorf("%s β=%g: β-VJP %.12g, finite differences %.12g", k.Name, beta, sum, want)
			}
		}
	}
}

// TestHQSConcurrent backs the claim that one HQS serves several
// goroutines: each gets its own scratch, so results match a serial run
// (run with -race to check the scratch is not shared).
func TestHQSConcurrent(t *testing.T) {
	const h, w, n, workers, beta = 28, 28, 2, 4, 0.25
	k, err := Named("shake")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewHQS[float64](k, h, w)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(32, 33))
	y, x := randomImages(rng, workers*n*h*w), randomImages(rng, workers*n*h*w)
	serial, parallel := make([]float64, len(y)), make([]float64, len(y))
	s.Step(serial, y, x, workers*n, beta)
	var wg sync.WaitGroup
	for g := range workers {
		lo, hi := g*n*h*w, (g+1)*n*h*w
		wg.Go(func() { s.Step(parallel[lo:hi], y[lo:hi], x[lo:hi], n, beta) })
	}
	wg.Wait()
	for p := range serial {
		if serial[p] != parallel[p] {
			t.Fatalf("pixel %d: concurrent %v, serial %v", p, parallel[p], serial[p])
		}
	}
}

func TestNewHQSErrors(t *testing.T) {
	k, err := Named("shake")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewHQS[float32](k, 8, 28); err == nil {
		t.Error("8×28 images accepted for a 9×9 kernel")
	}
	bad := Kernel{Name: "even", K: 2, W: make([]float64, 4)}
	if _, err := NewHQS[float64](bad, 28, 28); err == nil {
		t.Error("an even kernel accepted")
	}
	nan := Kernel{Name: "nan", K: 1, W: []float64{math.NaN()}}
	if _, err := NewHQS[float64](nan, 28, 28); err == nil {
		t.Error("a NaN weight accepted")
	}
	if s, err := NewHQS[float32](k, 28, 28); err != nil {
		t.Error(err)
	} else if h, w := s.Size(); h != 28 || w != 28 {
		t.Errorf("Size() = %d×%d", h, w)
	}
}

// gonumRoundTrip is the 2-D transform by gonum's FFTs (rows by a real
// FFT, then columns), forward and back: the alternative realDFT was
// measured against.
type gonumRoundTrip struct {
	h, w int
	rows *fourier.FFT
	cols *fourier.CmplxFFT
	spec []complex128
	col  []complex128
}

func (g *gonumRoundTrip) run(x []float64) {
	h, w, wc := g.h, g.w, g.w/2+1
	for r := range h {
		g.rows.Coefficients(g.spec[r*wc:(r+1)*wc], x[r*w:(r+1)*w])
	}
	for inverse := range 2 {
		for fx := range wc {
			for r := range h {
				g.col[r] = g.spec[r*wc+fx]
			}
			if inverse == 0 {
				g.cols.Coefficients(g.col, g.col)
			} else {
				g.cols.Sequence(g.col, g.col)
			}
			for r := range h {
				g.spec[r*wc+fx] = g.col[r]
			}
		}
	}
	scale := 1 / float64(h*w)
	for r := range h {
		row := x[r*w : (r+1)*w]
		g.rows.Sequence(row, g.spec[r*wc:(r+1)*wc])
		for j := range row {
			row[j] *= scale
		}
	}
}

// BenchmarkTransform28 times one forward and one inverse 2-D transform of
// a 28×28 image: realDFT (what HQS uses) against gonum's FFTs.
func BenchmarkTransform28(b *testing.B) {
	const h, w = 28, 28
	x := randomImages(rand.New(rand.NewPCG(30, 31)), h*w)
	b.Run("realDFT", func(b *testing.B) {
		d := newRealDFT(h, w)
		wk := d.newWork()
		re, im := make([]float64, h*(w/2+1)), make([]float64, h*(w/2+1))
		for b.Loop() {
			d.forward(re, im, x, wk)
			d.inverse(x, re, im, wk)
		}
	})
	b.Run("gonumFFT", func(b *testing.B) {
		g := &gonumRoundTrip{h: h, w: w, rows: fourier.NewFFT(w), cols: fourier.NewCmplxFFT(h),
			spec: make([]complex128, h*(w/2+1)), col: make([]complex128, h)}
		for b.Loop() {
			g.run(x)
		}
	})
}

func BenchmarkHQS(b *testing.B) {
	const n, h, w, beta = 64, 28, 28, 0.25
	k, _ := Named("shake")
	s, _ := NewHQS[float32](k, h, w)
	y, x, v, z := make([]float32, n*h*w), make([]float32, n*h*w), make([]float32, n*h*w), make([]float32, n*h*w)
	gy, gx, gb := make([]float32, n*h*w), make([]float32, n*h*w), make([]float64, n)
	b.Run("Step", func(b *testing.B) {
		for b.Loop() {
			s.Step(z, y, x, n, beta)
		}
	})
	b.Run("VJP", func(b *testing.B) {
		for b.Loop() {
			s.VJP(gy, gx, gb, v, y, z, n, beta)
		}
	})
}
