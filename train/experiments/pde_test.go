package experiments

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/train"
)

func TestPdeRejectsUnknownProblems(t *testing.T) {
	for _, p := range []string{"navier-stokes", "heat"} {
		_, err := Pde{}.Run(context.Background(), Options{Problem: p, Out: t.TempDir()})
		if err == nil || !UsageError(err) {
			t.Errorf("problem %q: got %v, want a usage error", p, err)
		}
	}
}

func TestPdeSineProbe(t *testing.T) {
	set, err := datasets.GenerateDarcy(datasets.DarcyConfig{S: 9}, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	p := pdeSineProbe(set, 2, []int{1, 4}, 1e-2)
	if p.N != 2 || len(p.X) != 2*81 || len(p.Deltas) != 2 {
		t.Fatalf("probe of %d rows, %d values, %d perturbations", p.N, len(p.X), len(p.Deltas))
	}
	for k, d := range p.Deltas {
		for r := range p.N {
			row := d[r*81 : (r+1)*81]
			n := 0.0
			for i, v := range row {
				n += v * v
				if x, y := i/9, i%9; (x == 0 || y == 0 || x == 8 || y == 8) && math.Abs(v) > 1e-15 {
					t.Errorf("perturbation %d is %g on the boundary node (%d, %d)", k, v, x, y)
				}
			}
			if math.Abs(math.Sqrt(n)-1e-2) > 1e-12 {
				t.Errorf("perturbation %d, row %d has norm %g, want 1e-2", k, r, math.Sqrt(n))
			}
		}
	}
}

func TestPdeRelativeL2IsInPhysicalUnits(t *testing.T) {
	nm := datasets.DarcyNorm{UMean: 2, UStd: 0.5}
	// Normalised 0 and 2 are physical 2 and 3: the error is 1/3, not
	// the normalised |0 − 2|/2 = 1.
	got := pdeRelativeL2(nm).Sample([]float32{0}, []float32{2})
	if math.Abs(got-1.0/3) > 1e-7 {
		t.Errorf("relative L2 = %v, want 1/3", got)
	}
}

func TestPdeFigure(t *testing.T) {
	set, err := datasets.GenerateDarcy(datasets.DarcyConfig{S: 8}, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	nm := set.Norm()
	pred := make([]float64, 2*64)
	for i := range pred {
		pred[i] = float64(i%7) / 7
	}
	var buf bytes.Buffer
	if err := pdeFigure(&buf, set, nm, map[string][]float64{"e": pred, "i": pred}, "e", "i", 2); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	// Six 8×8 fields scaled 4x per row, 6-pixel gaps.
	if b := img.Bounds(); b.Dx() != 6*(32+6)+6 || b.Dy() != 2*(32+6)+6 {
		t.Errorf("figure is %v", b)
	}
}

// TestPdeQuickRun runs the -quick configuration end to end (about 20 s
// on two cores) and checks the report's contract.
func TestPdeQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("trains four models for about 20 seconds")
	}
	dir := t.TempDir()
	rep, err := Pde{}.Run(context.Background(), Options{Experiment: "pde", Quick: true, Seed: 1, Out: dir, DataDir: t.TempDir(), Progress: train.ProgressNever})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"report.json", "report.md", "curves.csv", "pde_samples.png", train.PlotMetricVsT, train.PlotLipschitzVsT} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	var js train.Report
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err == nil {
		err = json.Unmarshal(b, &js)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Models) != 4 || len(js.Models) != 4 {
		t.Fatalf("%d models in the report", len(rep.Models))
	}
	for _, m := range rep.Models {
		if !(m.TestMetric > 0 && m.TestMetric < 1) || m.Params == 0 {
			t.Errorf("%s: test relative L2 %v, %d params", m.Name, m.TestMetric, m.Params)
		}
		if m.Kind == train.KindImplicit && len(m.Curve) != 7 {
			t.Errorf("%s: curve of %d points, want 7", m.Name, len(m.Curve))
		}
	}
	if rep.Models[0].Params != rep.Models[3].Params {
		t.Errorf("explicit-fno-1 has %d parameters, the implicit FNO %d; want equal", rep.Models[0].Params, rep.Models[3].Params)
	}
}
