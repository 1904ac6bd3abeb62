package train

import G "gorgonia.org/gorgonia"

// RestoreParams writes the checkpoint's parameter values into ps — a
// model's parameters in the order its training Net lists them (for a
// network.Network, its Scope's Params) — for inference from a finished
// or interrupted run. path names the checkpoint in errors. Any difference
// in number, names, shapes, dtypes or data lengths is an error that names
// the file, and the model is then partly restored: discard it.
func (c *Checkpoint) RestoreParams(path string, ps G.Nodes) error {
	return restoreParams(path, ps, c.Params)
}
