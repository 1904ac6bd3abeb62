package experiments

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/layers/fourier"
	"github.com/implicit-ml/implicit/network"
	"github.com/implicit-ml/implicit/train"
)

// nsPercentiles are the paper's 15 frequency percentiles of the L_t
// probe (fourier_2d_runner_ns_lip2.py in the authors' code).
var nsPercentiles = []float64{0.01, 0.02, 0.03, 0.04, 0.05, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.96, 0.97, 0.98, 0.99}

// nsWavenumbers maps the percentiles p to k = max(1, ⌊p·kmax⌋) and
// returns the distinct values in increasing order: percentiles that give
// the same k give the same perturbation.
func nsWavenumbers(ps []float64, kmax int) []int {
	var ks []int
	for _, p := range ps {
		k := max(1, int(p*float64(kmax)))
		if !slices.Contains(ks, k) {
			ks = append(ks, k)
		}
	}
	slices.Sort(ks)
	return ks
}

// nsKMax is the largest wavenumber of the probe: the largest the data
// resolve, ⌊(S−1)/3⌋ per axis after the 2/3 de-aliasing of the generator
// (sin(kx + ky) beyond it has no steady forcing on the grid). The paper's
// is S/2 of its 128² grid.
func nsKMax(cfg datasets.NavierStokesConfig) int { return (cfg.S - 1) / 3 }

// nsRatio is the solution operator's own first-order Lipschitz ratio
// ‖δω‖/‖δf‖ (normalised units) over the probe's samples and directions.
type nsRatio struct{ Max, Mean float64 }

// nsProbe is the paper's L_t probe on the first n samples of test (a
// normalised set): per wavenumber k, the output perturbation δω =
// sin(kx + ky) on the grid (x, y) = (2πi/S, 2πj/S), of norm eps in the
// normalised target space, and the forcing perturbation δf that moves the
// sample's steady state by δω to first order (the linearised steady
// equations, datasets.NavierStokesSet.ForcingPerturbation), mapped into
// the normalised input space. It also returns the true operator's ratio
// ‖δω‖/‖δf‖ over those directions.
func nsProbe(test *datasets.NavierStokesSet, n int, ks []int, eps float64) (train.Probe, nsRatio, error) {
	n = min(n, test.Len())
	s, nm := test.S, test.Normalization
	p := s * s
	probe := train.Probe{N: n, X: pdeShowForcings(test, n)}
	var ratio nsRatio
	count := 0
	for _, k := range ks {
		row, norm := make([]float64, p), 0.0
		for i := range s {
			for j := range s {
				v := math.Sin(2 * math.Pi * float64(k*(i+j)%s) / float64(s))
				row[i*s+j] = v
				norm += v * v
			}
		}
		phys := make([]float64, p)
		for q, v := range row {
			row[q] = v * eps / math.Sqrt(norm)
			phys[q] = row[q] * nm.WStd
		}
		d := make([]float64, 0, n*2*p)
		for i := range n {
			df, err := test.ForcingPerturbation(i, phys)
			if err != nil {
				return train.Probe{}, nsRatio{}, err
			}
			dn := 0.0
			for _, v := range df {
				d = append(d, v/nm.FStd)
				dn += (v / nm.FStd) * (v / nm.FStd)
			}
			r := eps / math.Sqrt(dn)
			ratio.Max, ratio.Mean = max(ratio.Max, r), ratio.Mean+r
			count++
		}
		probe.Deltas = append(probe.Deltas, d)
	}
	ratio.Mean /= float64(max(count, 1))
	return probe, ratio, nil
}

// pdeShowForcings are the normalised inputs of the first n samples of a
// Navier–Stokes set, 2·S² values each.
func pdeShowForcings(set *datasets.NavierStokesSet, n int) []float64 {
	n = min(n, set.Len())
	x, y := make([]float32, 2*set.S*set.S), make([]float32, set.S*set.S)
	out := make([]float64, 0, n*len(x))
	for i := range n {
		set.Sample(i, x, y)
		for _, v := range x {
			out = append(out, float64(v))
		}
	}
	return out
}

