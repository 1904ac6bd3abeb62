package experiments

import (
	"encoding/csv"
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/implicit-ml/implicit/train/report"
)

// writeCurves saves every implicit model's curves as CSV and draws
// PSNR(t) (band: ± one standard deviation over the test images) and L_t
// per probe frequency.
func (e *deblurEval) writeCurves(dir string) error {
	if len(e.order) == 0 {
		return nil
	}
	st := e.st
	err := report.WriteFile(filepath.Join(dir, "deblur_curves.csv"), func(w io.Writer) error {
		cw := csv.NewWriter(w)
		head := []string{"t"}
		for _, name := range e.order {
			head = append(head, name+"_psnr", name+"_psnr_std", name+"_psnr_y0_zero", name+"_lipschitz")
			for _, m := range e.curves[name].modes {
				head = append(head, fmt.Sprintf("%s_lipschitz_f%d_%d_sigma%.3g", name, m.Fy, m.Fx, m.Sigma))
			}
		}
		cw.Write(head)
		for t := range st.maxT {
			rec := []string{strconv.Itoa(t + 1)}
			for _, name := range e.order {
				c := e.curves[name]
				rec = append(rec, report.CSVFloat(c.psnr[t]), report.CSVFloat(c.std[t]), report.CSVFloat(c.psnrZero[t]), report.CSVFloat(c.lip[t]))
				for _, v := range c.lipByRank[t] {
					rec = append(rec, report.CSVFloat(v))
				}
			}
			cw.Write(rec)
		}
		cw.Flush()
		return cw.Error()
	})
	if err != nil {
		return err
	}
	ts := make([]float64, st.maxT)
	for t := range ts {
		ts[t] = float64(t + 1)
	}
	var psnrs, byRank []report.Series
	for _, name := range e.order {
		c := e.curves[name]
		s := report.Series{Name: name + " (± std over images)", X: ts, Y: c.psnr, Lo: make([]float64, st.maxT), Hi: make([]float64, st.maxT)}
		for t := range ts {
			s.Lo[t], s.Hi[t] = c.psnr[t]-c.std[t], c.psnr[t]+c.std[t]
		}
		psnrs = append(psnrs, s)
		for r, m := range c.modes {
			s := report.Series{Name: fmt.Sprintf("%s, rank %g (σ = %.2g)", name, st.ranks[r], m.Sigma), X: ts}
			for t := range st.maxT {
				s.Y = append(s.Y, c.lipByRank[t][r])
			}
			byRank = append(byRank, s)
		}
	}
	if err := report.LinePlot(filepath.Join(dir, "deblur_psnr_vs_t.png"), "deblur: PSNR of y_t from y₀ = Aᵀx", "test-time iterations t", "PSNR (dB)", true, false, psnrs); err != nil {
		return err
	}
	return report.LinePlot(filepath.Join(dir, "deblur_lipschitz_by_rank.png"), "deblur: L_t per probe frequency (y₀ = 0)", "test-time iterations t", "L_t", true, true, byRank)
}

// writeTable writes the paper's table: every model's parameters, training
// time and PSNR, the implicit ones at t = evalT and at the fixed point.
func (e *deblurEval) writeTable(path string, rep *report.Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "| model | params | train time (s) | PSNR (dB), implicit at t = %d | implicit at the fixed point | L (implicit: L_%d from y₀ = 0) |\n|---|--:|--:|--:|--:|--:|\n", e.st.evalT, e.st.evalT)
	for _, m := range rep.Models {
		fp := "–"
		if v, ok := m.Extra["psnr_fixed_point"]; ok {
			fp = fmt.Sprintf("%.2f ± %.2f", v, m.Extra["psnr_fixed_point_std"])
		}
		fmt.Fprintf(&b, "| %s | %d | %.0f | %.2f ± %.2f | %s | %.3g |\n", m.Name, m.Params, m.TrainSeconds, m.TestMetric, m.TestMetricStd, fp, m.Lipschitz)
	}
	b.WriteString("\n± is the standard deviation over the test images.\n")
	return report.WriteFile(path, func(w io.Writer) error {
		_, err := io.WriteString(w, b.String())
		return err
	})
}

