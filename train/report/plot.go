package report

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/implicit-ml/implicit/train"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// File names written by WritePlots, in the order it returns them.
const (
	PlotMetricVsT    = "metric_vs_t.png"
	PlotLipschitzVsT = "lipschitz_vs_t.png"
)

// Series is one line of a LinePlot.
type Series struct {
	// Name labels the series in the legend; an empty Name leaves it out.
	Name string
	// X and Y are the coordinates of the points, in drawing order; they
	// must have the same length. A point with a NaN or infinite
	// coordinate, or a non-positive one on a log axis, is dropped.
	X, Y []float64
	// Dashed draws the line dashed, as for a reference level.
	Dashed bool
	// Points marks every point with a glyph. A series left with a single
	// point is always marked, since a line through it would be invisible.
	Points bool
	// Style, when positive, draws the series in the style (colour, dash,
	// glyph) of the Style-th series instead of its own position's: the
	// pieces of a curve broken at a gap share one look and one legend
	// entry.
	Style int
	// Lo and Hi, when set (the same length as X), shade a band from Lo to
	// Hi at each X in the series' colour: the spread over seeds. Points
	// whose band cannot be drawn are left out of the band only.
	Lo, Hi []float64
}

// Figure geometry. 6×4 inches at 150 dpi is 900×600 pixels: sharp in a
// Markdown viewer yet small enough to commit.
const (
	plotWidth  = 6 * vg.Inch
	plotHeight = 4 * vg.Inch
	plotDPI    = 150
	plotMargin = 6  // points around the figure
	legendGap  = 8  // points between the x label and the legend
	legendPad  = 12 // points between legend columns
)

// plotColors is the Okabe–Ito palette, distinguishable under the common
// colour-vision deficiencies; its yellow is last as it is faint on white.
var plotColors = []color.Color{
	color.RGBA{R: 0x00, G: 0x72, B: 0xB2, A: 0xFF}, // blue
	color.RGBA{R: 0xD5, G: 0x5E, B: 0x00, A: 0xFF}, // vermillion
	color.RGBA{R: 0x00, G: 0x9E, B: 0x73, A: 0xFF}, // bluish green
	color.RGBA{R: 0xCC, G: 0x79, B: 0xA7, A: 0xFF}, // reddish purple
	color.RGBA{R: 0xE6, G: 0x9F, B: 0x00, A: 0xFF}, // orange
	color.RGBA{R: 0x56, G: 0xB4, B: 0xE9, A: 0xFF}, // sky blue
	color.RGBA{R: 0x00, G: 0x00, B: 0x00, A: 0xFF}, // black
	color.RGBA{R: 0xF0, G: 0xE4, B: 0x42, A: 0xFF}, // yellow
}

// plotGlyphs and plotDashes vary with the colour so that series stay
// apart in greyscale print.
var (
	plotGlyphs = []draw.GlyphDrawer{
		draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{},
		draw.RingGlyph{}, draw.BoxGlyph{}, draw.PyramidGlyph{},
		draw.CrossGlyph{}, draw.PlusGlyph{},
	}
	plotDashes = [][]vg.Length{
		{vg.Points(6), vg.Points(3)},
		{vg.Points(2), vg.Points(2)},
		{vg.Points(8), vg.Points(3), vg.Points(2), vg.Points(3)},
		{vg.Points(4), vg.Points(4)},
		{vg.Points(10), vg.Points(4)},
	}
)

var plotFont = font.Font{Typeface: "Liberation", Variant: "Sans"}

