package datasets

import (
	"encoding/binary"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/gonum/dsp/fourier"
	"gonum.org/v1/gonum/mat"
)

var _ trainDataset = (*NavierStokesSet)(nil)

// naiveNS recomputes the discrete operators with a naive DFT on the full
// s×s spectrum, none of the solver's code (no FFT, no packing, no
// two-fields-per-transform): the independent check of residuals.
type naiveNS struct {
	s, k int
	nu   float64
	// e[j·s+a] = e^{−2πi·j·a/s}
	e []complex128
}

func newNaiveNS(s int, nu float64) *naiveNS {
	n := &naiveNS{s: s, k: (s - 1) / 3, nu: nu, e: make([]complex128, s*s)}
	for j := range s {
		for a := range s {
			n.e[j*s+a] = cmplx.Rect(1, -2*math.Pi*float64(j*a%s)/float64(s))
		}
	}
	return n
}

// freq returns the signed wavenumber of index a.
func (n *naiveNS) freq(a int) int {
	if a > n.s/2 {
		return a - n.s
	}
	return a
}

// kept reports whether mode (a, b) survives the 2/3 rule.
func (n *naiveNS) kept(a, b int) bool {
	return nsAbs(n.freq(a)) <= n.k && nsAbs(n.freq(b)) <= n.k && !(a == 0 && b == 0)
}

func nsAbs(a int) int { return max(a, -a) }

// dft returns c[a·s+b] = (1/s²) Σ v[i·s+j] e^{−2πi(ai+bj)/s}, separably.
func (n *naiveNS) dft(v []float64) []complex128 {
	s := n.s
	t := make([]complex128, s*s) // over j first
	for i := range s {
		for b := range s {
			var acc complex128
			for j := range s {
				acc += complex(v[i*s+j], 0) * n.e[j*s+b]
			}
			t[i*s+b] = acc
		}
	}
	c := make([]complex128, s*s)
	for a := range s {
		for b := range s {
			var acc complex128
			for i := range s {
				acc += t[i*s+b] * n.e[i*s+a]
			}
			c[a*s+b] = acc / complex(float64(s*s), 0)
		}
	}
	return c
}

// idft returns the real part of v[i·s+j] = Σ c[a·s+b] e^{+2πi(ai+bj)/s}.
func (n *naiveNS) idft(c []complex128) []float64 {
	s := n.s
	t := make([]complex128, s*s)
	for a := range s {
		for j := range s {
			var acc complex128
			for b := range s {
				acc += c[a*s+b] * cmplx.Conj(n.e[j*s+b])
			}
			t[a*s+j] = acc
		}
	}
	v := make([]float64, s*s)
	for i := range s {
		for j := range s {
			var acc complex128
			for a := range s {
				acc += t[a*s+j] * cmplx.Conj(n.e[i*s+a])
			}
			v[i*s+j] = real(acc)
		}
	}
	return v
}

// truncate zeroes the modes the 2/3 rule drops and the mean.
func (n *naiveNS) truncate(c []complex128) []complex128 {
	for a := range n.s {
		for b := range n.s {
			if !n.kept(a, b) {
				c[a*n.s+b] = 0
			}
		}
	}
	return c
}

// mul returns the grid field with coefficients m(kx, ky)·c.
func (n *naiveNS) mul(c []complex128, m func(kx, ky float64) complex128) []float64 {
	d := make([]complex128, len(c))
	for a := range n.s {
		for b := range n.s {
			d[a*n.s+b] = m(float64(n.freq(a)), float64(n.freq(b))) * c[a*n.s+b]
		}
	}
	return n.idft(d)
}

// steady returns the coefficients of A(ω) = P[u·∇ω] − νΔω on the full
// spectrum, zero on the dropped modes, from the definition.
func (n *naiveNS) steady(omega []float64) []complex128 {
	p := n.s * n.s
	w := n.truncate(n.dft(omega))
	ik := func(k float64) complex128 { return complex(0, k) }
	inv := func(kx, ky float64) complex128 {
		if kx == 0 && ky == 0 {
			return 0
		}
		return complex(1/(kx*kx+ky*ky), 0)
	}
	u := n.mul(w, func(kx, ky float64) complex128 { return ik(ky) * inv(kx, ky) })
	v := n.mul(w, func(kx, ky float64) complex128 { return -ik(kx) * inv(kx, ky) })
	wx := n.mul(w, func(kx, ky float64) complex128 { return ik(kx) })
	wy := n.mul(w, func(kx, ky float64) complex128 { return ik(ky) })
	adv := make([]float64, p)
	for i := range adv {
		adv[i] = u[i]*wx[i] + v[i]*wy[i]
	}
	a := n.truncate(n.dft(adv))
	for ai := range n.s {
		for bi := range n.s {
			kx, ky := float64(n.freq(ai)), float64(n.freq(bi))
			a[ai*n.s+bi] += complex(n.nu*(kx*kx+ky*ky), 0) * w[ai*n.s+bi]
		}
	}
	return a
}

// curl returns the coefficients of P curl f = P(∂f_y/∂x − ∂f_x/∂y).
func (n *naiveNS) curl(f []float64) []complex128 {
	p := n.s * n.s
	fx, fy := n.dft(f[:p]), n.dft(f[p:])
	c := make([]complex128, p)
	for ai := range n.s {
		for bi := range n.s {
			q := ai*n.s + bi
			kx, ky := float64(n.freq(ai)), float64(n.freq(bi))
			c[q] = complex(0, kx)*fy[q] - complex(0, ky)*fx[q]
		}
	}
	return n.truncate(c)
}

