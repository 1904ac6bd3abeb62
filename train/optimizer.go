package train

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/internal/vecmath"
)

// Optimizer updates parameters from their gradients. It is a
// gorgonia.Solver (Step takes the nodes' values and gradients and zeroes
// the gradients, as Gorgonia's solvers do) whose learning rate can change
// between steps and whose state can be checkpointed. Gorgonia's own
// AdamSolver and Momentum keep their moments in unexported fields and have
// no learning-rate setter, so they can neither resume exactly nor follow a
// schedule; Adam and SGD here implement the same updates (Adam is tested
// step for step against Gorgonia's) with both abilities.
type Optimizer interface {
	G.Solver
	// SetLearnRate sets the rate used by the following steps.
	SetLearnRate(lr float64)
	// State returns a copy of the optimizer's state for a checkpoint.
	State() OptimizerState
	// Restore replaces the state by a checkpointed one.
	Restore(OptimizerState) error
}

// OptimizerState is an optimizer's checkpointable state: a step count and
// named per-parameter buffers (float64 whatever the dtype).
type OptimizerState struct {
	Kind  string
	Steps int
	// Buffers holds, per buffer name (e.g. "m", "v", "velocity"), one
	// slice per parameter, in parameter order.
	Buffers map[string][][]float64
}

// OptimizerConfig selects and configures an optimizer. Its zero value is
// Adam with learning rate 1e-3, β₁ 0.9, β₂ 0.999, ε 1e-8.
type OptimizerConfig struct {
	// Kind is "adam" (the zero value) or "sgd" (with momentum).
	Kind string
	// LR is the base learning rate; zero means 1e-3.
	LR float64
	// Beta1, Beta2 and Eps are Adam's; zero means 0.9, 0.999, 1e-8.
	Beta1, Beta2, Eps float64
	// Momentum is SGD's; zero means 0.9. Use a negative value for none.
	Momentum float64
	// WeightDecay adds WeightDecay·w to each gradient (L2); zero is none.
	WeightDecay float64
	// ClipNorm rescales the whole gradient to this global ℓ2 norm when it
	// is larger; zero means no clipping.
	ClipNorm float64
}

// New returns the configured optimizer.
func (c OptimizerConfig) New() (Optimizer, error) {
	if c.LR == 0 {
		c.LR = 1e-3
	}
	if !(c.LR > 0) || math.IsInf(c.LR, 0) {
		return nil, fmt.Errorf("train: learning rate %v must be positive", c.LR)
	}
	if c.ClipNorm < 0 || c.WeightDecay < 0 {
		return nil, fmt.Errorf("train: ClipNorm %v and WeightDecay %v must be ≥ 0", c.ClipNorm, c.WeightDecay)
	}
	switch c.Kind {
	case "", "adam":
		a := &Adam{LR: c.LR, Beta1: c.Beta1, Beta2: c.Beta2, Eps: c.Eps, WeightDecay: c.WeightDecay, ClipNorm: c.ClipNorm}
		if a.Beta1 == 0 {
			a.Beta1 = 0.9
		}
		if a.Beta2 == 0 {
			a.Beta2 = 0.999
		}
		if a.Eps == 0 {
			a.Eps = 1e-8
		}
		return a, nil
	case "sgd":
		s := &SGD{LR: c.LR, Momentum: c.Momentum, WeightDecay: c.WeightDecay, ClipNorm: c.ClipNorm}
		if s.Momentum == 0 {
			s.Momentum = 0.9
		}
		if s.Momentum < 0 {
			s.Momentum = 0
		}
		return s, nil
	}
	return nil, fmt.Errorf("train: unknown optimizer %q (want adam or sgd)", c.Kind)
}

// Adam is the Adam optimizer (Kingma & Ba): m ← β₁m + (1−β₁)g,
// v ← β₂v + (1−β₂)g², w ← w − lr·m̂/(√v̂ + ε) with bias-corrected m̂, v̂.
// Moments are kept in the parameters' own precision; large tensors are
// updated by two goroutines.
type Adam struct {
	LR, Beta1, Beta2, Eps float64
	WeightDecay, ClipNorm float64
	t                     int
	m, v                  []buffer
	pending               *OptimizerState // restored, applied at the next Step
}

// buffer is per-parameter optimizer state in the parameter's precision.
type buffer struct {
	f32 []float32
	f64 []float64
}

func newBuffer(w tensor.Tensor) buffer {
	n := w.Shape().TotalSize()
	if w.Dtype() == tensor.Float32 {
		return buffer{f32: make([]float32, n)}
	}
	return buffer{f64: make([]float64, n)}
}

func (b buffer) float64s() []float64 {
	if b.f64 != nil {
		return append([]float64(nil), b.f64...)
	}
	out := make([]float64, len(b.f32))
	for i, v := range b.f32 {
		out[i] = float64(v)
	}
	return out
}

