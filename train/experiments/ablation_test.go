package experiments

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/implicit-ml/implicit/train/report"
)

// TestAblationPdeQuick runs the quick ablation on the Darcy workload: every
// configuration of the quick grid (two solvers × three modes × with and
// without the Jacobian penalty on the Fourier cell, and the unrolled
// twin) trains without failing, and the penalty changes training.
func TestAblationPdeQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 13 Fourier models (about a minute)")
	}
	s, err := Resolve(Ablation{}, Options{Problem: "pde", Quick: true, Seed: 1, Out: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Ablation{}.Run(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Models) != 13 {
		t.Fatalf("%d models, want 13", len(rep.Models))
	}
	byName := map[string]report.ModelReport{}
	for _, m := range rep.Models {
		byName[m.Name] = m
		if m.Extra["failed"] == 1 || math.IsNaN(m.TestMetric) || m.TestMetric <= 0 || m.TestMetric >= 1 {
			t.Errorf("%s: error %v, extra %v", m.Name, m.TestMetric, m.Extra)
		}
	}
	for name, m := range byName {
		if !strings.HasSuffix(name, "/jac") {
			continue
		}
		plain := byName[strings.TrimSuffix(name, "/jac")]
		if m.TestMetric == plain.TestMetric && m.Extra["spectral_radius"] == plain.Extra["spectral_radius"] {
			t.Errorf("%s trained exactly as %s: the penalty had no effect", name, plain.Name)
		}
	}
	if _, ok := byName["unrolled-10"]; !ok {
		t.Errorf("no unrolled twin among %v", rep.Models)
	}
}
