package experiments

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/blur"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/network"
)

// deblurCurves holds an implicit model's curves, t = 1 … maxT.
type deblurCurves struct {
	// psnr[t−1], std[t−1]: mean and deviation over the test images of the
	// PSNR of y_t from y₀ = Aᵀx (the accuracy protocol); psnrZero[t−1]
	// the mean over the probe images from y₀ = 0 (the Lipschitz protocol).
	psnr, std, psnrZero []float64
	// lip[t−1] is L_t from y₀ = 0, the largest over probe images and
	// frequencies; lipByRank[t−1][r] the largest per frequency rank.
	lip       []float64
	lipByRank [][]float64
	// grid holds, per entry of gridTs, the first test images' iterates
	// from y₀ = Aᵀx.
	grid [][]float32
	// rate is the mean over test images of the contraction rate of the
	// last ten steps, (‖y_T − y_{T−1}‖/‖y_{T−10} − y_{T−11}‖)^{1/10};
	// step the mean relative last step ‖y_T − y_{T−1}‖/‖y_T‖.
	rate, step float64
	// radius and radiusMean are the largest and mean spectral radius of
	// J_G(y_T) in y over the probe images (power iteration).
	radius, radiusMean float64
	// samplesPerSecond is the test images per second of psnrCurve's
	// maxT iterations (PSNR bookkeeping included).
	samplesPerSecond float64
	modes            []blur.Mode
}

// deblurProbeSet is the paper's Lipschitz probe: probe images and, per
// frequency rank, the measurement perturbation δx = A·(ε v_f).
type deblurProbeSet struct {
	n      int
	x      []float64   // n measurements
	clean  []float32   // their n clean images
	deltas [][]float64 // per rank, n rows (the same δx in every row)
	modes  []blur.Mode
}

func deblurProbe(test *datasets.DeblurSet, k blur.Kernel, st deblurSettings) deblurProbeSet {
	n, px := min(st.probeN, test.N), test.H*test.W
	p := deblurProbeSet{n: n, x: make([]float64, n*px), clean: test.Y[:n*px], modes: blur.AtRanks(k, test.H, test.W, st.ranks)}
	for i, v := range test.X[:n*px] {
		p.x[i] = float64(v)
	}
	for _, m := range p.modes {
		v := blur.Vector(m, test.H, test.W)
		for i := range v {
			v[i] *= st.probeNorm
		}
		dx := make([]float64, len(v))
		blur.Apply(dx, v, 1, test.H, test.W, k, false)
		rows := make([]float64, 0, n*len(dx))
		for range n {
			rows = append(rows, dx...)
		}
		p.deltas = append(p.deltas, rows)
	}
	return p
}

// curves measures the trained implicit model m: PSNR(t) from y₀ = Aᵀx on
// every test image with its float32 cell (h, from the evaluation view),
// then L_t from y₀ = 0 and the contraction at y_T on its float64 copy.
func (n deblurNets) curves(ctx context.Context, m *network.Network, h *deblurHandle, test *datasets.DeblurSet, p deblurProbeSet, icfg layers.ImplicitConfig) (*deblurCurves, error) {
	if h == nil || h.cell == nil {
		return nil, fmt.Errorf("experiments: %s has no cell to iterate", m.Name())
	}
	T := n.st.maxT
	c := &deblurCurves{psnr: make([]float64, T), std: make([]float64, T), modes: p.modes, grid: make([][]float32, len(n.st.gridTs))}
	if err := n.psnrCurve(ctx, c, h.cell, test); err != nil {
		return nil, err
	}
	ev, h64, err := n.twin64(m, icfg, p.n)
	if err != nil {
		return nil, err
	}
	ev.Close() // only its parameters are needed
	if err := n.lipschitzCurve(ctx, c, h64.cell, p); err != nil {
		return nil, err
	}
	return c, n.contraction(c, h64.cell, p)
}

// psnrCurve iterates the cell from y₀ = Aᵀx on the test set in batches,
// recording the PSNR of every iterate, the grid's iterates and the last
// steps' sizes.
func (n deblurNets) psnrCurve(ctx context.Context, c *deblurCurves, cell layers.Cell, test *datasets.DeblurSet) error {
	st, T, px := n.st, n.st.maxT, test.H*test.W
	sum, sum2 := make([]float64, T), make([]float64, T)
	var rates, steps float64
	t0 := time.Now()
	for lo := 0; lo < test.N; lo += st.curveBatch {
		hi := min(lo+st.curveBatch, test.N)
		atx := make([]float32, (hi-lo)*px)
		blur.Apply(atx, test.X[lo*px:hi*px], hi-lo, test.H, test.W, n.a.Kernel, true)
		inj := tensor.New(tensor.WithShape(hi-lo, px), tensor.WithBacking(atx))
		prev := slices.Clone(atx)
		diffs := make([][]float64, T) // ‖y_t − y_{t−1}‖ per image
		err := layers.IterateCell(cell, []G.Value{inj}, slices.Clone(atx), T, func(t int, z []float32) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			diffs[t-1] = make([]float64, hi-lo)
			for i := range hi - lo {
				v := psnr(z[i*px:(i+1)*px], test.Y[(lo+i)*px:(lo+i+1)*px])
				sum[t-1] += v
				sum2[t-1] += v * v
				diffs[t-1][i] = distance(z[i*px:(i+1)*px], prev[i*px:(i+1)*px])
			}
			if lo == 0 {
				if k := slices.Index(st.gridTs, t); k >= 0 {
					c.grid[k] = slices.Clone(z[:min(st.show, hi)*px])
				}
			}
			if t == T {
				for i := range hi - lo {
					steps += diffs[T-1][i] / math.Max(norm(z[i*px:(i+1)*px]), 1e-30)
				}
			}
			copy(prev, z)
			return nil
		})
		if err != nil {
			return err
		}
		rates += lastRates(diffs)
	}
	for t := range T {
		mean := sum[t] / float64(test.N)
		c.psnr[t], c.std[t] = mean, math.Sqrt(math.Max(sum2[t]/float64(test.N)-mean*mean, 0))
	}
	c.rate, c.step = rates/float64(test.N), steps/float64(test.N)
	c.samplesPerSecond = float64(test.N) / time.Since(t0).Seconds()
	return nil
}