// norm returns the discrete L2 norm of full-spectrum coefficients.
func (n *naiveNS) norm(c []complex128) float64 {
	var s float64
	for _, v := range c {
		s += real(v)*real(v) + imag(v)*imag(v)
	}
	return math.Sqrt(s)
}

// residual returns ‖A(ω) − P curl f‖/‖P curl f‖, norms by Parseval.
func (n *naiveNS) residual(f, omega []float64) float64 {
	a, g := n.steady(omega), n.curl(f)
	for q := range a {
		a[q] -= g[q]
	}
	return n.norm(a) / n.norm(g)
}

// nsRelDiff returns ‖a − b‖/‖b‖ over the values.
func nsRelDiff(a, b []float64) float64 {
	var d, n float64
	for i := range a {
		d += (a[i] - b[i]) * (a[i] - b[i])
		n += b[i] * b[i]
	}
	return math.Sqrt(d / n)
}

// nsOnGrid evaluates g at the s×s points (2πi/s, 2πj/s).
func nsOnGrid(s int, g func(x, y float64) float64) []float64 {
	v := make([]float64, s*s)
	for i := range s {
		for j := range s {
			v[i*s+j] = g(2*math.Pi*float64(i)/float64(s), 2*math.Pi*float64(j)/float64(s))
		}
	}
	return v
}

func TestNavierStokesFFT(t *testing.T) {
	// 1-D: the radix-2 transform against gonum and both against a naive
	// DFT; 12 is not a power of two, so it takes the gonum path.
	for _, n := range []int{2, 8, 12, 32, 64} {
		rng := rand.New(rand.NewPCG(1, uint64(n)))
		x := make([]complex128, n)
		for i := range x {
			x[i] = complex(rng.NormFloat64(), rng.NormFloat64())
		}
		naive := make([]complex128, n)
		for k := range n {
			for j, v := range x {
				naive[k] += v * cmplx.Rect(1, -2*math.Pi*float64(j*k%n)/float64(n))
			}
		}
		gon := fourier.NewCmplxFFT(n).Coefficients(nil, x)
		own := slices.Clone(x)
		newNSFFT1(n).forward(own)
		back := slices.Clone(own)
		newNSFFT1(n).inverse(back)
		var eNaive, eGonum, eBack float64
		for k := range n {
			eNaive = max(eNaive, cmplx.Abs(own[k]-naive[k]))
			eGonum = max(eGonum, cmplx.Abs(own[k]-gon[k]))
			eBack = max(eBack, cmplx.Abs(back[k]/complex(float64(n), 0)-x[k]))
		}
		if eNaive > 1e-12*float64(n) || eGonum > 1e-12*float64(n) || eBack > 1e-14*float64(n) {
			t.Errorf("n = %d: max error %.1e vs naive DFT, %.1e vs gonum, %.1e round trip", n, eNaive, eGonum, eBack)
		}
	}

	// 2-D: packed coefficients against the naive DFT, and the round trip
	// of a band-limited pair of fields.
	for _, s := range []int{12, 32} {
		sp := newNSSpectral(s)
		nv := newNaiveNS(s, 0)
		rng := rand.New(rand.NewPCG(2, uint64(s)))
		a, b := make([]float64, s*s), make([]float64, s*s)
		for i := range a {
			a[i], b[i] = rng.NormFloat64(), rng.NormFloat64()
		}
		pa, pb := make([]complex128, sp.m), make([]complex128, sp.m)
		sp.toSpec(pa, pb, a, b)
		ca, cb := nv.dft(a), nv.dft(b)
		var e float64
		for kx := -sp.k; kx <= sp.k; kx++ {
			for ky := 0; ky <= sp.k; ky++ {
				q := ((kx+s)%s)*s + ky
				p := sp.index(kx, ky)
				e = max(e, cmplx.Abs(pa[p]-ca[q]), cmplx.Abs(pb[p]-cb[q]))
			}
		}
		if e > 1e-14 {
			t.Errorf("s = %d: packed coefficients differ from the naive DFT by %.1e", s, e)
		}
		// pa, pb are band-limited: back to the grid and forth again.
		ga, gb := make([]float64, s*s), make([]float64, s*s)
		sp.toGrid(ga, gb, pa, nil, pb, nil)
		qa, qb := make([]complex128, sp.m), make([]complex128, sp.m)
		sp.toSpec(qa, qb, ga, gb)
		e = 0
		for p := range qa {
			e = max(e, cmplx.Abs(qa[p]-pa[p]), cmplx.Abs(qb[p]-pb[p]))
		}
		if e > 1e-15 {
			t.Errorf("s = %d: grid round trip of a band-limited pair moved coefficients by %.1e", s, e)
		}
		// Parseval: the packed dot is the grid mean of the product.
		var mean float64
		for i := range ga {
			mean += ga[i] * gb[i] / float64(s*s)
		}
		pa[sp.zero()], pb[sp.zero()] = 0, 0 // dot leaves out the mean mode
		var ma, mb float64
		for i := range ga {
			ma, mb = ma+ga[i]/float64(s*s), mb+gb[i]/float64(s*s)
		}
		if d := sp.dot(pa, pb) - (mean - ma*mb); math.Abs(d) > 1e-14 {
			t.Errorf("s = %d: Parseval off by %.1e", s, d)
		}
	}
}