// restore fills the buffer from checkpointed values.
func (b buffer) restore(v []float64) error {
	switch {
	case b.f64 != nil && len(v) == len(b.f64):
		copy(b.f64, v)
	case b.f32 != nil && len(v) == len(b.f32):
		for i, x := range v {
			b.f32[i] = float32(x)
		}
	default:
		return fmt.Errorf("train: optimizer state of %d values for a parameter of %d", len(v), max(len(b.f32), len(b.f64)))
	}
	return nil
}

func buffersFor(ws []tensor.Tensor) []buffer {
	out := make([]buffer, len(ws))
	for i, w := range ws {
		out[i] = newBuffer(w)
	}
	return out
}

func saveBuffers(bs []buffer) [][]float64 {
	if bs == nil {
		return nil
	}
	out := make([][]float64, len(bs))
	for i, b := range bs {
		out[i] = b.float64s()
	}
	return out
}

// SetLearnRate implements Optimizer.
func (a *Adam) SetLearnRate(lr float64) { a.LR = lr }

// Step implements gorgonia.Solver.
func (a *Adam) Step(model []G.ValueGrad) error {
	ws, gs, err := weightsGrads(model)
	if err != nil {
		return err
	}
	if err := a.ensure(ws); err != nil {
		return err
	}
	k := adamConsts{
		scale: clipScale(gs, a.ClipNorm), wd: a.WeightDecay, b1: a.Beta1, b2: a.Beta2, eps: a.Eps,
	}
	a.t++
	k.c1 = a.LR / (1 - math.Pow(a.Beta1, float64(a.t)))
	k.c2 = 1 / math.Sqrt(1-math.Pow(a.Beta2, float64(a.t)))
	for i := range ws {
		switch w := ws[i].Data().(type) {
		case []float32:
			g, m, v := gs[i].Data().([]float32), a.m[i].f32, a.v[i].f32
			c := vecmath.AdamConsts{
				Scale: float32(k.scale), WD: float32(k.wd), B1: float32(k.b1), B2: float32(k.b2),
				OB1: float32(1 - k.b1), OB2: float32(1 - k.b2), C1: float32(k.c1), C2: float32(k.c2), Eps: float32(k.eps),
			}
			parallel(len(w), func(lo, hi int) {
				vecmath.Adam(w[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], c)
			})
		case []float64:
			parallel(len(w), func(lo, hi int) {
				adamKernel(k, w[lo:hi], gs[i].Data().([]float64)[lo:hi], a.m[i].f64[lo:hi], a.v[i].f64[lo:hi])
			})
		}
	}
	return nil
}

func (a *Adam) ensure(ws []tensor.Tensor) error {
	if a.m == nil {
		a.m, a.v = buffersFor(ws), buffersFor(ws)
		if a.pending != nil {
			st := *a.pending
			a.pending = nil
			for i := range ws {
				if i >= len(st.Buffers["m"]) || i >= len(st.Buffers["v"]) {
					return fmt.Errorf("train: checkpointed Adam state holds %d parameters, the model %d", len(st.Buffers["m"]), len(ws))
				}
				if err := a.m[i].restore(st.Buffers["m"][i]); err != nil {
					return err
				}
				if err := a.v[i].restore(st.Buffers["v"][i]); err != nil {
					return err
				}
			}
		}
	}
	if len(a.m) != len(ws) {
		return fmt.Errorf("train: Adam was set up for %d parameters, got %d", len(a.m), len(ws))
	}
	return nil
}

type adamConsts struct {
	scale, wd, b1, b2, eps float64
	c1, c2                 float64 // lr/(1−β₁ᵗ), 1/√(1−β₂ᵗ)
}

// adamKernel updates one slice of a float64 parameter and zeroes its
// gradient (float32 parameters go through vecmath.Adam, vectorised).
func adamKernel[T float32 | float64](k adamConsts, w, g, m, v []T) {
	b1, b2, ob1, ob2 := T(k.b1), T(k.b2), T(1-k.b1), T(1-k.b2)
	scale, wd, c1, c2, eps := T(k.scale), T(k.wd), T(k.c1), T(k.c2), T(k.eps)
	for j := range w {
		gj := g[j]*scale + wd*w[j]
		mj := b1*m[j] + ob1*gj
		vj := b2*v[j] + ob2*gj*gj
		m[j], v[j] = mj, vj
		w[j] -= c1 * mj / (T(math.Sqrt(float64(vj)))*c2 + eps)
		g[j] = 0
	}
}

// State implements Optimizer.
func (a *Adam) State() OptimizerState {
	if a.m == nil && a.pending != nil {
		return *a.pending
	}
	return OptimizerState{Kind: "adam", Steps: a.t, Buffers: map[string][][]float64{"m": saveBuffers(a.m), "v": saveBuffers(a.v)}}
}

// Restore implements Optimizer. The moments are restored into the
// parameters' precision at the next Step.
func (a *Adam) Restore(s OptimizerState) error {
	if s.Kind != "adam" {
		return fmt.Errorf("train: checkpoint holds %q optimizer state, this run uses adam", s.Kind)
	}
	if len(s.Buffers["m"]) != len(s.Buffers["v"]) {
		return fmt.Errorf("train: corrupt Adam state (%d first moments, %d second)", len(s.Buffers["m"]), len(s.Buffers["v"]))
	}
	a.t, a.m, a.v, a.pending = s.Steps, nil, nil, nil
	if len(s.Buffers["m"]) > 0 {
		c := s
		a.pending = &c
	}
	return nil
}

