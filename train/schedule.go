package train

import (
	"fmt"
	"math"
)

// Schedule gives the learning rate at a step (0-based) of a run of total
// steps, from the base rate.
type Schedule interface {
	Rate(base float64, step, total int) float64
	String() string
}

// Constant keeps the base rate.
type Constant struct{}

// Rate implements Schedule.
func (Constant) Rate(base float64, _, _ int) float64 { return base }

// String names the schedule.
func (Constant) String() string { return "constant" }

// StepDecay multiplies the rate by Gamma every Every steps. Zero Every
// means a quarter of the run; zero Gamma means 0.1.
type StepDecay struct {
	Every int
	Gamma float64
}

// Rate implements Schedule.
func (s StepDecay) Rate(base float64, step, total int) float64 {
	every, gamma := s.Every, s.Gamma
	if every <= 0 {
		every = max(total/4, 1)
	}
	if gamma == 0 {
		gamma = 0.1
	}
	return base * math.Pow(gamma, float64(step/every))
}

// String names the schedule.
func (s StepDecay) String() string { return "step" }

// Cosine anneals from the base rate to Min·base over the run.
type Cosine struct{ Min float64 }

// Rate implements Schedule.
func (c Cosine) Rate(base float64, step, total int) float64 {
	if total <= 1 {
		return base
	}
	f := float64(step) / float64(total-1)
	lo := c.Min * base
	return lo + 0.5*(base-lo)*(1+math.Cos(math.Pi*f))
}

// String names the schedule.
func (Cosine) String() string { return "cosine" }

// ParseSchedule returns the schedule named constant, step or cosine.
func ParseSchedule(s string) (Schedule, error) {
	switch s {
	case "", "constant":
		return Constant{}, nil
	case "step":
		return StepDecay{}, nil
	case "cosine":
		return Cosine{}, nil
	}
	return nil, fmt.Errorf("train: unknown schedule %q (want constant, step or cosine)", s)
}
