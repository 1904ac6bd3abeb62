package experiments

import (
	"strconv"
	"strings"

	"gorgonia.org/tensor"
)

// settingsOf resolves the settings a run's manifest records: its
// options are read back from the fingerprint, and the solver, gradient
// mode and adjoint solver (recorded as Go values) are the names whose
// resolution gives the fingerprint back exactly. A manifest no options
// reproduce — written by other code — is an error listing what differs.
func settingsOf(man *Manifest, dir string) (Settings, error) {
	e, ok := All()[man.Experiment]
	if !ok {
		return Settings{}, usagef("%s/%s names the experiment %q, which this code does not have (it has %s)", dir, ManifestFile, man.Experiment, strings.Join(Names(), ", "))
	}
	o, err := optionsOf(man.Settings)
	if err != nil {
		return Settings{}, usagef("%s/%s: %v", dir, ManifestFile, err)
	}
	o.Experiment, o.Out = man.Experiment, dir
	var closest []string
	for _, solver := range []string{"", "anderson", "picard", "broyden"} {
		for _, backward := range []string{"", "ift", "jfb", "phantom", "unrolled"} {
			for _, adjoint := range []string{"", "anderson", "picard", "gmres"} {
				o.Solver, o.Backward, o.AdjointSolver = solver, backward, adjoint
				s, err := Resolve(e, o)
				if err != nil {
					continue
				}
				diffs := manifestDiffs(man, &Manifest{Experiment: man.Experiment, Settings: s.Fingerprint()})
				if len(diffs) == 0 {
					return s, nil
				}
				if closest == nil {
					closest = diffs
				}
			}
		}
	}
	return Settings{}, usagef("%s/%s records settings this code does not reproduce (%s): it was written by another version; retrain, or serve it with the code that trained it",
		dir, ManifestFile, strings.Join(closest, "; "))
}

// optionsOf reads the options back from a fingerprint (Settings.Fingerprint).
func optionsOf(fp map[string]string) (Options, error) {
	var o Options
	var err error
	p := parser{fp: fp}
	o.Problem, o.Dataset, o.Schedule, o.Optimizer = fp["problem"], fp["dataset"], fp["schedule"], fp["optimizer"]
	o.Epochs, o.Batch, o.Hidden, o.MaxIter = p.int("epochs"), p.int("batch"), p.int("hidden"), p.int("max_iter")
	o.LR, o.Clip, o.Tol, o.Radius = p.float("lr"), p.float("clip"), p.float("tol"), p.float("radius")
	o.Quick, o.WarmStart = p.bool("quick"), p.bool("warm_start")
	if o.Seed, err = strconv.ParseUint(fp["seed"], 10, 64); err != nil && p.err == nil {
		p.err = usagef("setting seed is %q: %v", fp["seed"], err)
	}
	switch fp["dtype"] {
	case tensor.Float32.String():
		o.Dtype = tensor.Float32
	case tensor.Float64.String():
		o.Dtype = tensor.Float64
	default:
		if p.err == nil {
			p.err = usagef("setting dtype is %q, want float32 or float64", fp["dtype"])
		}
	}
	return o, p.err
}

// parser reads typed values off a fingerprint, keeping the first error.
type parser struct {
	fp  map[string]string
	err error
}

func (p *parser) fail(key string, err error) {
	if p.err == nil {
		p.err = usagef("setting %s is %q: %v", key, p.fp[key], err)
	}
}

func (p *parser) int(key string) int {
	v, err := strconv.Atoi(p.fp[key])
	if err != nil {
		p.fail(key, err)
	}
	return v
}

func (p *parser) float(key string) float64 {
	v, err := strconv.ParseFloat(p.fp[key], 64)
	if err != nil {
		p.fail(key, err)
	}
	return v
}

func (p *parser) bool(key string) bool {
	v, err := strconv.ParseBool(p.fp[key])
	if err != nil {
		p.fail(key, err)
	}
	return v
}