// LinePlot writes a 6×4 inch, 150 dpi PNG line chart of series to path,
// whose directory must exist; logX and logY put an axis on log scale.
// Styles are assigned by position in series, so a series with no drawable
// point still holds its colour: figures that list the same things in the
// same order match. The legend sits in columns below the axes so it never
// hides a line. It fails when no series has a drawable point, since an
// empty figure is almost always a mistake upstream. The same input gives
// the same bytes.
func LinePlot(path string, title, xLabel, yLabel string, logX, logY bool, series []Series) error {
	if path == "" {
		return errors.New("report: LinePlot needs a file path")
	}
	for _, s := range series {
		if len(s.X) != len(s.Y) {
			return fmt.Errorf("report: LinePlot %s: series %q has %d x values but %d y values", path, s.Name, len(s.X), len(s.Y))
		}
		if (s.Lo != nil || s.Hi != nil) && (len(s.Lo) != len(s.X) || len(s.Hi) != len(s.X)) {
			return fmt.Errorf("report: LinePlot %s: series %q has %d x values but a band of %d and %d", path, s.Name, len(s.X), len(s.Lo), len(s.Hi))
		}
	}
	kept := make([]plotter.XYs, len(series))
	n := 0
	for i, s := range series {
		kept[i] = plottablePoints(s.X, s.Y, logX, logY)
		n += len(kept[i])
	}
	if n == 0 {
		return fmt.Errorf("report: LinePlot %s: no finite points to draw (log axes drop values <= 0)", path)
	}
	canvas, err := renderLines(title, xLabel, yLabel, logX, logY, series, kept)
	if err != nil {
		return fmt.Errorf("report: LinePlot %s: %w", path, err)
	}
	return writePlotFile(path, func(f *os.File) error {
		_, err := vgimg.PngCanvas{Canvas: canvas}.WriteTo(f)
		return err
	})
}

// plottablePoints returns the points of x, y that can be placed on the axes.
func plottablePoints(x, y []float64, logX, logY bool) plotter.XYs {
	var xys plotter.XYs
	for i := range x {
		if plottable(x[i], logX) && plottable(y[i], logY) {
			xys = append(xys, plotter.XY{X: x[i], Y: y[i]})
		}
	}
	return xys
}

func plottable(v float64, log bool) bool {
	return !math.IsNaN(v) && !math.IsInf(v, 0) && (!log || v > 0)
}

// renderLines draws the figure; kept holds the drawable points of each
// series and at least one point in all.
func renderLines(title, xLabel, yLabel string, logX, logY bool, series []Series, kept []plotter.XYs) (*vgimg.Canvas, error) {
	p := newPlot(title, xLabel, yLabel)
	// Log axes are drawn as linear axes over log10 of the data, labelled
	// with the data values: plot.LogScale centres the y label's glyph box
	// at the arithmetic mean of the range and so pads the top of the
	// figure by half the label's length.
	for i, xys := range kept {
		kept[i] = logTransform(xys, logX, logY)
	}
	bands := make([]plotter.XYs, len(series))
	for i, s := range series {
		bands[i] = logTransform(bandPolygon(s, logX, logY), logX, logY)
	}
	if err := addBands(p, series, bands); err != nil {
		return nil, err
	}
	entries, err := addSeries(p, series, kept)
	if err != nil {
		return nil, err
	}
	// Ranges are set from the kept points, not left to plot.Add, so that a
	// log axis never sees a non-positive bound.
	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, xys := range append(kept, bands...) {
		for _, q := range xys {
			xmin, xmax = math.Min(xmin, q.X), math.Max(xmax, q.X)
			ymin, ymax = math.Min(ymin, q.Y), math.Max(ymax, q.Y)
		}
	}
	setAxis(&p.X, xmin, xmax, logX)
	setAxis(&p.Y, ymin, ymax, logY)
	return drawWithLegend(p, entries), nil
}

// titleMargin is the room a title line leaves at each side of the figure.
const titleMargin = 0.25 * vg.Inch

// wrapTitle breaks a title into lines at spaces so that no line is wider
// than width in style's font (a long one would run off both sides of the
// figure); a single word wider than that keeps a line of its own.
func wrapTitle(title string, style text.Style, width vg.Length) string {
	if style.Width(title) <= width {
		return title
	}
	var lines []string
	line := ""
	for _, w := range strings.Fields(title) {
		switch {
		case line == "":
			line = w
		case style.Width(line+" "+w) <= width:
			line += " " + w
		default:
			lines = append(lines, line)
			line = w
		}
	}
	return strings.Join(append(lines, line), "\n")
}