// SGD is stochastic gradient descent with (heavy-ball) momentum:
// u ← μu + g, w ← w − lr·u.
type SGD struct {
	LR, Momentum          float64
	WeightDecay, ClipNorm float64
	t                     int
	u                     []buffer
	pending               *OptimizerState
}

// SetLearnRate implements Optimizer.
func (s *SGD) SetLearnRate(lr float64) { s.LR = lr }

// Step implements gorgonia.Solver.
func (s *SGD) Step(model []G.ValueGrad) error {
	ws, gs, err := weightsGrads(model)
	if err != nil {
		return err
	}
	if s.u == nil {
		s.u = buffersFor(ws)
		if s.pending != nil {
			for i := range ws {
				if i >= len(s.pending.Buffers["velocity"]) {
					return fmt.Errorf("train: checkpointed SGD state holds %d parameters, the model %d", len(s.pending.Buffers["velocity"]), len(ws))
				}
				if err := s.u[i].restore(s.pending.Buffers["velocity"][i]); err != nil {
					return err
				}
			}
			s.pending = nil
		}
	}
	if len(s.u) != len(ws) {
		return fmt.Errorf("train: SGD was set up for %d parameters, got %d", len(s.u), len(ws))
	}
	scale := clipScale(gs, s.ClipNorm)
	s.t++
	for i := range ws {
		switch w := ws[i].Data().(type) {
		case []float32:
			sgdKernel(s, scale, w, gs[i].Data().([]float32), s.u[i].f32)
		case []float64:
			sgdKernel(s, scale, w, gs[i].Data().([]float64), s.u[i].f64)
		}
	}
	return nil
}

func sgdKernel[T float32 | float64](s *SGD, scale float64, w, g, u []T) {
	mu, lr, sc, wd := T(s.Momentum), T(s.LR), T(scale), T(s.WeightDecay)
	for j := range w {
		gj := g[j]*sc + wd*w[j]
		u[j] = mu*u[j] + gj
		w[j] -= lr * u[j]
		g[j] = 0
	}
}

// State implements Optimizer.
func (s *SGD) State() OptimizerState {
	if s.u == nil && s.pending != nil {
		return *s.pending
	}
	return OptimizerState{Kind: "sgd", Steps: s.t, Buffers: map[string][][]float64{"velocity": saveBuffers(s.u)}}
}

// Restore implements Optimizer.
func (s *SGD) Restore(st OptimizerState) error {
	if st.Kind != "sgd" {
		return fmt.Errorf("train: checkpoint holds %q optimizer state, this run uses sgd", st.Kind)
	}
	s.t, s.u, s.pending = st.Steps, nil, nil
	if len(st.Buffers["velocity"]) > 0 {
		c := st
		s.pending = &c
	}
	return nil
}

// parallel runs f over [0, n) in two halves on two goroutines when n is
// large enough to pay for it, else inline.
func parallel(n int, f func(lo, hi int)) {
	const grain = 1 << 14
	if n < 2*grain || runtime.GOMAXPROCS(0) < 2 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	mid := n / 2
	wg.Add(1)
	go func() {
		defer wg.Done()
		f(mid, n)
	}()
	f(0, mid)
	wg.Wait()
}

// weightsGrads extracts the value and gradient tensors of each parameter.
func weightsGrads(model []G.ValueGrad) (ws, gs []tensor.Tensor, err error) {
	for i, vg := range model {
		w, ok := vg.Value().(tensor.Tensor)
		if !ok {
			return nil, nil, fmt.Errorf("train: parameter %d holds a %T; parameters must be tensors", i, vg.Value())
		}
		gv, err := vg.Grad()
		if err != nil {
			return nil, nil, fmt.Errorf("train: parameter %d has no gradient (bind dual values with G.BindDualValues): %w", i, err)
		}
		g, ok := gv.(tensor.Tensor)
		if !ok || g.Shape().TotalSize() != w.Shape().TotalSize() {
			return nil, nil, fmt.Errorf("train: gradient of parameter %d does not match its value", i)
		}
		ws, gs = append(ws, w), append(gs, g)
	}
	return ws, gs, nil
}

// clipScale returns the factor that brings the global gradient norm down
// to clip (1 when clip is zero or the norm is smaller).
func clipScale(gs []tensor.Tensor, clip float64) float64 {
	if clip <= 0 {
		return 1
	}
	var s float64
	for _, g := range gs {
		switch d := g.Data().(type) {
		case []float64:
			for _, v := range d {
				s += v * v
			}
		case []float32:
			for _, v := range d {
				s += float64(v) * float64(v)
			}
		}
	}
	n := math.Sqrt(s)
	if n > clip {
		return clip / n
	}
	return 1
}