// lastRates sums, over images, the geometric mean ratio of successive
// step sizes over the last ten steps (fewer when there are fewer).
func lastRates(diffs [][]float64) float64 {
	T := len(diffs)
	k := min(10, T-1)
	if k < 1 {
		return 0
	}
	s := 0.0
	for i := range diffs[T-1] {
		a, b := diffs[T-1][i], diffs[T-1-k][i]
		if a > 0 && b > 0 {
			s += math.Pow(a/b, 1/float64(k))
		}
	}
	return s
}

// lipschitzCurve records L_t from y₀ = 0 (and per rank) on the float64
// cell: one trajectory of the stacked rows [x; x+δ₁; …; x+δ_R], the
// perturbed rows compared with the unperturbed ones.
func (n deblurNets) lipschitzCurve(ctx context.Context, c *deblurCurves, cell layers.Cell, p deblurProbeSet) error {
	T, px := n.st.maxT, n.a.H*n.a.W
	c.lip, c.psnrZero, c.lipByRank = make([]float64, T), make([]float64, T), make([][]float64, T)
	rows := p.n * (1 + len(p.deltas))
	xs := slices.Clone(p.x)
	for _, d := range p.deltas {
		for i := range d {
			xs = append(xs, p.x[i]+d[i])
		}
	}
	atx := make([]float64, len(xs))
	blur.Apply(atx, xs, rows, n.a.H, n.a.W, n.a.Kernel, true)
	inj := tensor.New(tensor.WithShape(rows, px), tensor.WithBacking(atx))
	return layers.IterateCell(cell, []G.Value{inj}, nil, T, func(t int, z []float64) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		c.lipByRank[t-1] = make([]float64, len(p.deltas))
		for i := range p.n {
			c.psnrZero[t-1] += psnr(z[i*px:(i+1)*px], p.clean[i*px:(i+1)*px]) / float64(p.n)
		}
		for r, d := range p.deltas {
			for i := range p.n {
				base, pert := z[i*px:(i+1)*px], z[((r+1)*p.n+i)*px:((r+1)*p.n+i+1)*px]
				ratio := distance(pert, base) / norm(d[i*px:(i+1)*px])
				c.lipByRank[t-1][r] = math.Max(c.lipByRank[t-1][r], ratio)
			}
			c.lip[t-1] = math.Max(c.lip[t-1], c.lipByRank[t-1][r])
		}
		return nil
	})
}

// deblurRadiusIters are the power-iteration steps of the contraction
// estimate; deblurRadiusStream seeds its random starts.
const (
	deblurRadiusIters  = 60
	deblurRadiusStream = 0x7261646975 // "radiu"
)

// contraction estimates the spectral radius of J_G in y at y_T from
// y₀ = Aᵀx on the probe images (float64 cell), by power iteration on
// J_Gᵀ, which has J_G's spectrum.
func (n deblurNets) contraction(c *deblurCurves, cell layers.Cell, p deblurProbeSet) error {
	px := n.a.H * n.a.W
	atx := make([]float64, len(p.x))
	blur.Apply(atx, p.x, p.n, n.a.H, n.a.W, n.a.Kernel, true)
	inj := []G.Value{tensor.New(tensor.WithShape(p.n, px), tensor.WithBacking(atx))}
	var yT []float64
	if err := layers.IterateCell(cell, inj, slices.Clone(atx), n.st.maxT, func(t int, z []float64) error {
		if t == n.st.maxT {
			yT = slices.Clone(z)
		}
		return nil
	}); err != nil {
		return err
	}
	k, err := cell.Kernel64([]tensor.Shape{{p.n, px}})
	if err != nil {
		return err
	}
	var params []G.Value
	for _, q := range cell.Params() {
		params = append(params, q.Value())
	}
	if err := k.Bind(inj, params); err != nil {
		return err
	}
	if err := k.Linearize(yT); err != nil {
		return err
	}
	radii, err := deq.SpectralRadius(k.VJP, p.n, px, deblurRadiusIters, rand.New(rand.NewPCG(n.seed, deblurRadiusStream)))
	if err != nil {
		return err
	}
	for _, r := range radii {
		c.radius = math.Max(c.radius, r)
		c.radiusMean += r / float64(len(radii))
	}
	return nil
}

// distance is ‖a − b‖₂ in float64.
func distance[T float32 | float64](a, b []T) float64 {
	s := 0.0
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return math.Sqrt(s)
}

// norm is ‖a‖₂ in float64.
func norm[T float32 | float64](a []T) float64 {
	s := 0.0
	for _, v := range a {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}

// psnr is 10·log10(1/MSE) of an image against its clean version.
func psnr[T float32 | float64](y []T, clean []float32) float64 {
	var s float64
	for i, v := range y {
		e := float64(v) - float64(clean[i])
		s += e * e
	}
	return 10 * math.Log10(float64(len(y))/math.Max(s, 1e-20))
}