// newPlot is an empty plot with this package's fonts and a light grid.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.TextStyle.Font = font.From(plotFont, 12)
	p.Title.Text = wrapTitle(title, p.Title.TextStyle, plotWidth-2*titleMargin)
	p.Title.Padding = vg.Points(6)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(plotFont, 11)
		a.Tick.Label.Font = font.From(plotFont, 9)
	}
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Gray{Y: 0xDD}
	grid.Horizontal.Color = color.Gray{Y: 0xDD}
	p.Add(grid)
	return p
}

// bandPolygon is the outline of s's band: along Hi, then back along Lo,
// over the points where x, Lo and Hi can all be drawn; nil when s has no
// band or fewer than two such points.
func bandPolygon(s Series, logX, logY bool) plotter.XYs {
	if s.Lo == nil {
		return nil
	}
	var idx []int
	for i := range s.X {
		if plottable(s.X[i], logX) && plottable(s.Lo[i], logY) && plottable(s.Hi[i], logY) {
			idx = append(idx, i)
		}
	}
	if len(idx) < 2 {
		return nil
	}
	out := make(plotter.XYs, 0, 2*len(idx))
	for _, i := range idx {
		out = append(out, plotter.XY{X: s.X[i], Y: s.Hi[i]})
	}
	for k := len(idx) - 1; k >= 0; k-- {
		out = append(out, plotter.XY{X: s.X[idx[k]], Y: s.Lo[idx[k]]})
	}
	return out
}

// addBands shades each series' band in a translucent tint of its colour,
// under every line.
func addBands(p *plot.Plot, series []Series, bands []plotter.XYs) error {
	for i, b := range bands {
		if len(b) == 0 {
			continue
		}
		style := i
		if series[i].Style > 0 {
			style = series[i].Style - 1
		}
		r, g, bl, _ := plotColors[style%len(plotColors)].RGBA()
		poly, err := plotter.NewPolygon(b)
		if err != nil {
			return err
		}
		// Premultiplied alpha: a quarter of the colour over white.
		poly.Color = color.RGBA{R: uint8(r >> 10), G: uint8(g >> 10), B: uint8(bl >> 10), A: 0x40}
		poly.LineStyle.Width = 0
		p.Add(poly)
	}
	return nil
}

// addSeries draws each series' kept points as a line (dashed, with point
// markers, in its style's colour as asked) and returns the legend entries.
func addSeries(p *plot.Plot, series []Series, kept []plotter.XYs) ([]legendEntry, error) {
	var entries []legendEntry
	for i, s := range series {
		xys := kept[i]
		if len(xys) == 0 {
			continue
		}
		if s.Style > 0 {
			i = s.Style - 1
		}
		col := plotColors[i%len(plotColors)]
		line, err := plotter.NewLine(xys)
		if err != nil {
			return nil, err
		}
		line.LineStyle = draw.LineStyle{Color: col, Width: vg.Points(1.5)}
		if s.Dashed {
			line.LineStyle.Width = vg.Points(1.2)
			line.LineStyle.Dashes = plotDashes[i%len(plotDashes)]
		}
		p.Add(line)
		thumbs := []plot.Thumbnailer{line}
		if s.Points || len(xys) == 1 {
			sc, err := plotter.NewScatter(xys)
			if err != nil {
				return nil, err
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(2.5), Shape: plotGlyphs[i%len(plotGlyphs)]}
			p.Add(sc)
			thumbs = append(thumbs, sc)
		}
		if s.Name != "" {
			entries = append(entries, legendEntry{s.Name, thumbs})
		}
	}
	return entries, nil
}