// nsRegularity measures the trained G of the implicit network at the
// fixed points z* of the probe's inputs, in float64: the spectral radius
// of J_G(z*) and of J_T(z*) for the averaged map T = (1−α)I + α·G, α =
// evalRelax, the one the test-time iterations use (its contraction at
// the fixed point; power iteration, max and mean over samples), and G's
// Lipschitz constant in the input, the largest ‖G(z*, x+δ) − G(z*, x)‖/‖δ‖
// over the probe's perturbations and randomDirs random ones of the same
// norm (x normalised, G's output the state; T's is α times it).
func nsRegularity(net *network.Network, ns nsSettings, spec network.Spec, probe train.Probe, seed uint64) (map[string]float64, error) {
	n, inDim := probe.N, len(probe.X)/probe.N
	g, err := nsTrainedG(net, ns, spec.Input[1], n)
	if err != nil {
		return nil, err
	}
	if err := g.bind(probe.X, n); err != nil {
		return nil, err
	}
	res := deq.Solve(deq.Anderson{}, deq.Problem[float64]{F: g.k.Eval, Batch: n, Dim: g.dim}, deq.Stop{Tol: 1e-8, MaxIter: 150})
	if res.Status != deq.Converged && res.Status != deq.MaxIterations {
		return nil, fmt.Errorf("experiments: the fixed points of the trained G: %w", res.Err())
	}
	zstar := res.Z
	rng := rand.New(rand.NewPCG(seed, nsRegularityStream))
	if err := g.k.Linearize(zstar); err != nil {
		return nil, err
	}
	out := map[string]float64{"g_fixed_point_residual": slices.Max(res.Stats.RelResidual)}
	a, tmp := ns.evalRelax, make([]float64, n*g.dim)
	for _, m := range []struct {
		key string
		op  deq.Func[float64]
	}{{"g", g.k.VJP}, {"t", func(out, v []float64) error {
		if err := g.k.VJP(tmp, v); err != nil {
			return err
		}
		for i := range out {
			out[i] = (1-a)*v[i] + a*tmp[i]
		}
		return nil
	}}} {
		rho, err := deq.SpectralRadius(m.op, n, g.dim, 60, rng)
		if err != nil {
			return nil, err
		}
		out[m.key+"_spectral_radius_max"], out[m.key+"_spectral_radius_mean"] = slices.Max(rho), nsMean(rho)
	}
	deltas := append(append([][]float64(nil), probe.Deltas...), nsRandomDirections(rng, ns.randomDirs, n, inDim, ns.perturbNorm)...)
	lx, err := deq.Lipschitz(func(out, x []float64) error {
		if err := g.bind(x, n); err != nil {
			return err
		}
		return g.k.Eval(out, zstar)
	}, probe.X, n, inDim, g.dim, deltas)
	if err != nil {
		return nil, err
	}
	out["g_lipschitz_x"] = lx.Max
	return out, nil
}

// nsRandomDirections are k perturbations of n rows of dim values, each
// row Gaussian scaled to norm eps.
func nsRandomDirections(rng *rand.Rand, k, n, dim int, eps float64) [][]float64 {
	var out [][]float64
	for range k {
		d := make([]float64, n*dim)
		for i := range n {
			row, s := d[i*dim:(i+1)*dim], 0.0
			for j := range row {
				row[j] = rng.NormFloat64()
				s += row[j] * row[j]
			}
			for j := range row {
				row[j] *= eps / math.Sqrt(s)
			}
		}
		out = append(out, d)
	}
	return out
}

// nsRegularityStream is the second word of the PCG seed of the
// regularity check's random vectors.
const nsRegularityStream = 0x6e73

func nsMean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(max(len(v), 1))
}

// nsG is the trained G of an implicit network as a float64 kernel, with
// the lift that makes its injection from a normalised input.
type nsG struct {
	k            layers.Kernel[float64]
	params       []G.Value
	liftW, liftB []float64
	size, width  int
	dim          int
	inj          []float64
}

// nsTrainedG reads the trained values of G's and the lift's parameters
// from net (by name) into a float64 kernel of G for batches of batch.
func nsTrainedG(net *network.Network, ns nsSettings, size, batch int) (*nsG, error) {
	if net.Scope() == nil {
		return nil, fmt.Errorf("experiments: %s has not been built", net.Name())
	}
	trained := map[string]G.Value{}
	for _, p := range net.Scope().Params() {
		trained[p.Name()] = p.Value()
	}
	values := func(name string) ([]float64, error) {
		v, ok := trained[name]
		if !ok {
			return nil, fmt.Errorf("experiments: %s has no parameter %q", net.Name(), name)
		}
		return layers.Floats64(v)
	}
	ref := fourier.NewFourierStack(layers.NewScope(G.NewGraph(), tensor.Float64, rand.New(rand.NewPCG(1, 1))), "G", ns.depth, size, ns.width, ns.modes)
	g := &nsG{size: size, width: ns.width, dim: size * size * ns.width}
	for _, p := range ref.Params() {
		v, err := values(p.Name())
		if err != nil {
			return nil, err
		}
		g.params = append(g.params, tensor.New(tensor.WithShape(p.Shape().Clone()...), tensor.WithBacking(v)))
	}
	var err error
	if g.liftW, err = values("fno.lift.W"); err != nil {
		return nil, err
	}
	if g.liftB, err = values("fno.lift.b"); err != nil {
		return nil, err
	}
	g.k, err = ref.Kernel64([]tensor.Shape{{batch, g.dim}})
	return g, err
}

// bind computes the injection of the n inputs x (2·S² values each,
// channel-first) — the lift of (f_x, f_y, i/S, j/S) at every node — and
// binds it with G's parameters.
func (g *nsG) bind(x []float64, n int) error {
	p, w := g.size*g.size, g.width
	if len(g.inj) != n*g.dim {
		g.inj = make([]float64, n*g.dim)
	}
	for b := range n {
		fx, fy := x[b*2*p:b*2*p+p], x[b*2*p+p:(b+1)*2*p]
		for q := range p {
			feat := [4]float64{fx[q], fy[q], float64(q/g.size) / float64(g.size), float64(q%g.size) / float64(g.size)}
			row := g.inj[(b*p+q)*w : (b*p+q+1)*w]
			copy(row, g.liftB)
			for f, v := range feat {
				for c := range row {
					row[c] += v * g.liftW[f*w+c]
				}
			}
		}
	}
	return g.k.Bind([]G.Value{tensor.New(tensor.WithShape(n, g.dim), tensor.WithBacking(g.inj))}, g.params)
}
