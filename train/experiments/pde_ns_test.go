package experiments

import (
	"math"
	"slices"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/layers/fourier"
	"github.com/implicit-ml/implicit/network"
	"github.com/implicit-ml/implicit/train"
)

func TestNsWavenumbers(t *testing.T) {
	// The paper's grid (128², K = 64) gives its list, duplicates dropped.
	if got, want := nsWavenumbers(nsPercentiles, 64), []int{1, 2, 3, 6, 19, 32, 44, 57, 60, 61, 62, 63}; !slices.Equal(got, want) {
		t.Errorf("K = 64: %v, want %v", got, want)
	}
	cfg := datasets.NavierStokesConfig{S: 32}
	if got, want := nsWavenumbers(nsPercentiles, nsKMax(cfg)), []int{1, 3, 5, 7, 9}; !slices.Equal(got, want) {
		t.Errorf("32² (K = %d): %v, want %v", nsKMax(cfg), got, want)
	}
}

// TestNsProbeMovesTheSteadyState: adding the probe's δx to a sample's
// (normalised) forcing moves its steady state by the probe's δω to first
// order — the perturbations are the paper's matching pair, in the
// model's units.
func TestNsProbeMovesTheSteadyState(t *testing.T) {
	cfg := datasets.NavierStokesConfig{S: 16}
	raw, err := datasets.GenerateNavierStokes(cfg, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	nm := raw.Norm()
	set := raw.Normalized(nm)
	const eps = 1e-2
	ks := []int{1, 3}
	probe, ratio, err := nsProbe(set, 2, ks, eps)
	if err != nil {
		t.Fatal(err)
	}
	if probe.N != 2 || len(probe.Deltas) != 2 || !(ratio.Max >= ratio.Mean && ratio.Mean > 0) {
		t.Fatalf("probe of %d samples, %d directions, ratio %+v", probe.N, len(probe.Deltas), ratio)
	}
	grid := raw.Grid()
	p := 16 * 16
	for d, k := range ks {
		for i := range 2 {
			f := slices.Clone(raw.Forcing(i))
			for q := range f {
				f[q] += probe.Deltas[d][i*2*p+q] * nm.FStd
			}
			w, _, err := grid.Solve(f, raw.Vorticity(i))
			if err != nil {
				t.Fatal(err)
			}
			// (ω' − ω)/WStd against sin(kx + ky) of norm eps.
			var e, n float64
			for q := range p {
				want := math.Sin(2*math.Pi*float64(k*(q/16+q%16))/16) * eps / math.Sqrt(float64(p)/2)
				got := (w[q] - raw.Vorticity(i)[q]) / nm.WStd
				e += (got - want) * (got - want)
				n += want * want
			}
			if r := math.Sqrt(e / n); r > 0.05 {
				t.Errorf("k = %d, sample %d: the steady state moved by δω with relative error %.3g", k, i, r)
			}
		}
	}
}

// TestNsEqualParameters: the FNO has exactly the FNO-DEQ's parameters;
// FNO++ of b blocks has b − 1 blocks more.
func TestNsEqualParameters(t *testing.T) {
	ns := defaultNsSettings().quick()
	ms := nsModels(ns, 16, tensor.Float32, 1, layers.ImplicitConfig{Backward: deq.Phantom{}})
	count := map[string]int{}
	for _, m := range append(ms.models, ms.phase1...) {
		if _, err := m.Build(G.NewGraph(), 2, false); err != nil {
			t.Fatal(err)
		}
		count[m.Name()] = m.Params()
	}
	if count[nsFNO] == 0 || count[nsFNO] != count[nsImplicit] || count[nsImplicit+".phase1"] != count[nsImplicit] {
		t.Errorf("parameters %v; want fno = fno-deq = its pre-training view", count)
	}
	block := count["fno++-4"] - count["fno++-2"]
	if block <= 0 || count["fno++-2"]-count[nsFNO] != block/2 {
		t.Errorf("parameters %v; want one block more per block", count)
	}
	var pre *network.Network
	for _, m := range ms.phase1 {
		if m.Name() == nsImplicit+".phase1" {
			pre = m.(*network.Network)
		}
	}
	if pre == nil || !strings.Contains(pre.Description(), "12 unrolled iterations") {
		t.Errorf("the FNO-DEQ's pre-training view is not 12 unrolled iterations: %v", pre)
	}
}

// TestNsRegularityReadsTheTrainedG: the float64 G the regularity check
// assembles from the network's parameters (by name) and its own lift has
// the network's fixed points, and the check's figures are sane.
func TestNsRegularityReadsTheTrainedG(t *testing.T) {
	const size, n = 8, 3
	ns := defaultNsSettings().quick()
	ns.probeN = n
	stop := deq.Stop{Tol: 1e-12, MaxIter: 200}
	spec := nsSpec(ns, size, tensor.Float64, 2, nsArch{Name: nsImplicit, Implicit: true}, layers.ImplicitConfig{Stop: stop})
	net := network.New(spec)
	frame := fourier.FrameConfig{Size: size, In: 2, Width: ns.width, Modes: ns.modes, Hidden: ns.hidden}
	readout := spec
	readout.Name, readout.Target = "z*", []int{size * size * ns.width}
	readout.Body = func(s *layers.Scope, x *G.Node) (*G.Node, error) {
		imp := s.Implicit("deq", fourier.NewFourierStack(s, "G", ns.depth, size, ns.width, ns.modes), layers.ImplicitConfig{Stop: stop})
		v, err := fourier.NewFrame(s, "fno", frame, imp).Lifted(x)
		if err != nil {
			return nil, err
		}
		return imp.Fwd(v)
	}
	if _, err := net.Build(G.NewGraph(), n, false); err != nil {
		t.Fatal(err)
	}
	// Larger weights than at initialisation, so that G depends on z.
	for _, p := range net.Scope().Params() {
		d := p.Value().Data().([]float64)
		for i := range d {
			d[i] *= 3
		}
	}
	ev, err := train.NewEvaluator(net.Sharing(readout), n)
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Close()
	probe := train.RandomProbe(nsTestSet{size: size}, n, 2, 1e-2, 5)
	want, err := ev.Predict(probe.X, n)
	if err != nil {
		t.Fatal(err)
	}
	g, err := nsTrainedG(net, ns, size, n)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.bind(probe.X, n); err != nil {
		t.Fatal(err)
	}
	res := deq.Solve(deq.Anderson{}, deq.Problem[float64]{F: g.k.Eval, Batch: n, Dim: g.dim}, stop)
	var d, scale float64
	for i := range want {
		d, scale = math.Max(d, math.Abs(res.Z[i]-want[i])), math.Max(scale, math.Abs(want[i]))
	}
	if d > 1e-8*scale {
		t.Errorf("the regularity check's fixed points differ from the network's by %.3g (scale %.3g)", d, scale)
	}
	reg, err := nsRegularity(net, ns, spec, probe, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(reg)
	if !(reg["g_spectral_radius_max"] > 0.01 && reg["g_spectral_radius_max"] < 1) || !(reg["t_spectral_radius_max"] > 0.01 && reg["t_spectral_radius_max"] < 1) ||
		!(reg["g_lipschitz_x"] > 0) || !(reg["g_fixed_point_residual"] < 1e-8) {
		t.Errorf("regularity %v", reg)
	}
}

// nsTestSet is a train.Dataset of n random two-channel inputs, for
// probes.
type nsTestSet struct{ size int }

func (d nsTestSet) Len() int           { return 3 }
func (d nsTestSet) InputShape() []int  { return []int{2, d.size, d.size} }
func (d nsTestSet) TargetShape() []int { return []int{1, d.size, d.size} }
func (d nsTestSet) Sample(i int, x, y []float32) {
	for j := range x {
		x[j] = float32(math.Sin(float64(7*i + j)))
	}
}

// TestNsCurveTargets: a curve that falls and stays meets the error
// target, one that rises after its minimum by more than the standard
// error (MetricStd/√n) does not, and L_t must end above where it starts.
func TestNsCurveTargets(t *testing.T) {
	pt := func(t int, m, std, l float64) train.CurvePoint {
		return train.CurvePoint{T: t, Metric: m, MetricStd: std, Lipschitz: l}
	}
	for _, c := range []struct {
		name   string
		curve  []train.CurvePoint
		n      int
		falls  string
		rising string
	}{
		{"falls and stays", []train.CurvePoint{pt(1, 0.5, 0.1, 0.2), pt(10, 0.15, 0.1, 0.8), pt(40, 0.15, 0.1, 0.8)}, 100, "met", "met"},
		// 0.005 above the minimum: within 0.1/√100 = 0.01, beyond 0.1/√1000.
		{"within one standard error", []train.CurvePoint{pt(1, 0.5, 0.1, 0.2), pt(10, 0.15, 0.1, 0.8), pt(40, 0.155, 0.1, 0.8)}, 100, "met", "met"},
		{"beyond one standard error", []train.CurvePoint{pt(1, 0.5, 0.1, 0.2), pt(10, 0.15, 0.1, 0.8), pt(40, 0.155, 0.1, 0.8)}, 1000, "not met", "met"},
		{"never falls", []train.CurvePoint{pt(1, 0.2, 0.1, 0.9), pt(40, 0.2, 0.1, 0.3)}, 100, "not met", "not met"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := nsCurveTargets("m", c.curve, c.n)
			if !strings.Contains(got, ": "+c.falls+"; ") || !strings.HasSuffix(got, "rising "+c.rising+".") {
				t.Errorf("got %q; want the error target %s and rising %s", got, c.falls, c.rising)
			}
		})
	}
	if got := nsCurveTargets("m", nil, 10); !strings.Contains(got, "not measured") {
		t.Errorf("an empty curve: %q", got)
	}
}