// drawWithLegend renders the plot with its legend in columns below the
// data area, widening the figure when the columns need it.
func drawWithLegend(p *plot.Plot, entries []legendEntry) *vgimg.Canvas {
	legends, colWidth := legendColumns(entries)
	width := max(plotWidth, colWidth+vg.Points(2*plotMargin))
	img := vgimg.NewWith(vgimg.UseWH(width, plotHeight), vgimg.UseDPI(plotDPI))
	dc := draw.New(img)
	margin := vg.Points(plotMargin)
	var legendHeight vg.Length
	if len(legends) > 0 {
		// The first column holds the most rows.
		legendHeight = legends[0].Rectangle(draw.Canvas{}).Size().Y + vg.Points(legendGap)
	}
	area := draw.Crop(dc, margin, -margin, margin+legendHeight, -margin)
	p.Draw(area)
	if len(legends) == 0 {
		return img
	}
	// Centre the block under the data area, inside the figure.
	data := p.DataCanvas(area)
	block := vg.Length(len(legends))*colWidth - vg.Points(legendPad)
	x := max(margin, min(data.Center().X-block/2, width-margin-block))
	for i := range legends {
		left := x + vg.Length(i)*colWidth
		legends[i].Draw(draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{
			Min: vg.Point{X: left, Y: margin},
			Max: vg.Point{X: left + colWidth, Y: margin + legendHeight - vg.Points(legendGap)},
		}})
	}
	return img
}

type legendEntry struct {
	name   string
	thumbs []plot.Thumbnailer
}

// legendColumns lays entries out row by row in as many columns as fit
// the default figure width, and returns the columns and their pitch.
func legendColumns(entries []legendEntry) ([]plot.Legend, vg.Length) {
	if len(entries) == 0 {
		return nil, 0
	}
	newLegend := func() plot.Legend {
		l := plot.NewLegend()
		l.TextStyle.Font = font.From(plotFont, 9)
		l.Left, l.Top = true, true
		l.ThumbnailWidth = vg.Points(24)
		l.Padding = vg.Points(2)
		return l
	}
	probe := newLegend()
	var pitch vg.Length
	for _, e := range entries {
		w := probe.ThumbnailWidth + probe.TextStyle.Width(" "+e.name)
		pitch = max(pitch, w+vg.Points(legendPad))
	}
	avail := plotWidth - vg.Points(2*plotMargin-legendPad)
	cols := max(1, min(len(entries), int(avail/pitch)))
	// Balance the rows: 5 entries in 4 columns read better as 3 + 2.
	rows := (len(entries) + cols - 1) / cols
	cols = (len(entries) + rows - 1) / rows
	legends := make([]plot.Legend, cols)
	for i := range legends {
		legends[i] = newLegend()
	}
	for i, e := range entries {
		legends[i%cols].Add(e.name, e.thumbs...)
	}
	return legends, pitch
}

// setAxis fixes the axis range to [lo, hi] (log10 of the data on a log
// axis), widened when the data sit at a single value.
func setAxis(a *plot.Axis, lo, hi float64, log bool) {
	if log {
		if lo == hi {
			lo, hi = lo-math.Log10(2), hi+math.Log10(2)
		}
		a.Tick.Marker = logTicks{}
		a.Min, a.Max = lo, hi
		return
	}
	if lo == hi {
		d := math.Max(math.Abs(lo)/10, 1)
		lo, hi = lo-d, hi+d
	}
	a.Tick.Marker = linearTicks{}
	a.Min, a.Max = lo, hi
}

// linearTicks labels three to seven round values (1, 2, 2.5 or 5 × 10^k
// apart); plot.DefaultTicks aims at three and picks steps such as 12.
type linearTicks struct{}

