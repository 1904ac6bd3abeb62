package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// benchCase is one model of one workload; fixed > 0 is its fixed-iteration
// variant (fixed forward and fixed adjoint iterations, no early stop), which
// makes the per-step comparison exact where iteration counts differ.
type benchCase struct {
	workload, model string
	fixed           int
}

func (c benchCase) String() string {
	s := c.workload + "/" + c.model
	if c.fixed > 0 {
		s += "@" + strconv.Itoa(c.fixed)
	}
	return s
}

// implicitModels are the workloads' models that solve for a fixed point.
var implicitModels = map[string]bool{"classify/deq": true, "reason/deq": true, "deblur/pgd": true, "deblur/hqs": true,
	"pde/deq": true, "darcy/implicit": true}

// implicit reports whether the case's model solves for a fixed point, so
// that PyTorch runs it with each forward solver and it has a
// fixed-iteration variant.
func (c benchCase) implicit() bool { return implicitModels[c.workload+"/"+c.model] }

func parseCases(s string) ([]benchCase, error) {
	var out []benchCase
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		w, m, ok := strings.Cut(f, "/")
		if !ok || w == "" || m == "" {
			return nil, fmt.Errorf("-cases: %q is not WORKLOAD/MODEL[@K]", f)
		}
		c := benchCase{workload: w, model: m}
		if m, k, ok := strings.Cut(m, "@"); ok {
			n, err := strconv.Atoi(k)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("-cases: %q: the iteration count after @ must be a positive integer", f)
			}
			c.model, c.fixed = m, n
		}
		if c.fixed > 0 && !c.implicit() {
			return nil, fmt.Errorf("-cases: %q: only implicit models have a fixed-iteration variant", f)
		}
		out = append(out, c)
	}
	return out, nil
}

// side is one program that runs a case: a Go build or a PyTorch variant.
type side struct {
	label string
	torch bool
	args  func(c *config, cs benchCase) (name string, args []string)
}

// sides returns, in the order they alternate, the Go builds and the
// PyTorch variants that run cs.
func (c *config) sides(cs benchCase) []side {
	var out []side
	for _, bin := range c.gobench {
		bin := bin
		out = append(out, side{label: "go:" + filepath.Base(bin), args: func(c *config, cs benchCase) (string, []string) {
			a := []string{"-workload", cs.workload, "-model", cs.model, "-batch", strconv.Itoa(c.batch),
				"-steps", strconv.Itoa(c.steps), "-warmup", strconv.Itoa(c.warmup), "-data", c.data}
			a = omitDefaults(a, "-", c)
			if cs.fixed > 0 {
				a = append(a, "-fixed", strconv.Itoa(cs.fixed))
			}
			if c.inferReps > 0 {
				a = append(a, "-infer-reps", strconv.Itoa(c.inferReps))
			}
			return bin, a
		}})
	}
	solvers := []string{"port"}
	if cs.implicit() {
		solvers = c.torchSolvers
	}
	for _, s := range solvers {
		s := s
		out = append(out, side{label: "pytorch:" + s, torch: true, args: func(c *config, cs benchCase) (string, []string) {
			a := []string{c.script, "--workload", cs.workload, "--model", cs.model, "--solver", s,
				"--batch", strconv.Itoa(c.batch), "--steps", strconv.Itoa(c.steps), "--warmup", strconv.Itoa(c.warmup),
				"--threads", strconv.Itoa(c.threads), "--data", c.data}
			a = omitDefaults(a, "--", c)
			if cs.fixed > 0 {
				a = append(a, "--fixed", strconv.Itoa(cs.fixed))
			}
			if c.inferReps > 0 {
				a = append(a, "--infer-reps", strconv.Itoa(c.inferReps))
			}
			return c.python, a
		}})
	}
	return out
}

// run runs the case on this side with extra arguments appended (each
// side's spelling of them: -x for Go, --x for Python).
func (sd side) run(c *config, cs benchCase, extra map[string]string) (result, error) {
	name, args := sd.args(c, cs)
	for k, v := range extra {
		if sd.torch {
			args = append(args, "--"+k, v)
		} else {
			args = append(args, "-"+k, v)
		}
	}
	r, err := runJSON(c.env, name, args...)
	if err != nil && sd.torch {
		err = fmt.Errorf("%w (install PyTorch with `make bench-deps`)", err)
	}
	return r, err
}

// omitDefaults drops the batch and steps arguments that leave the choice
// to each workload (-batch 0, -steps -1).
func omitDefaults(args []string, dash string, c *config) []string {
	for i := 0; i+1 < len(args); {
		if (args[i] == dash+"batch" && c.batch == 0) || (args[i] == dash+"steps" && c.steps < 0) {
			args = slices.Delete(args, i, i+2)
			continue
		}
		i++
	}
	return args
}