// gridColumn is one labelled column of the reconstruction grid.
type gridColumn struct {
	label string
	imgs  []float32 // rows × H×W
}

// writeGrid draws, for the first st.show test images, the measurement,
// the explicit baselines' reconstructions, the implicit models' iterates
// and the clean image, each column labelled.
func (e *deblurEval) writeGrid(path string) error {
	st := e.st
	cols := []gridColumn{{"measurement x", e.test.X}}
	add := func(name, label string, k int) {
		if v := e.show[name]; len(v) > k && v[k] != nil {
			cols = append(cols, gridColumn{label, v[k]})
		}
	}
	add(deblurOnce, "denoiser once", 0)
	last := st.stages[len(st.stages)-1]
	add(deblurUnfolded("pgd", st.stages), fmt.Sprintf("unfolded PGD ×%d", last), 0)
	add(deblurUnfolded("hqs", st.stages), fmt.Sprintf("unfolded HQS ×%d", last), 0)
	for _, name := range e.order {
		for k, t := range st.gridTs {
			if name == "implicit-hqs" || t == st.evalT {
				add(name, fmt.Sprintf("%s t = %d", strings.TrimPrefix(name, "implicit-"), t), k)
			}
		}
	}
	cols = append(cols, gridColumn{"clean", e.test.Y})
	return report.WriteFile(path, func(w io.Writer) error {
		return drawGrid(w, cols, min(st.show, e.test.N), e.test.H, e.test.W)
	})
}

// drawGrid renders columns of grey images (values clamped to [0, 1]),
// scaled up three times, under their labels, as a PNG.
func drawGrid(w io.Writer, cols []gridColumn, rows, h, wd int) error {
	const scale, gap, head = 3, 6, 28
	cell := wd*scale + gap
	width, height := len(cols)*cell+gap, head+rows*(h*scale+gap)+gap
	c := vgimg.NewWith(vgimg.UseWH(vg.Length(width), vg.Length(height)), vgimg.UseDPI(72))
	face := font.DefaultCache.Lookup(font.Font{Typeface: "Liberation", Variant: "Sans"}, 9)
	if face.Face == nil {
		return fmt.Errorf("experiments: no font to label the reconstruction grid")
	}
	c.SetColor(color.Black)
	for k, col := range cols {
		x0 := gap + k*cell
		for i, line := range splitLabel(col.label) {
			c.FillString(face, vg.Point{X: vg.Length(x0), Y: vg.Length(height - 11 - 10*i)}, line)
		}
		for r := range rows {
			if len(col.imgs) < (r+1)*h*wd {
				continue
			}
			tile := image.NewGray(image.Rect(0, 0, wd*scale, h*scale))
			for i := range h * scale {
				for j := range wd * scale {
					v := math.Max(0, math.Min(1, float64(col.imgs[r*h*wd+(i/scale)*wd+j/scale])))
					tile.SetGray(j, i, color.Gray{Y: uint8(math.Round(255 * v))})
				}
			}
			y1 := height - head - r*(h*scale+gap) // top of the tile, from the bottom
			c.DrawImage(vg.Rectangle{Min: vg.Point{X: vg.Length(x0), Y: vg.Length(y1 - h*scale)}, Max: vg.Point{X: vg.Length(x0 + wd*scale), Y: vg.Length(y1)}}, tile)
		}
	}
	_, err := vgimg.PngCanvas{Canvas: c}.WriteTo(w)
	return err
}

// splitLabel breaks a column label into at most two lines of about the
// width of a tile.
func splitLabel(s string) []string {
	if len(s) <= 14 {
		return []string{s}
	}
	if i := strings.LastIndex(s[:14], " "); i > 0 {
		return []string{s[:i], s[i+1:]}
	}
	return []string{s}
}