func (linearTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return nil
	}
	// The smallest round step above range/7 gives at most seven labels.
	raw := (hi - lo) / 7
	exp := math.Floor(math.Log10(raw))
	mag := math.Pow(10, exp)
	step, minors := 10*mag, 5
	for _, c := range []struct {
		m      float64
		minors int
	}{{1, 5}, {2, 4}, {2.5, 5}, {5, 5}} {
		if c.m*mag >= raw {
			step, minors = c.m*mag, c.minors
			break
		}
	}
	// Decimals enough to tell labels apart; 2.5 × 10^k needs one more.
	decimals := max(0, int(-math.Floor(math.Log10(step)+1e-9)))
	if r := step / math.Pow(10, math.Floor(math.Log10(step)+1e-9)); math.Abs(r-2.5) < 1e-9 {
		decimals++
	}
	big := math.Max(math.Abs(lo), math.Abs(hi))
	label := func(v float64) string {
		if big >= 1e6 || big < 1e-4 {
			return strconv.FormatFloat(v, 'g', 4, 64)
		}
		return strconv.FormatFloat(v, 'f', decimals, 64)
	}
	var ticks []plot.Tick
	minor := step / float64(minors)
	// Ticks are integer multiples of the minor step, not a running sum,
	// so the labels carry no accumulated rounding.
	first := math.Ceil(lo/minor - 1e-9)
	// The bound guards against ranges too narrow for their magnitude,
	// where k+1 == k in floating point.
	for i := 0; i < 100; i++ {
		k := first + float64(i)
		v := k * minor
		if v > hi+minor*1e-9 {
			break
		}
		t := plot.Tick{Value: v}
		if math.Mod(k, float64(minors)) == 0 {
			t.Label = label(v + 0) // + 0 turns -0 into 0
		}
		ticks = append(ticks, t)
	}
	return ticks
}

// logTransform returns xys with log10 taken on the log axes; the points
// are positive there.
func logTransform(xys plotter.XYs, logX, logY bool) plotter.XYs {
	if !logX && !logY {
		return xys
	}
	out := make(plotter.XYs, len(xys))
	for i, q := range xys {
		if logX {
			q.X = math.Log10(q.X)
		}
		if logY {
			q.Y = math.Log10(q.Y)
		}
		out[i] = q
	}
	return out
}

// logTicks marks a log10-transformed axis at 1–9 × 10^k and labels the
// decades, plus 2 and 5 when fewer than three decades are in range; it
// keeps at least two labels. Values and bounds are log10 of the data.
type logTicks struct{}

func (logTicks) Ticks(logLo, logHi float64) []plot.Tick {
	if !(logHi > logLo) || math.IsInf(logLo, 0) || math.IsInf(logHi, 0) {
		return nil
	}
	lo, hi := math.Pow(10, logLo), math.Pow(10, logHi)
	if lo == 0 || math.IsInf(hi, 0) {
		return nil // beyond float64; no data of ours gets here
	}
	// Tolerance for the rounding of m·10^k against bounds that are exact
	// powers of ten.
	const eps = 1e-9
	first, last := int(math.Floor(math.Log10(lo))), int(math.Ceil(math.Log10(hi)))
	var ticks []plot.Tick
	var values []float64
	var mantissas []int
	decades := 0
	for e := first; e <= last; e++ {
		for m := 1; m <= 9; m++ {
			v := float64(m) * math.Pow10(e)
			if v < lo*(1-eps) || v > hi*(1+eps) {
				continue
			}
			ticks = append(ticks, plot.Tick{Value: math.Log10(v)})
			values = append(values, v)
			mantissas = append(mantissas, m)
			if m == 1 {
				decades++
			}
		}
	}
	labels := 0
	for i, m := range mantissas {
		if m == 1 || decades < 3 && (m == 2 || m == 5) {
			ticks[i].Label = tickLabel(values[i])
			labels++
		}
	}
	if labels >= 2 {
		return ticks
	}
	// Less than a decade: linear ticks read better.
	ticks = ticks[:0]
	for _, t := range (linearTicks{}).Ticks(lo, hi) {
		if t.Value > 0 {
			t.Value = math.Log10(t.Value)
			ticks = append(ticks, t)
		}
	}
	return ticks
}