func TestNavierStokesSpectralDerivative(t *testing.T) {
	const s = 32
	g, err := NewNavierStokesGrid(NavierStokesConfig{S: s})
	if err != nil {
		t.Fatal(err)
	}
	// ω = sin(2x)cos(3y): ψ = ω/13, u = ∂ψ/∂y, v = −∂ψ/∂x, exact on the
	// grid up to rounding.
	omega := nsOnGrid(s, func(x, y float64) float64 { return math.Sin(2*x) * math.Cos(3*y) })
	u, err := g.Velocity(omega)
	if err != nil {
		t.Fatal(err)
	}
	wantU := nsOnGrid(s, func(x, y float64) float64 { return -3 * math.Sin(2*x) * math.Sin(3*y) / 13 })
	wantV := nsOnGrid(s, func(x, y float64) float64 { return -2 * math.Cos(2*x) * math.Cos(3*y) / 13 })
	if e := max(nsRelDiff(u[:s*s], wantU), nsRelDiff(u[s*s:], wantV)); e > 1e-14 {
		t.Errorf("velocity of sin(2x)cos(3y): relative error %.1e", e)
	}
	// A smooth field that is not band-limited: curl (0, e^{sin x}) =
	// cos(x)e^{sin x}, spectrally accurate: e^{sin x} has coefficients
	// I_k(1), so the first dropped mode of the derivative, k = 11,
	// carries about 11·I₁₁(1)·√2 ≈ 2e-10 of it.
	f := make([]float64, 2*s*s)
	copy(f[s*s:], nsOnGrid(s, func(x, y float64) float64 { return math.Exp(math.Sin(x)) }))
	c, err := g.Curl(f)
	if err != nil {
		t.Fatal(err)
	}
	want := nsOnGrid(s, func(x, y float64) float64 { return math.Cos(x) * math.Exp(math.Sin(x)) })
	if e := nsRelDiff(c, want); e > 1e-9 {
		t.Errorf("curl of (0, e^{sin x}): relative error %.1e", e)
	}
	t.Logf("velocity exact to rounding; curl of (0, e^{sin x}) to %.1e", nsRelDiff(c, want))
}

func TestNavierStokesResidualOfKeptSamples(t *testing.T) {
	d, err := GenerateNavierStokes(NavierStokesConfig{}, 3, 6)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(d.Stats)
	nv := newNaiveNS(d.S, d.Config.Nu)
	g := d.Grid()
	worst := 0.0
	defer func() { t.Logf("largest residual by the naive DFT: %.2e", worst) }()
	for k := range d.N {
		f, w := d.Forcing(k), d.Vorticity(k)
		r := nv.residual(f, w)
		worst = max(worst, r)
		own, err := g.Residual(f, w)
		if err != nil {
			t.Fatal(err)
		}
		if !(r <= 1e-8) || !(own <= 1e-8) || math.Abs(r-d.Residual[k]) > 1e-12 {
			t.Errorf("sample %d: residual %.2e (naive DFT), %.2e (Residual), %.2e stored; want ≤ 1e-8 and agreeing", k, r, own, d.Residual[k])
		}
		// Every target is resolved: projecting changes nothing.
		p, err := g.Project(w)
		if err != nil {
			t.Fatal(err)
		}
		if e := nsRelDiff(p, w); e > 1e-14 {
			t.Errorf("sample %d: ω has %.1e of its norm outside the resolved modes", k, e)
		}
	}
	// Put the bug back: a tenth of a percent more viscosity fails the check.
	bad := newNaiveNS(d.S, d.Config.Nu*1.001)
	if r := bad.residual(d.Forcing(0), d.Vorticity(0)); r < 1e-6 {
		t.Errorf("residual with a wrong ν is %.1e; the check cannot tell", r)
	}
}

// nsManufactured is a smooth vorticity of a few modes, of the size of
// the data set's (rms about 0.05).
func nsManufactured(s int) []float64 {
	return nsOnGrid(s, func(x, y float64) float64 {
		return 0.04*math.Sin(x+0.3)*math.Cos(2*y) + 0.03*math.Cos(3*x-y) + 0.02*math.Sin(2*x+3*y+1)
	})
}

func TestNavierStokesManufactured(t *testing.T) {
	const s = 32
	g, err := NewNavierStokesGrid(NavierStokesConfig{S: s})
	if err != nil {
		t.Fatal(err)
	}
	want := nsManufactured(s)
	f, err := g.SteadyForcing(want)
	if err != nil {
		t.Fatal(err)
	}
	nv := newNaiveNS(s, g.Config().Nu)
	if r := nv.residual(f, want); r > 1e-13 {
		t.Errorf("ω_m has residual %.1e for its own forcing (naive DFT check)", r)
	}
	// f is divergence-free: ∂f_x/∂x + ∂f_y/∂y = 0, from the naive DFT.
	fx, fy := nv.dft(f[:s*s]), nv.dft(f[s*s:])
	var div, size float64
	for a := range s {
		for b := range s {
			q := a*s + b
			dv := complex(0, float64(nv.freq(a)))*fx[q] + complex(0, float64(nv.freq(b)))*fy[q]
			div += real(dv)*real(dv) + imag(dv)*imag(dv)
			size += real(fx[q])*real(fx[q]) + imag(fx[q])*imag(fx[q])
		}
	}
	if math.Sqrt(div/size) > 1e-13 {
		t.Errorf("the manufactured forcing has divergence %.1e of its size", math.Sqrt(div/size))
	}
	for _, c := range []struct {
		name  string
		start []float64
	}{
		{"from rest", nil},
		{"from −ω_m", func() []float64 {
			v := slices.Clone(want)
			for i := range v {
				v[i] = -v[i]
			}
			return v
		}()},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, st, err := g.Solve(f, c.start)
			if err != nil {
				t.Fatal(err)
			}
			e := nsRelDiff(got, want)
			t.Logf("recovered ω_m to %.1e relative after %d steps, %d products, residual %.1e", e, st.Steps, st.Products, st.Residual)
			if e > 1e-9 {
				t.Errorf("solution differs from ω_m by %.1e relative", e)
			}
		})
	}
}

