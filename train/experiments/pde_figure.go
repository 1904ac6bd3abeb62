package experiments

import (
	"context"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"path/filepath"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/train"
	"github.com/implicit-ml/implicit/train/report"
)

// pdeShow collects the models' predictions of a few test samples and
// draws them into pde_samples.png.
type pdeShow struct {
	x     []float64 // the shown samples' normalised inputs
	n     int       // how many
	preds map[string][]float64
	draw  func(w io.Writer, preds map[string][]float64) error
}

// newPdeShow shows the samples whose inputs (inDim values each) are x.
func newPdeShow(x []float64, inDim int, draw func(w io.Writer, preds map[string][]float64) error) *pdeShow {
	return &pdeShow{x: x, n: len(x) / inDim, preds: map[string][]float64{}, draw: draw}
}

func (p *pdeShow) after(_ context.Context, m model, ev *train.Evaluator, _ *report.ModelReport) error {
	if p.n == 0 {
		return nil
	}
	y, err := ev.Predict(p.x, p.n)
	if err != nil {
		return err
	}
	p.preds[m.Name()] = y
	return nil
}

func (p *pdeShow) figure(dir string, _ *report.Report) error {
	return report.WriteFile(filepath.Join(dir, "pde_samples.png"), func(w io.Writer) error { return p.draw(w, p.preds) })
}

// pdePanel is one field of a figure row, drawn with the colour scale
// [lo, hi]; a nil field leaves its place blank.
type pdePanel struct {
	v      []float64
	lo, hi float64
}

// pdeRow is the row of a sample: its input, its target, the two models'
// predictions (nil when missing) on the target's scale, and their
// absolute errors on one shared scale.
func pdeRow(in, target, explicit, implicit []float64) []pdePanel {
	tlo, thi := pdeSpan(target)
	ilo, ihi := pdeSpan(in)
	ee, ei := pdeAbsDiff(explicit, target), pdeAbsDiff(implicit, target)
	ehi := 0.0
	for _, e := range [][]float64{ee, ei} {
		if _, hi := pdeSpan(e); hi > ehi {
			ehi = hi
		}
	}
	return []pdePanel{{in, ilo, ihi}, {target, tlo, thi}, {explicit, tlo, thi}, {implicit, tlo, thi}, {ee, 0, ehi}, {ei, 0, ehi}}
}

// pdeFigure draws rows of panels of s×s fields side by side (viridis).
func pdeFigure(w io.Writer, s int, rows [][]pdePanel) error {
	const scale, gap = 4, 6
	cols := 0
	for _, r := range rows {
		cols = max(cols, len(r))
	}
	cell := s*scale + gap
	img := image.NewRGBA(image.Rect(0, 0, cols*cell+gap, len(rows)*cell+gap))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for r, row := range rows {
		for col, f := range row {
			if f.v == nil {
				continue
			}
			x0, y0 := gap+col*cell, gap+r*cell
			for i := range s {
				for j := range s {
					c := pdeViridis((f.v[i*s+j] - f.lo) / math.Max(f.hi-f.lo, 1e-12))
					for dy := range scale {
						for dx := range scale {
							img.Set(x0+j*scale+dx, y0+i*scale+dy, c)
						}
					}
				}
			}
		}
	}
	return png.Encode(w, img)
}

// darcyPanels are the rows of the Darcy figure: a, u, the explicit and
// implicit models' û and their errors, in physical units.
func darcyPanels(test *datasets.DarcySet, nm datasets.DarcyNorm, preds map[string][]float64, explicit, implicit string, rows int) [][]pdePanel {
	s := test.S
	var out [][]pdePanel
	for r := range min(rows, test.Len()) {
		out = append(out, pdeRow(pdeFloat64s(test.A[r*s*s:(r+1)*s*s]), pdeFloat64s(test.U[r*s*s:(r+1)*s*s]),
			pdePrediction(preds[explicit], r, s*s, nm.DenormalizeTarget), pdePrediction(preds[implicit], r, s*s, nm.DenormalizeTarget)))
	}
	return out
}

// pdePrediction returns sample r's prediction (n values) mapped back to
// physical units by denorm, or nil when p does not hold it.
func pdePrediction(p []float64, r, n int, denorm func([]float32)) []float64 {
	if len(p) < (r+1)*n {
		return nil
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(p[r*n+i])
	}
	denorm(v)
	return pdeFloat64s(v)
}
func pdeFloat64s(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func pdeSpan(v []float64) (lo, hi float64) {
	if len(v) == 0 {
		return 0, 0
	}
	lo, hi = v[0], v[0]
	for _, x := range v {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return lo, hi
}

func pdeAbsDiff(a, b []float64) []float64 {
	if a == nil {
		return nil
	}
	out := make([]float64, len(a))
	for i := range a {
		out[i] = math.Abs(a[i] - b[i])
	}
	return out
}

// pdeViridis maps t ∈ [0, 1] to matplotlib's viridis colour map, linearly
// between five of its colours.
func pdeViridis(t float64) color.RGBA {
	stops := [...][3]float64{{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}}
	t = math.Max(0, math.Min(1, t))
	if math.IsNaN(t) {
		t = 0
	}
	f := t * float64(len(stops)-1)
	i := min(int(f), len(stops)-2)
	u := f - float64(i)
	var c [3]uint8
	for k := range c {
		c[k] = uint8(math.Round(stops[i][k]*(1-u) + stops[i+1][k]*u))
	}
	return color.RGBA{c[0], c[1], c[2], 0xff}
}