func tickLabel(v float64) string {
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// writePlotFile writes path through a temporary file in the same
// directory so that a reader never sees a half-written image.
func writePlotFile(path string, write func(*os.File) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("report: writing %s: %w", path, err)
	}
	tmp := f.Name()
	if err := write(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("report: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("report: writing %s: %w", path, err)
	}
	// CreateTemp makes the file 0600; a figure is meant to be shared.
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("report: writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("report: writing %s: %w", path, err)
	}
	return nil
}

// Thresholds for switching an axis to log scale: t on a log axis once it
// covers more than about 1.7 decades, where a linear axis crams the first
// iterations (the interesting ones) against the origin; values once they
// span two decades.
const (
	logXRatio = 50
	logYRatio = 100
)

// WritePlots draws the curves of r into dir (created if missing) and
// returns the base names of the files written, in the order
// PlotMetricVsT, PlotLipschitzVsT. Each model with a curve is a line;
// each model without one is a dashed horizontal reference at its
// TestMetric (and at its Lipschitz when that is positive). A figure with
// nothing to draw is skipped and not listed, so a report without curves
// yields no files. Values that cannot be drawn (NaN, ±Inf, and L_t <= 0,
// which the report uses for "not measured") are dropped, never an error.
func WritePlots(dir string, r *Report) ([]string, error) {
	if r == nil {
		return nil, errors.New("report: WritePlots needs a report, got nil")
	}
	if dir == "" {
		dir = "."
	}
	metricName := r.Metric.Name
	if metricName == "" {
		metricName = "test metric"
	}
	// The references span the t range of the curves.
	var ts []float64
	for _, m := range r.Models {
		for _, c := range m.Curve {
			ts = append(ts, float64(c.T))
		}
	}
	if len(ts) == 0 {
		return nil, nil
	}
	logX := spansRatio(ts, logXRatio)
	figures := []curveFigure{
		{file: PlotMetricVsT, yLabel: metricName,
			curve:    func(c train.CurvePoint) float64 { return c.Metric },
			ref:      func(m ModelReport) float64 { return m.TestMetric },
			curveStd: func(c train.CurvePoint) float64 { return c.MetricSeedStd },
			refStd:   func(m ModelReport) float64 { return m.TestMetricSeedStd }},
		{file: PlotLipschitzVsT, yLabel: "empirical Lipschitz constant L_t", positive: true,
			curve:    func(c train.CurvePoint) float64 { return c.Lipschitz },
			ref:      func(m ModelReport) float64 { return m.Lipschitz },
			curveStd: func(c train.CurvePoint) float64 { return c.LipschitzSeedStd },
			refStd:   func(m ModelReport) float64 { return m.LipschitzSeedStd }},
	}
	var written []string
	for _, fig := range figures {
		series, logY, ok := fig.series(r.Models, logX)
		if !ok {
			continue
		}
		if len(written) == 0 {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return written, fmt.Errorf("report: WritePlots: %w", err)
			}
		}
		title := plotTitle(r)
		if len(r.Seeds) > 1 {
			title += fmt.Sprintf(" (%d seeds: mean, band ± 1 std)", len(r.Seeds))
		}
		if err := LinePlot(filepath.Join(dir, fig.file), title, "test-time iterations t", fig.yLabel, logX, logY, series); err != nil {
			return written, err
		}
		written = append(written, fig.file)
	}
	return written, nil
}

// curveFigure is one of the figures against t: a curve per model that
// has one, a horizontal reference line for each model that has not.
type curveFigure struct {
	file   string
	yLabel string
	curve  func(train.CurvePoint) float64
	ref    func(ModelReport) float64
	// curveStd and refStd are the spreads over seeds (0 for one seed).
	curveStd func(train.CurvePoint) float64
	refStd   func(ModelReport) float64
	// positive drops values <= 0 even on a linear axis.
	positive bool
}

