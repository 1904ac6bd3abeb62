package train

import "fmt"

// EarlyStopping returns a hook that stops training when the epoch metric
// (State.EpochMetric, set by an earlier epoch hook such as a validation
// evaluation) has not improved for patience epochs.
func EarlyStopping(patience int, higherIsBetter bool) Hook {
	best, since, seen := 0.0, 0, false
	return Hook{Name: "early-stopping", Epoch: func(s *State) error {
		if s.EpochMetric == nil {
			return fmt.Errorf("early stopping needs an epoch metric (add a validation hook before it)")
		}
		m := *s.EpochMetric
		better := !seen || (higherIsBetter && m > best) || (!higherIsBetter && m < best)
		if better {
			best, since, seen = m, 0, true
			return nil
		}
		since++
		if since >= patience {
			s.Stop = true
		}
		return nil
	}}
}

// Validation returns an epoch hook that evaluates the metric on data with
// ev (an Evaluator of the same model, sharing its parameters) and records
// it as the epoch metric.
func Validation(ev *Evaluator, data Dataset, m Metric) Hook {
	return Hook{Name: "validation", Epoch: func(s *State) error {
		e, err := ev.Evaluate(data, m)
		if err != nil {
			return err
		}
		v := e.Mean
		s.EpochMetric = &v
		return nil
	}}
}
