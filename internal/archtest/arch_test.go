package archtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/implicit-ml/implicit"

// pkg is what `go list -json` says of one package.
type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
	Standard   bool
}

// listPackages lists every package of the module with its direct imports
// and its transitive dependencies (test files excluded: the rules are
// about what a user's program links).
func listPackages(t *testing.T) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list: %v\n%s", err, errb.String())
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(&out)
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = p
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

// families are the model-family packages under layers; allowedFamily
// lists the one family import a family may make (imaging's PGD cell is
// built on conv's denoiser).
var (
	families      = []string{"layers/attention", "layers/conv", "layers/fourier", "layers/graph", "layers/imaging"}
	allowedFamily = map[string][]string{"layers/imaging": {"layers/conv"}}
)

func inModule(path string) (string, bool) {
	if path == module {
		return "", true
	}
	rest, ok := strings.CutPrefix(path, module+"/")
	return rest, ok
}

// violations checks one package against every rule and returns what it
// breaks. deps are its transitive dependencies, std reports whether an
// import path is in the standard library.
func violations(path string, imports, deps []string, std func(string) bool) []string {
	rel, _ := inModule(path)
	var bad []string
	under := func(prefix string) bool { return rel == prefix || strings.HasPrefix(rel, prefix+"/") }
	// depends reports a dependency on target or a package below it:
	// target is module-relative, or a full path outside the module.
	depends := func(target string) (string, bool) {
		external := strings.Contains(strings.Split(target, "/")[0], ".")
		for _, d := range deps {
			r, ok := inModule(d)
			if external {
				r, ok = d, true
			}
			if ok && (r == target || strings.HasPrefix(r, target+"/")) {
				return d, true
			}
		}
		return "", false
	}
	switch {
	case rel == "deq":
		for _, d := range deps {
			if !std(d) {
				bad = append(bad, fmt.Sprintf("deq depends on %s: deq may use the standard library only", d))
			}
		}
	case rel == "layers":
		for _, f := range families {
			if d, ok := depends(f); ok {
				bad = append(bad, fmt.Sprintf("layers depends on the model family %s", d))
			}
		}
	case slices.Contains(families, rel):
		for _, f := range families {
			if f == rel || slices.Contains(allowedFamily[rel], f) {
				continue
			}
			for _, imp := range imports {
				if r, ok := inModule(imp); ok && r == f {
					bad = append(bad, fmt.Sprintf("%s imports the family %s; families import layers, and another family only where its doc says why", rel, f))
				}
			}
		}
		if !slices.Contains(imports, module+"/layers") {
			bad = append(bad, fmt.Sprintf("%s does not import layers: a family is built on the framework", rel))
		}
	case rel == "train" || under("internal/opkit") || under("internal/gradcheck") || under("internal/linalg"):
		for _, target := range []string{"layers", "network", "train/experiments", "gonum.org/v1/plot"} {
			if d, ok := depends(target); ok {
				bad = append(bad, fmt.Sprintf("%s depends on %s: the loop and the op kit know no concrete model and draw no plots", rel, d))
			}
		}
	case rel == "datasets":
		for _, target := range []string{"layers", "network", "train"} {
			if d, ok := depends(target); ok {
				bad = append(bad, fmt.Sprintf("datasets depends on %s: datasets know no model or training package", d))
			}
		}
	case rel == "network" || rel == "train/report":
		if d, ok := depends("train/experiments"); ok {
			bad = append(bad, fmt.Sprintf("%s depends on %s: the workloads sit above it", rel, d))
		}
	}
	for _, imp := range imports {
		if r, ok := inModule(imp); ok && !under("cmd") && strings.HasPrefix(r, "cmd/") {
			bad = append(bad, fmt.Sprintf("%s imports the command %s: nothing imports cmd/", rel, imp))
		}
	}
	return bad
}

// TestImportRules: every package of the module keeps the import rules.
func TestImportRules(t *testing.T) {
	pkgs := listPackages(t)
	std := func(path string) bool {
		if p, ok := pkgs[path]; ok {
			return p.Standard
		}
		// Not a module package: the standard library has no dot in its
		// first path element.
		first, _, _ := strings.Cut(path, "/")
		return !strings.Contains(first, ".")
	}
	for path, p := range pkgs {
		for _, v := range violations(path, p.Imports, p.Deps, std) {
			t.Error(v)
		}
	}
	for _, must := range []string{"deq", "layers", "train", "datasets", "network", "train/report"} {
		if _, ok := pkgs[module+"/"+must]; !ok {
			t.Errorf("package %s is missing: the rules above check nothing for it", must)
		}
	}
}

// TestRulesCatchViolations feeds the checker dependency lists that break
// each rule, so a rule that silently stopped working fails here.
func TestRulesCatchViolations(t *testing.T) {
	std := func(p string) bool { return !strings.Contains(strings.Split(p, "/")[0], ".") }
	m := func(rel string) string { return module + "/" + rel }
	for _, c := range []struct {
		name          string
		pkg           string
		imports, deps []string
	}{
		{"deq uses a third-party package", m("deq"), nil, []string{"fmt", "gonum.org/v1/gonum/mat"}},
		{"deq uses the op kit", m("deq"), nil, []string{"fmt", m("internal/opkit")}},
		{"layers uses a family", m("layers"), nil, []string{m("layers/fourier")}},
		{"a family uses another", m("layers/graph"), []string{m("layers"), m("layers/conv")}, nil},
		{"a family without layers", m("layers/conv"), []string{m("internal/opkit")}, nil},
		{"train uses layers", m("train"), nil, []string{m("layers")}},
		{"train draws plots", m("train"), nil, []string{"gonum.org/v1/plot/vg"}},
		{"the op kit uses layers", m("internal/opkit"), nil, []string{m("layers")}},
		{"datasets uses train", m("datasets"), nil, []string{m("train")}},
		{"network uses the workloads", m("network"), nil, []string{m("train/experiments")}},
		{"a package imports a command", m("train/experiments"), []string{m("cmd/train")}, nil},
	} {
		if len(violations(c.pkg, c.imports, c.deps, std)) == 0 {
			t.Errorf("%s: not reported", c.name)
		}
	}
	if v := violations(m("layers/imaging"), []string{m("layers"), m("layers/conv")}, nil, std); len(v) != 0 {
		t.Errorf("imaging's declared use of conv is reported: %v", v)
	}
}
