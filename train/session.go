package train

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Session is a model's compiled training graph with its optimizer: the
// unit of work Fit repeats once per batch, exposed for benchmarks and
// custom loops.
type Session struct {
	model  Model
	net    *Net
	r      *runner
	opt    Optimizer
	grads  []G.ValueGrad
	closed bool
	// SkipNonConvergedBackward makes Step skip the optimizer step (and
	// drop the gradients) when a backward solve of this step did not
	// converge, instead of applying an inexact gradient; Skipped counts
	// such steps.
	SkipNonConvergedBackward bool
	Skipped                  int
}

// NewSession builds model's training graph for batches of the given size
// and its optimizer.
func NewSession(model Model, batch int, oc OptimizerConfig) (*Session, error) {
	if batch <= 0 {
		return nil, fmt.Errorf("train: batch %d must be positive", batch)
	}
	net, err := model.Build(G.NewGraph(), batch, true)
	if err != nil {
		return nil, fmt.Errorf("train: building %s: %w", model.Name(), err)
	}
	r, err := compile(net, true)
	if err != nil {
		return nil, err
	}
	opt, err := oc.New()
	if err != nil {
		r.vm.Close()
		return nil, err
	}
	return &Session{model: model, net: net, r: r, opt: opt, grads: G.NodesToValueGrads(net.Params)}, nil
}

// Net returns the training graph's model.
func (s *Session) Net() *Net { return s.net }

// Optimizer returns the session's optimizer.
func (s *Session) Optimizer() Optimizer { return s.opt }

// Close releases the machine.
func (s *Session) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	return s.r.vm.Close()
}

// Step trains on the samples idx of ds (at most the batch size; the rest
// of the batch is padding): forward, backward, optimizer step, projection.
// A non-finite loss is an error and leaves the weights untouched.
func (s *Session) Step(ds Dataset, idx []int) (float64, error) {
	r := s.r
	if err := r.fill(ds, idx); err != nil {
		return 0, err
	}
	if s.net.SetSampleIDs != nil {
		ids := make([]int, r.b)
		for i := range ids {
			ids[i] = -1
			if i < len(idx) {
				ids[i] = idx[i]
			}
		}
		s.net.SetSampleIDs(ids)
	}
	defer r.reset()
	var before SolverStats
	if s.net.SolverStats != nil {
		before = s.net.SolverStats()
	}
	if err := r.run(); err != nil {
		return 0, fmt.Errorf("train: %s: %w", s.model.Name(), err)
	}
	loss, err := scalarValue(s.net.Loss)
	if err != nil {
		return 0, err
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return 0, fmt.Errorf("train: %s loss is %v; the weights were not updated. Lower the learning rate (-lr), clip gradients, or constrain the implicit layer", s.model.Name(), loss)
	}
	if s.SkipNonConvergedBackward && s.net.SolverStats != nil &&
		s.net.SolverStats().Sub(before).BackwardNotConverged > 0 {
		s.Skipped++
		return loss, zeroGrads(s.grads)
	}
	if err := s.opt.Step(s.grads); err != nil {
		return 0, err
	}
	if s.net.Project != nil {
		if err := s.net.Project(); err != nil {
			return 0, err
		}
	}
	return loss, nil
}

// zeroGrads drops accumulated gradients (dual values accumulate until an
// optimizer step zeroes them).
func zeroGrads(gs []G.ValueGrad) error {
	for _, vg := range gs {
		g, err := vg.Grad()
		if err != nil {
			return err
		}
		if t, ok := g.(tensor.Tensor); ok {
			t.Zero()
		}
	}
	return nil
}
