package train

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
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
type Adam struct {
	LR, Beta1, Beta2, Eps float64
	WeightDecay, ClipNorm float64
	t                     int
	m, v                  [][]float64
}

// SetLearnRate implements Optimizer.
func (a *Adam) SetLearnRate(lr float64) { a.LR = lr }

// Step implements gorgonia.Solver.
func (a *Adam) Step(model []G.ValueGrad) error {
	ws, gs, err := weightsGrads(model)
	if err != nil {
		return err
	}
	if a.m == nil {
		a.m, a.v = zerosLike(ws), zerosLike(ws)
	}
	if len(a.m) != len(ws) {
		return fmt.Errorf("train: Adam was set up for %d parameters, got %d", len(a.m), len(ws))
	}
	scale := clipScale(gs, a.ClipNorm)
	a.t++
	c1 := 1 - math.Pow(a.Beta1, float64(a.t))
	c2 := 1 - math.Pow(a.Beta2, float64(a.t))
	for i := range ws {
		m, v := a.m[i], a.v[i]
		update(ws[i], gs[i], func(j int, w, g float64) float64 {
			g = g*scale + a.WeightDecay*w
			m[j] = a.Beta1*m[j] + (1-a.Beta1)*g
			v[j] = a.Beta2*v[j] + (1-a.Beta2)*g*g
			return w - a.LR*(m[j]/c1)/(math.Sqrt(v[j]/c2)+a.Eps)
		})
	}
	return nil
}

// State implements Optimizer.
func (a *Adam) State() OptimizerState {
	return OptimizerState{Kind: "adam", Steps: a.t, Buffers: map[string][][]float64{"m": clone2(a.m), "v": clone2(a.v)}}
}

// Restore implements Optimizer.
func (a *Adam) Restore(s OptimizerState) error {
	if s.Kind != "adam" {
		return fmt.Errorf("train: checkpoint holds %q optimizer state, this run uses adam", s.Kind)
	}
	a.t, a.m, a.v = s.Steps, clone2(s.Buffers["m"]), clone2(s.Buffers["v"])
	if len(a.m) != len(a.v) {
		return fmt.Errorf("train: corrupt Adam state (%d first moments, %d second)", len(a.m), len(a.v))
	}
	if len(a.m) == 0 {
		a.m, a.v = nil, nil
	}
	return nil
}

// SGD is stochastic gradient descent with (heavy-ball) momentum:
// u ← μu + g, w ← w − lr·u.
type SGD struct {
	LR, Momentum          float64
	WeightDecay, ClipNorm float64
	t                     int
	u                     [][]float64
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
		s.u = zerosLike(ws)
	}
	if len(s.u) != len(ws) {
		return fmt.Errorf("train: SGD was set up for %d parameters, got %d", len(s.u), len(ws))
	}
	scale := clipScale(gs, s.ClipNorm)
	s.t++
	for i := range ws {
		u := s.u[i]
		update(ws[i], gs[i], func(j int, w, g float64) float64 {
			g = g*scale + s.WeightDecay*w
			u[j] = s.Momentum*u[j] + g
			return w - s.LR*u[j]
		})
	}
	return nil
}

// State implements Optimizer.
func (s *SGD) State() OptimizerState {
	return OptimizerState{Kind: "sgd", Steps: s.t, Buffers: map[string][][]float64{"velocity": clone2(s.u)}}
}

// Restore implements Optimizer.
func (s *SGD) Restore(st OptimizerState) error {
	if st.Kind != "sgd" {
		return fmt.Errorf("train: checkpoint holds %q optimizer state, this run uses sgd", st.Kind)
	}
	s.t, s.u = st.Steps, clone2(st.Buffers["velocity"])
	if len(s.u) == 0 {
		s.u = nil
	}
	return nil
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

func zerosLike(ws []tensor.Tensor) [][]float64 {
	out := make([][]float64, len(ws))
	for i, w := range ws {
		out[i] = make([]float64, w.Shape().TotalSize())
	}
	return out
}

func clone2(a [][]float64) [][]float64 {
	if a == nil {
		return nil
	}
	out := make([][]float64, len(a))
	for i := range a {
		out[i] = append([]float64(nil), a[i]...)
	}
	return out
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

// update applies w[j] ← f(j, w[j], g[j]) and zeroes g, for float32 or
// float64 tensors.
func update(w, g tensor.Tensor, f func(j int, w, g float64) float64) {
	switch wd := w.Data().(type) {
	case []float64:
		gd := g.Data().([]float64)
		for j := range wd {
			wd[j] = f(j, wd[j], gd[j])
			gd[j] = 0
		}
	case []float32:
		gd := g.Data().([]float32)
		for j := range wd {
			wd[j] = float32(f(j, float64(wd[j]), float64(gd[j])))
			gd[j] = 0
		}
	}
}