func TestNavierStokesRefinement(t *testing.T) {
	// The same forcing (the draw does not depend on S) on 16², 32² and
	// 64², compared on the coarse points: spectral accuracy means the
	// error drops by orders of magnitude per doubling, not by 4.
	rng := func() *rand.Rand { return rand.New(rand.NewPCG(5, 0)) }
	solve := func(s int) []float64 {
		cfg := NavierStokesConfig{S: s}
		f, err := SampleNavierStokesForcing(cfg, rng())
		if err != nil {
			t.Fatal(err)
		}
		g, err := NewNavierStokesGrid(cfg)
		if err != nil {
			t.Fatal(err)
		}
		w, _, err := g.Solve(f, nil)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	fine := solve(64)
	coarse := func(w []float64, s int) []float64 {
		step := 64 / s
		out := make([]float64, s*s)
		for i := range s {
			for j := range s {
				out[i*s+j] = w[i*step*64+j*step]
			}
		}
		return out
	}
	e16 := nsRelDiff(solve(16), coarse(fine, 16))
	e32 := nsRelDiff(solve(32), coarse(fine, 32))
	t.Logf("relative difference from 64²: %.2e at 16², %.2e at 32²", e16, e32)
	// A second-order scheme would gain a factor 4 per doubling, a
	// fourth-order one 16; the solution's spectrum falls exponentially,
	// and so does the error of its truncation (K = 5, 10).
	if e32 > 1e-5 || e32 > e16/100 {
		t.Errorf("32² differs from 64² by %.1e (16²: %.1e); want below 1e-5 and 100 times below 16²", e32, e16)
	}
}

func TestNavierStokesForcingPerturbation(t *testing.T) {
	cfg := NavierStokesConfig{}
	d, err := GenerateNavierStokes(cfg, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	g := d.Grid()
	s := d.S
	f, w0 := d.Forcing(0), d.Vorticity(0)
	// δω: a smooth, resolved field about a sixth of ω₀'s size, not
	// symmetric in x and y, so that a swapped sign or component shows.
	dw := nsOnGrid(s, func(x, y float64) float64 { return 0.01*math.Cos(x-2*y) + 0.005*math.Sin(3*x+0.5) })
	df, err := g.ForcingPerturbation(w0, dw)
	if err != nil {
		t.Fatal(err)
	}
	// curl δf is the derivative of A(ω) = P[u·∇ω] − νΔω along δω,
	// computed independently by a central difference of the naive
	// operator: A is quadratic, so the difference is exact up to rounding.
	nv := newNaiveNS(s, d.Config.Nu)
	const h = 1e-3
	plus, minus := slices.Clone(w0), slices.Clone(w0)
	for i := range plus {
		plus[i] += h * dw[i]
		minus[i] -= h * dw[i]
	}
	ap, am, c := nv.steady(plus), nv.steady(minus), nv.curl(df)
	for q := range c {
		c[q] -= (ap[q] - am[q]) / (2 * h)
	}
	e := nv.norm(c) / nv.norm(nv.curl(df))
	t.Logf("curl δf matches the linearised operator to %.1e", e)
	if e > 1e-10 {
		t.Errorf("curl δf differs from the linearised steady operator applied to δω by %.1e relative", e)
	}
	errAt := func(eps float64) float64 {
		fe := slices.Clone(f)
		for i := range fe {
			fe[i] += eps * df[i]
		}
		if r := nv.residual(fe, w0); !(r > 0) {
			t.Fatalf("ε = %g: the perturbed forcing leaves ω₀ steady", eps)
		}
		we, _, err := g.Solve(fe, w0)
		if err != nil {
			t.Fatal(err)
		}
		// ‖ω(f + εδf) − ω₀ − εδω‖ / ‖εδω‖.
		res := make([]float64, len(we))
		for i := range we {
			res[i] = (we[i] - w0[i]) / eps
		}
		return nsRelDiff(res, dw)
	}
	for _, eps := range []float64{0.1, -0.1} {
		e1, e2 := errAt(eps), errAt(eps/2)
		t.Logf("ε = %g: first-order error %.2e, at ε/2 %.2e (ratio %.2f)", eps, e1, e2, e1/e2)
		// First order: the error of the linear prediction is O(ε), so
		// halving ε halves the relative error; a wrong sign or mapping
		// would give an O(1) error that does not shrink.
		if e1 > 0.05 || e2 > 0.6*e1 || e2 < 0.4*e1 {
			t.Errorf("ε = %g: relative error %.2e, %.2e at ε/2; want small and halving", eps, e1, e2)
		}
	}
	// The opposite direction: −δω needs −δf (linearity).
	neg := slices.Clone(dw)
	for i := range neg {
		neg[i] = -neg[i]
	}
	dfNeg, err := d.ForcingPerturbation(0, neg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range df {
		if math.Abs(dfNeg[i]+df[i]) > 1e-15 {
			t.Fatalf("δf(−δω)[%d] = %g; want −δf(δω) = %g", i, dfNeg[i], -df[i])
		}
	}
}

// nsGrowthRate returns the largest real part of the eigenvalues of −J at
// the packed state w: positive when w is an unstable steady state. J is
// assembled column by column from jvp on the real degrees of freedom:
// the real and imaginary parts of the modes with ky > 0, or ky = 0 and
// kx > 0 (the others are their conjugates).
func nsGrowthRate(op *nsOperator, w []complex128) float64 {
	sp := op.sp
	type dof struct {
		p, conj int
		im      bool
	}
	var dofs []dof
	for kx := -sp.k; kx <= sp.k; kx++ {
		for ky := 0; ky <= sp.k; ky++ {
			if ky == 0 && kx <= 0 {
				continue
			}
			c := -1
			if ky == 0 {
				c = sp.index(-kx, 0)
			}
			dofs = append(dofs, dof{sp.index(kx, ky), c, false}, dof{sp.index(kx, ky), c, true})
		}
	}
	a := mat.NewDense(len(dofs), len(dofs), nil)
	op.setBase(w)
	v, out := make([]complex128, sp.m), make([]complex128, sp.m)
	for j, d := range dofs {
		clear(v)
		e := complex(1, 0)
		if d.im {
			e = complex(0, 1)
		}
		v[d.p] = e
		if d.conj >= 0 {
			v[d.conj] = cmplx.Conj(e)
		}
		op.jvp(out, v)
		for i, r := range dofs {
			x := real(out[r.p])
			if r.im {
				x = imag(out[r.p])
			}
			a.Set(i, j, -x)
		}
	}
	var eig mat.Eigen
	if !eig.Factorize(a, mat.EigenNone) {
		return math.NaN()
	}
	rate := math.Inf(-1)
	for _, l := range eig.Values(nil) {
		rate = max(rate, real(l))
	}
	return rate
}

func TestNavierStokesSamplesStable(t *testing.T) {
	// The solver's early steps are large backward-Euler steps from rest,
	// which damp the way to unstable states; at the default amplitude
	// the states it finds are attracting. (At twice the amplitude about
	// 1 draw in 200 ends on an unstable one.)
	d, err := GenerateNavierStokes(NavierStokesConfig{}, 7, 3)
	if err != nil {
		t.Fatal(err)
	}
	g := d.Grid()
	for k := range d.N {
		rate := nsGrowthRate(g.op, g.specScalar(d.Vorticity(k)))
		t.Logf("sample %d: slowest decay rate %.2e", k, -rate)
		if !(rate < 0) {
			t.Errorf("sample %d is a linearly unstable steady state: growth rate %.2e", k, rate)
		}
	}
	// Put the bug back: the same check sees the instability of laminar
	// Kolmogorov flow u = U·sin(4y)·e_x, U = A/(16ν), at Re = U/(4ν) ≈ 3;
	// it is unstable above Re = √2 to perturbations much longer than its
	// wavelength (Meshalkin and Sinai 1961), and the box holds four
	// wavelengths.
	cfg, _ := NavierStokesConfig{Perturbation: -1, Amplitude: 0.02}.resolved()
	gk := newNavierStokesGrid(cfg)
	f, err := SampleNavierStokesForcing(cfg, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	// ω = −4U cos(4y), steady for any A.
	lam := nsOnGrid(cfg.S, func(x, y float64) float64 { return -cfg.Amplitude / (4 * cfg.Nu) * math.Cos(4*y) })
	if r, _ := gk.Residual(f, lam); r > 1e-13 {
		t.Fatalf("laminar Kolmogorov flow has residual %.1e", r)
	}
	rate := nsGrowthRate(gk.op, gk.specScalar(lam))
	t.Logf("laminar Kolmogorov flow at Re = %.2f: growth rate %.2e", cfg.Amplitude/(64*cfg.Nu*cfg.Nu), rate)
	if !(rate > 0) {
		t.Errorf("laminar Kolmogorov flow at Re = %.2f: growth rate %.2e; want unstable", cfg.Amplitude/(64*cfg.Nu*cfg.Nu), rate)
	}
}

func TestNavierStokesCache(t *testing.T) {
	dir := t.TempDir()
	cfg := NavierStokesConfig{S: 16}
	want, err := GenerateNavierStokes(cfg, 9, 3)
	if err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, d *NavierStokesSet) {
		t.Helper()
		if d.S != 16 || d.N != 3 || !slices.Equal(d.F, want.F) || !slices.Equal(d.Omega, want.Omega) ||
			!slices.Equal(d.Draw, want.Draw) || !slices.Equal(d.Residual, want.Residual) {
			t.Error("loaded set differs from the generated one")
		}
		ws, ds := want.Stats, d.Stats
		ws.Seconds, ds.Seconds = 0, 0
		if ws != ds {
			t.Errorf("loaded stats %+v; want %+v", ds, ws)
		}
	}
	d, err := LoadNavierStokes(dir, cfg, 9, 3)
	if err != nil {
		t.Fatal(err)
	}
	check(t, d)
	files, _ := filepath.Glob(filepath.Join(dir, "navier-stokes-*"))
	if len(files) != 1 {
		t.Fatalf("cache holds %v; want one file", files)
	}
	path := files[0]
	for _, part := range []string{"v1", "s16", "nu0.01", "a0.001", "kf4", "m3", "p1", "tol1e-10", "steps60", "seed9", "from0", "n3"} {
		if !strings.Contains(filepath.Base(path), part) {
			t.Errorf("file name %s lacks %q", filepath.Base(path), part)
		}
	}
	rcfg, _ := cfg.resolved()
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := readNavierStokesFile(path, rcfg, 9, 0, 3); err != nil {
		t.Fatalf("the file just written does not read back: %v", err)
	} else {
		check(t, d)
	}

	// Other settings give other names.
	for _, other := range []NavierStokesConfig{{S: 32}, {S: 16, Nu: 0.02}, {S: 16, Amplitude: 0.002}, {S: 16, ForceK: 2},
		{S: 16, Modes: 2}, {S: 16, Perturbation: 0.5}, {S: 16, Perturbation: -1}, {S: 16, Tol: 1e-9}, {S: 16, MaxSteps: 10}} {
		ocfg, err := other.resolved()
		if err != nil {
			t.Fatal(err)
		}
		if nsFileName(ocfg, 9, 0, 3) == filepath.Base(path) {
			t.Errorf("%+v shares the file name %s", other, filepath.Base(path))
		}
	}
	if nsFileName(rcfg, 10, 0, 3) == filepath.Base(path) || nsFileName(rcfg, 9, NavierStokesTestFirst, 3) == filepath.Base(path) {
		t.Error("another seed or first draw shares the file name")
	}

	// A file for other settings, with a valid checksum, under this name.
	foreign, err := GenerateNavierStokes(NavierStokesConfig{S: 16, Amplitude: 0.0011}, 9, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"flipped bit", func() []byte { b := slices.Clone(good); b[len(b)/2] ^= 1; return b }()},
		{"truncated", good[:len(good)-1]},
		{"empty", nil},
		{"other settings", encodeNavierStokes(foreign)},
		{"another format version", nsOtherVersion(t, good, rcfg, 9, 3)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := os.WriteFile(path, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := readNavierStokesFile(path, rcfg, 9, 0, 3)
			if err == nil || !strings.Contains(err.Error(), path) && !os.IsNotExist(err) {
				t.Fatalf("reading a bad file: %v; want an error naming %s", err, path)
			}
			d, err := LoadNavierStokes(dir, cfg, 9, 3)
			if err != nil {
				t.Fatal(err)
			}
			check(t, d)
			if b, _ := os.ReadFile(path); !slices.Equal(b, good) {
				t.Error("the bad file was not replaced by a good one")
			}
		})
	}
	// A folder that cannot be written is an error that says so.
	ro := filepath.Join(dir, "file-not-folder")
	if err := os.WriteFile(ro, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadNavierStokes(ro, cfg, 9, 3); err == nil || !strings.HasPrefix(err.Error(), "datasets: ") {
		t.Errorf("cache folder that is a file: %v; want a datasets error", err)
	}
}

// nsOtherVersion re-encodes the good file's arrays under a header that
// differs only in its format version, with a valid checksum: what a file
// of an older (or newer) generator looks like under this name.
func nsOtherVersion(t *testing.T, good []byte, cfg NavierStokesConfig, seed uint64, n int) []byte {
	t.Helper()
	header := nsHeader(cfg, seed, 0, n)
	arrs, err := decodeBlob(good, "good", header, nsLens(n, cfg.S*cfg.S)...)
	if err != nil {
		t.Fatal(err)
	}
	other := slices.Clone(header)
	binary.LittleEndian.PutUint32(other[len(nsMagic):], nsFormat+1)
	return encodeBlob(other, arrs...)
}

func TestNavierStokesSplitsAndDeterminism(t *testing.T) {
	dir := t.TempDir()
	cfg := NavierStokesConfig{S: 16}
	train, test, err := NavierStokesSplits(dir, cfg, 4, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 3 || test.Len() != 2 || test.First != NavierStokesTestFirst || test.Draw[0] < NavierStokesTestFirst {
		t.Fatalf("splits of %d and %d from draw %d; want 3 and 2 from NavierStokesTestFirst", train.Len(), test.Len(), test.Draw[0])
	}
	if !slices.Equal(train.InputShape(), []int{2, 16, 16}) || !slices.Equal(test.TargetShape(), []int{1, 16, 16}) {
		t.Errorf("shapes %v, %v; want {2, S, S} and {1, S, S}", train.InputShape(), test.TargetShape())
	}
	for i := range train.N {
		for j := range test.N {
			if slices.Equal(train.Forcing(i), test.Forcing(j)) {
				t.Errorf("train sample %d equals test sample %d", i, j)
			}
		}
	}
	_, test2, err := NavierStokesSplits(dir, cfg, 4, 5, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(test.F, test2.F) || !slices.Equal(test.Omega, test2.Omega) {
		t.Error("the test set changed with the size of the training set")
	}
	// One worker instead of all, and a longer set: the same samples.
	procs := runtime.GOMAXPROCS(1)
	one, err := GenerateNavierStokes(cfg, 4, 2)
	runtime.GOMAXPROCS(procs)
	if err != nil {
		t.Fatal(err)
	}
	p := 16 * 16
	if !slices.Equal(one.F, train.F[:2*2*p]) || !slices.Equal(one.Omega, train.Omega[:2*p]) {
		t.Error("the first 2 of 3 samples differ from a set of 2 made on one core: sample k must depend on (seed, draw) only")
	}
	other, err := GenerateNavierStokes(cfg, 5, 2)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(other.F, one.F) {
		t.Error("seeds 4 and 5 gave the same forcings")
	}
}

func TestNavierStokesRejections(t *testing.T) {
	// At twice the default amplitude draws need 6 to 12 steps, so a
	// budget of 7 rejects about half of them; the kept ones are exactly
	// the solves of the same draws with the default budget, since the
	// iteration does not depend on it.
	tight, err := GenerateNavierStokes(NavierStokesConfig{S: 16, Amplitude: 0.002, MaxSteps: 7}, 2, 6)
	if err != nil {
		t.Fatal(err)
	}
	st := tight.Stats
	t.Log(st)
	if st.NotConverged == 0 || st.Kept != 6 || st.Drawn != st.Kept+st.Rejected() || st.Unverified != 0 {
		t.Fatalf("stats %v; want some rejected, 6 kept, the counts adding up", st)
	}
	if last := tight.Draw[len(tight.Draw)-1]; last != uint64(st.Drawn-1) {
		t.Errorf("last kept draw %d after %d draws; the set must end at its last kept draw", last, st.Drawn)
	}
	all, err := GenerateNavierStokes(NavierStokesConfig{S: 16, Amplitude: 0.002}, 2, st.Drawn)
	if err != nil {
		t.Fatal(err)
	}
	p := 16 * 16
	for k, dr := range tight.Draw {
		if !slices.Equal(tight.Vorticity(k), all.Omega[int(dr)*p:int(dr+1)*p]) {
			t.Errorf("kept sample %d (draw %d) differs from the same draw solved without a tight budget", k, dr)
		}
	}
	// A budget no draw meets is an error, not an endless loop.
	_, err = GenerateNavierStokes(NavierStokesConfig{S: 16, MaxSteps: 1}, 2, 3)
	if err == nil || !strings.Contains(err.Error(), "fewer than 1 in 10") {
		t.Errorf("MaxSteps 1: %v; want an error saying almost every draw is rejected", err)
	}
}

func TestNavierStokesConfigErrors(t *testing.T) {
	for _, c := range []struct {
		cfg  NavierStokesConfig
		want string
	}{
		{NavierStokesConfig{S: 4}, "S = 4"},
		{NavierStokesConfig{S: 2048}, "S = 2048"},
		{NavierStokesConfig{Nu: -0.01}, "Nu = -0.01"},
		{NavierStokesConfig{Nu: math.Inf(1)}, "Nu = +Inf"},
		{NavierStokesConfig{Amplitude: math.NaN()}, "Amplitude = NaN"},
		{NavierStokesConfig{ForceK: 11}, "ForceK = 11"},
		{NavierStokesConfig{S: 8, ForceK: 3}, "ForceK = 3"},
		{NavierStokesConfig{Modes: -1}, "Modes = -1"},
		{NavierStokesConfig{Perturbation: math.Inf(1)}, "Perturbation = +Inf"},
		{NavierStokesConfig{Tol: 1e-7}, "Tol = 1e-07"},
		{NavierStokesConfig{MaxSteps: -2}, "MaxSteps = -2"},
	} {
		t.Run(c.want, func(t *testing.T) {
			_, err := NewNavierStokesGrid(c.cfg)
			if err == nil || !strings.HasPrefix(err.Error(), "datasets: ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("NewNavierStokesGrid: %v; want an error saying %q", err, c.want)
			}
			if _, err := SampleNavierStokesForcing(c.cfg, rand.New(rand.NewPCG(1, 1))); err == nil {
				t.Errorf("SampleNavierStokesForcing accepted %+v", c.cfg)
			}
			if _, err := LoadNavierStokes(t.TempDir(), c.cfg, 1, 1); err == nil {
				t.Errorf("LoadNavierStokes accepted %+v", c.cfg)
			}
		})
	}
	if _, err := SampleNavierStokesForcing(NavierStokesConfig{}, nil); err == nil {
		t.Error("nil rng accepted")
	}
	if _, err := GenerateNavierStokes(NavierStokesConfig{}, 1, -1); err == nil {
		t.Error("n = -1 accepted")
	}
}

func TestNavierStokesGridInputErrors(t *testing.T) {
	g, err := NewNavierStokesGrid(NavierStokesConfig{S: 8, ForceK: 2, Modes: 2})
	if err != nil {
		t.Fatal(err)
	}
	ok1, ok2 := make([]float64, 64), make([]float64, 128)
	nan := slices.Clone(ok2)
	nan[70] = math.NaN()
	for _, c := range []struct {
		name string
		call func() error
		want string
	}{
		{"short forcing", func() error { _, _, err := g.Solve(ok1, nil); return err }, "forcing f has 64 values"},
		{"NaN forcing", func() error { _, err := g.Residual(nan, ok1); return err }, "f[70] = NaN"},
		{"long vorticity", func() error { _, err := g.Velocity(ok2); return err }, "vorticity ω has 128 values"},
		{"short start", func() error { _, _, err := g.Solve(ok2, ok1[:3]); return err }, "start has 3 values"},
		{"short δω", func() error { _, err := g.ForcingPerturbation(ok1, ok2); return err }, "perturbation δω has 128"},
		{"curl of a scalar", func() error { _, err := g.Curl(ok1); return err }, "2·S² = 128"},
		{"project a vector", func() error { _, err := g.Project(ok2); return err }, "S² = 64"},
		{"steady forcing", func() error { _, err := g.SteadyForcing(nil); return err }, "has 0 values"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			if err == nil || !strings.HasPrefix(err.Error(), "datasets: ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%v; want an error saying %q", err, c.want)
			}
		})
	}
	// A zero forcing has the zero steady state, at once.
	w, st, err := g.Solve(ok2, nil)
	if err != nil || st.Steps != 0 || slices.ContainsFunc(w, func(v float64) bool { return v != 0 }) {
		t.Errorf("f = 0 gave %d steps, %v", st.Steps, err)
	}
	d := &NavierStokesSet{S: 8, Config: g.Config()}
	if _, err := d.Velocity(0); err == nil {
		t.Error("Velocity of sample 0 of an empty set accepted")
	}
	if _, err := d.ForcingPerturbation(-1, ok1); err == nil {
		t.Error("ForcingPerturbation of sample −1 accepted")
	}
}

func TestNavierStokesSampleAndNorm(t *testing.T) {
	d, err := GenerateNavierStokes(NavierStokesConfig{S: 16}, 6, 4)
	if err != nil {
		t.Fatal(err)
	}
	p := 16 * 16
	x, y := make([]float32, 2*p), make([]float32, p)
	d.Sample(2, x, y)
	for i := range x {
		if x[i] != float32(d.F[2*2*p+i]) {
			t.Fatal("Sample of an unnormalised set changed the forcing")
		}
	}
	nm := d.Norm()
	if !(nm.FStd > 0 && nm.WStd > 0) {
		t.Fatalf("statistics %+v", nm)
	}
	z := d.Normalized(nm)
	var sx, sy, sxx, syy float64
	for i := range z.N {
		z.Sample(i, x, y)
		for _, v := range x {
			sx, sxx = sx+float64(v), sxx+float64(v)*float64(v)
		}
		for _, v := range y {
			sy, syy = sy+float64(v), syy+float64(v)*float64(v)
		}
	}
	nx, ny := float64(z.N*2*p), float64(z.N*p)
	if math.Abs(sx/nx) > 1e-5 || math.Abs(sy/ny) > 1e-5 || math.Abs(sxx/nx-1) > 1e-4 || math.Abs(syy/ny-1) > 1e-4 {
		t.Errorf("normalised means %g, %g and second moments %g, %g; want 0 and 1", sx/nx, sy/ny, sxx/nx, syy/ny)
	}
	if d.Normalization != (NavierStokesNorm{}) {
		t.Error("Normalized changed the original")
	}
	z.Sample(3, x, y)
	nm.DenormalizeTarget(y)
	for i, v := range y {
		if math.Abs(float64(v)-d.Omega[3*p+i]) > 1e-6*nm.WStd {
			t.Fatalf("DenormalizeTarget at %d: %g; want %g", i, v, d.Omega[3*p+i])
		}
	}
	u, err := d.Velocity(1)
	if err != nil || len(u) != 2*p {
		t.Fatalf("Velocity: %d values, %v", len(u), err)
	}
	if nm := (&NavierStokesSet{}).Norm(); nm != (NavierStokesNorm{0, 1, 0, 1}) {
		t.Errorf("empty set statistics %+v; want means 0, deviations 1", nm)
	}
}

// BenchmarkNavierStokesFFT1 compares the 1-D transforms at the grid
// sizes used: the radix-2 one that newNSFFT1 picks for powers of two,
// gonum's CmplxFFT, and gonum's own radix-2.
func BenchmarkNavierStokesFFT1(b *testing.B) {
	for _, n := range []int{32, 64} {
		x := make([]complex128, n)
		for i := range x {
			x[i] = complex(float64(i), 1)
		}
		own, gon := newNSRadix2(n), fourier.NewCmplxFFT(n)
		for _, c := range []struct {
			name string
			f    func([]complex128)
		}{
			{"radix2", own.forward},
			{"gonum-CmplxFFT", func(x []complex128) { gon.Coefficients(x, x) }},
			{"gonum-CoefficientsRadix2", func(x []complex128) { fourier.CoefficientsRadix2(x) }},
		} {
			b.Run(c.name+"-"+strconv.Itoa(n), func(b *testing.B) {
				for b.Loop() {
					c.f(x)
					for i := range x {
						x[i] *= complex(1/float64(n), 0)
					}
				}
			})
		}
	}
}

// BenchmarkGenerateNavierStokes32 measures generation at the default
// configuration on all cores.
func BenchmarkGenerateNavierStokes32(b *testing.B) { benchmarkGenerateNavierStokes(b, 32) }

func BenchmarkGenerateNavierStokes64(b *testing.B) { benchmarkGenerateNavierStokes(b, 64) }

func benchmarkGenerateNavierStokes(b *testing.B, s int) {
	const n = 50
	for b.Loop() {
		if _, err := GenerateNavierStokes(NavierStokesConfig{S: s}, 1, n); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "samples/s")
}
