package experiments

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	G "gorgonia.org/gorgonia"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/network"
	"github.com/implicit-ml/implicit/train"
)

// LoadOptions configure LoadModel. The zero value loads the run's
// implicit model with the solver it was trained with.
type LoadOptions struct {
	// Model names the model to load, as the run's report names it
	// (implicit-deq, explicit-mlp…); empty means the experiment's first
	// implicit model.
	Model string
	// Solver, when set, replaces the forward solver s the run's settings
	// give the implicit layers by Solver(s): a server wraps it to give each
	// sample its own budget.
	Solver func(deq.Solver) deq.Solver
}

// Loaded is a trained model rebuilt from its run folder, holding the
// checkpoint's parameters.
type Loaded struct {
	// Model is the network, built once; its parameters hold the trained
	// values, shared by every graph it builds from now on.
	Model *network.Network
	// Experiment and Settings are the run's, as run.json records them.
	Experiment string
	Settings   Settings
	// Models lists the names of every model of the run.
	Models []string
	// Checkpoint is the file the parameters came from; Finished says
	// whether its training had ended (an interrupted run can be served
	// too), Epoch and Step where it stood.
	Checkpoint  string
	Finished    bool
	Epoch, Step int
	// Input and Output are the per-sample shapes of the model's input and
	// output.
	Input, Output []int
	// Implicits are the model's implicit layers (of its first build).
	Implicits []*layers.Implicit
	// Stop is the forward stopping rule of the first implicit layer (the
	// zero Stop when there is none).
	Stop deq.Stop
	// Contraction bounds the implicit layer's contraction factor when the
	// model has one implicit layer whose cell can bound it (HasContraction).
	Contraction    layers.Contraction
	HasContraction bool
}

// LoadModel rebuilds a model of the run in runDir exactly as the run
// built it — the experiment and settings of its run.json, the parameters
// of its checkpoint — for inference. It refuses a folder without a run, a
// run.json this code cannot reproduce, a missing or corrupt checkpoint,
// and a checkpoint written by another model or configuration, each with
// an error that says what to do.
func LoadModel(runDir string, opts LoadOptions) (*Loaded, error) {
	man, err := readManifest(runDir)
	if err != nil {
		return nil, err
	}
	if man == nil {
		return nil, usagef("%s holds no run (no %s): pass a folder that `go run ./cmd/train -out DIR` wrote", runDir, ManifestFile)
	}
	if seeds := man.Settings["seeds"]; seeds != "" {
		return nil, usagef("%s is a run of seeds %s: load one seed's run, %s", runDir, seeds, filepath.Join(runDir, "seed-N"))
	}
	s, err := settingsOf(man, runDir)
	if err != nil {
		return nil, err
	}
	if opts.Solver != nil {
		s.Solver = opts.Solver(s.Solver)
	}
	models, err := servedModels(s)
	if err != nil {
		return nil, err
	}
	nm, names, err := pickModel(man.Experiment, models, opts.Model)
	if err != nil {
		return nil, err
	}
	l := &Loaded{Model: nm, Experiment: man.Experiment, Settings: s, Models: names,
		Input: nm.Spec().Input, Output: nm.Spec().Target}
	if err := l.restore(runDir); err != nil {
		return nil, err
	}
	return l, nil
}

// pickModel returns the model named name, or the first implicit one.
func pickModel(experiment string, models []model, name string) (*network.Network, []string, error) {
	var names []string
	var pick model
	for _, m := range models {
		names = append(names, m.Name())
		if (name == "" && pick == nil && m.Kind() == train.KindImplicit) || m.Name() == name {
			pick = m
		}
	}
	if pick == nil && name == "" && len(models) > 0 {
		pick = models[0]
	}
	if pick == nil {
		return nil, nil, usagef("the %s run has no model %q; its models are %s", experiment, name, strings.Join(names, ", "))
	}
	nm, ok := pick.(*network.Network)
	if !ok {
		return nil, nil, fmt.Errorf("experiments: model %s is a %T, not a network", pick.Name(), pick)
	}
	return nm, names, nil
}

// restore builds the model once, checks its checkpoint against it and
// the settings, and restores the parameters and the layers' state.
func (l *Loaded) restore(runDir string) error {
	nm, s := l.Model, l.Settings
	net, err := nm.Build(G.NewGraph(), 1, false)
	if err != nil {
		return err
	}
	l.Checkpoint = filepath.Join(runDir, "checkpoints", nm.Name()+".ckpt")
	c, err := train.LoadCheckpoint(l.Checkpoint)
	if errors.Is(err, train.ErrNoCheckpoint) {
		have, _ := filepath.Glob(filepath.Join(runDir, "checkpoints", "*.ckpt"))
		return usagef("%s has no checkpoint of %s (%s is missing; checkpoints there: %v): train it first, or choose another model", runDir, nm.Name(), l.Checkpoint, have)
	}
	if err != nil {
		return err
	}
	params := nm.Scope().Params()
	if err := checkpointMatches(c, l.Checkpoint, nm.Name(), s, len(params)); err != nil {
		return err
	}
	if err := c.RestoreParams(l.Checkpoint, params); err != nil {
		return err
	}
	if net.SetState != nil && c.ModelState != nil {
		if err := net.SetState(c.ModelState); err != nil {
			return fmt.Errorf("experiments: checkpoint %s: the model's state: %w", l.Checkpoint, err)
		}
	}
	l.Finished, l.Epoch, l.Step = c.Done, c.Epoch, c.Step
	l.Implicits = nm.Scope().Implicits()
	if len(l.Implicits) > 0 {
		l.Stop = l.Implicits[0].Config().Stop
	}
	if len(l.Implicits) == 1 {
		l.Contraction, l.HasContraction = l.Implicits[0].Contraction()
	}
	return nil
}

// checkpointMatches refuses a checkpoint of another model or written
// under other settings: its model name, parameter count, seed, dtype and
// quick flag (where it records them) must be the run's.
func checkpointMatches(c *train.Checkpoint, path, name string, s Settings, params int) error {
	if c.Model != name {
		return fmt.Errorf("experiments: checkpoint %s holds model %q, not %q; it was copied from another run", path, c.Model, name)
	}
	want := map[string]string{
		"model": name, "params": strconv.Itoa(params), "seed": strconv.FormatUint(s.Seed, 10),
		"dtype": s.Dtype.String(), "quick": strconv.FormatBool(s.Quick),
	}
	var diffs []string
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got, ok := c.Fingerprint[k]; ok && got != want[k] {
			diffs = append(diffs, fmt.Sprintf("%s: checkpoint %s, run.json %s", k, got, want[k]))
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("experiments: checkpoint %s was written under another configuration than its run.json (%s); it does not belong to this run", path, strings.Join(diffs, "; "))
	}
	return nil
}