// series returns the figure's lines, whether its y axis is logarithmic,
// and false when no model has a plottable curve.
func (fig curveFigure) series(models []ModelReport, logX bool) ([]Series, bool, bool) {
	series := make([]Series, len(models))
	var ys []float64
	curves := 0
	for i, m := range models {
		series[i].Name = legendName(m)
		if len(m.Curve) > 0 {
			for _, c := range m.Curve {
				y := fig.curve(c)
				if fig.positive && !(y > 0) {
					continue
				}
				series[i].X = append(series[i].X, float64(c.T))
				series[i].Y = append(series[i].Y, y)
				if sd := fig.curveStd(c); sd > 0 {
					series[i].addBand(len(series[i].X)-1, y-sd, y+sd)
				}
			}
			series[i].padBand()
			series[i].Points = len(m.Curve) <= maxMarkedPoints
			ys = append(ys, series[i].Y...)
			if len(plottablePoints(series[i].X, series[i].Y, logX, false)) > 0 {
				curves++
			}
			continue
		}
		if y := fig.ref(m); !fig.positive || y > 0 {
			series[i].Dashed = true
			series[i].Y = []float64{y, y}
			ys = append(ys, y)
			if sd := fig.refStd(m); sd > 0 {
				series[i].Lo, series[i].Hi = []float64{y - sd, y - sd}, []float64{y + sd, y + sd}
			}
		}
	}
	if curves == 0 {
		return nil, false, false
	}
	logY := allPositive(ys) && spansRatio(ys, logYRatio)
	lo, hi := referenceSpan(series, logX)
	for i := range series {
		if series[i].Dashed {
			series[i].X = []float64{lo, hi}
		}
	}
	return series, logY, true
}

// addBand sets the band at point i to [lo, hi], extending it with NaN
// (not drawn) up to i.
func (s *Series) addBand(i int, lo, hi float64) {
	for len(s.Lo) <= i {
		s.Lo, s.Hi = append(s.Lo, math.NaN()), append(s.Hi, math.NaN())
	}
	s.Lo[i], s.Hi[i] = lo, hi
}

// padBand extends a band shorter than X with NaN (not drawn).
func (s *Series) padBand() {
	for s.Lo != nil && len(s.Lo) < len(s.X) {
		s.Lo, s.Hi = append(s.Lo, math.NaN()), append(s.Hi, math.NaN())
	}
}

// maxMarkedPoints bounds the curves drawn with glyphs: beyond it the
// glyphs merge into a thick smear that hides the line.
const maxMarkedPoints = 50

func plotTitle(r *Report) string {
	switch {
	case r.Experiment != "" && r.Dataset != "":
		return r.Experiment + " on " + r.Dataset
	case r.Experiment != "":
		return r.Experiment
	default:
		return r.Dataset
	}
}

// legendName adds the kind unless the name already says it.
func legendName(m ModelReport) string {
	name := m.Name
	if name == "" {
		name = "unnamed"
	}
	if m.Kind == "" || strings.Contains(strings.ToLower(name), strings.ToLower(m.Kind)) {
		return name
	}
	return name + " (" + m.Kind + ")"
}

// referenceSpan is the t range of the drawable curve points, widened when
// it is a single t so that the references stay visible lines.
func referenceSpan(series []Series, logX bool) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, s := range series {
		if s.Dashed {
			continue
		}
		for _, q := range plottablePoints(s.X, s.Y, logX, false) {
			lo, hi = math.Min(lo, q.X), math.Max(hi, q.X)
		}
	}
	if lo == hi {
		if logX {
			return lo / 2, hi * 2
		}
		return lo - 1, hi + 1
	}
	return lo, hi
}

// spansRatio reports whether the finite positive values of vs have
// max/min >= ratio.
func spansRatio(vs []float64, ratio float64) bool {
	lo, hi := math.Inf(1), 0.0
	for _, v := range vs {
		if v > 0 && !math.IsInf(v, 0) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	return hi > 0 && hi/lo >= ratio
}

// allPositive reports whether the finite values of vs are all positive:
// a log axis would hide the others.
func allPositive(vs []float64) bool {
	for _, v := range vs {
		if !math.IsNaN(v) && !math.IsInf(v, 0) && v <= 0 {
			return false
		}
	}
	return true
}
