package experiments

import (
	"bytes"
	"image/png"
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
)

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
	if err := pdeFigure(&buf, set.S, darcyPanels(set, nm, map[string][]float64{"e": pred, "i": pred}, "e", "i", 2)); err != nil {
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

// TestPdeEqualParameters: the one-layer explicit FNO has exactly the
// implicit FNO's parameters, so their comparison is at equal size.
func TestPdeEqualParameters(t *testing.T) {
	ps := defaultPdeSettings().quick()
	models := pdeModels(ps, 16, tensor.Float32, 1, layers.ImplicitConfig{Backward: deq.Phantom{}})
	count := map[string]int{}
	for _, m := range models {
		if _, err := m.Build(G.NewGraph(), 2, false); err != nil {
			t.Fatal(err)
		}
		count[m.Name()] = m.Params()
	}
	if count["explicit-fno-1"] == 0 || count["explicit-fno-1"] != count["implicit-fno"] {
		t.Errorf("parameters: %v; want explicit-fno-1 = implicit-fno", count)
	}
}
