package datasets

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
)

// DarcySet is a set of Darcy-flow samples: each input is a coefficient
// field a and its target the solution u of −∇·(a∇u) = 1, u = 0 on the
// boundary, both S×S on the grid nodes of DarcyConfig. As a
// train.Dataset it gives both as one-channel images, shape {1, S, S}.
type DarcySet struct {
	// S is the grid size, nodes per side; N the number of samples.
	S, N int
	// A and U hold the N coefficient fields and solutions, N×S×S
	// row-major each: as generated, or whatever Normalized made of them.
	A, U []float32
	// Config is the configuration the samples were drawn with, its zero
	// fields replaced by the defaults.
	Config DarcyConfig
	// Seed and First say which samples these are: sample k of the set is
	// the one drawn from rand.NewPCG(Seed, First+k).
	Seed, First uint64
}

// Len returns N.
func (d *DarcySet) Len() int { return d.N }

// InputShape returns {1, S, S}: one channel, the coefficient field.
func (d *DarcySet) InputShape() []int { return []int{1, d.S, d.S} }

// TargetShape returns {1, S, S}: one channel, the solution.
func (d *DarcySet) TargetShape() []int { return []int{1, d.S, d.S} }

// Sample copies the coefficient field of sample i into x and its solution
// into y, S² values each. Like slice indexing, it panics when i is outside
// [0, N) or x or y is too short: that is a caller bug, not bad data.
func (d *DarcySet) Sample(i int, x, y []float32) {
	p := d.S * d.S
	copy(x[:p], d.A[i*p:(i+1)*p])
	copy(y[:p], d.U[i*p:(i+1)*p])
}

// GenerateDarcy draws samples 0, …, n−1 for seed on all cores: sample k
// is a function of (cfg, seed, k) only, drawn from
// rand.New(rand.NewPCG(seed, k)), so a larger n extends a smaller one.
// LoadDarcy caches the result on disk.
func GenerateDarcy(cfg DarcyConfig, seed uint64, n int) (*DarcySet, error) {
	return generateDarcy(cfg, seed, 0, n)
}

// darcyMaxValues bounds N·S² so that a set fits in memory.
const darcyMaxValues = 1 << 31

// generateDarcy draws samples first, …, first+n−1.
func generateDarcy(cfg DarcyConfig, seed, first uint64, n int) (*DarcySet, error) {
	cfg, err := cfg.resolved()
	if err != nil {
		return nil, err
	}
	if err := darcyCheckCount(cfg, n); err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	p := cfg.S * cfg.S
	d := &DarcySet{S: cfg.S, N: n, A: make([]float32, n*p), U: make([]float32, n*p),
		Config: cfg, Seed: seed, First: first}
	grf := newDarcyGRF(cfg)
	solver := DarcyCG{Tol: cfg.Tol}
	f := make([]float64, p)
	for i := range f {
		f[i] = 1
	}
	// Samples are independent, so workers take the next index from a
	// counter; each sample's result depends on its index only.
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Go(func() {
			a := make([]float64, p)
			for {
				k := int(next.Add(1) - 1)
				if k >= n {
					return
				}
				grf.sample(a, rand.New(rand.NewPCG(seed, first+uint64(k))))
				u, _, err := solver.Solve(a, f, cfg.S)
				if err != nil {
					errs[k] = fmt.Errorf("datasets: Darcy sample %d of seed %d: %w", first+uint64(k), seed, err)
					continue
				}
				for i := range p {
					d.A[k*p+i] = float32(a[i])
					d.U[k*p+i] = float32(u[i])
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return d, nil
}

// DarcyNorm holds the statistics that standardise Darcy data: mean and
// (population) standard deviation over all nodes of all samples, of the
// inputs A and of the targets U. Compute them on the training set and
// apply them to every split, so that a model sees test data as it saw
// training data.
type DarcyNorm struct {
	AMean, AStd, UMean, UStd float32
}

// Norm returns the statistics of d's inputs and targets. An empty set
// gives means 0 and deviations 1.
func (d *DarcySet) Norm() DarcyNorm {
	am, as := meanStd(d.A)
	um, us := meanStd(d.U)
	return DarcyNorm{AMean: float32(am), AStd: float32(as), UMean: float32(um), UStd: float32(us)}
}

// Normalized returns a copy of d with every input value x mapped to
// (x − AMean)/AStd and every target to (u − UMean)/UStd. A deviation that
// is not positive (a constant field) counts as 1, so values stay finite.
// DenormalizeTarget maps a model's normalised predictions back.
func (d *DarcySet) Normalized(nm DarcyNorm) *DarcySet {
	out := *d
	out.A = make([]float32, len(d.A))
	out.U = make([]float32, len(d.U))
	as, us := usableStd(nm.AStd), usableStd(nm.UStd)
	for i, v := range d.A {
		out.A[i] = (v - nm.AMean) / as
	}
	for i, v := range d.U {
		out.U[i] = (v - nm.UMean) / us
	}
	return &out
}

// DenormalizeTarget maps normalised targets or predictions y back to
// solution values in place, y ← y·UStd + UMean: the inverse of
// Normalized on U, for errors in physical units.
func (nm DarcyNorm) DenormalizeTarget(y []float32) {
	us := usableStd(nm.UStd)
	for i, v := range y {
		y[i] = v*us + nm.UMean
	}
}
