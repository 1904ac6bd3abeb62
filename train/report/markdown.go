package report

import (
	"github.com/implicit-ml/implicit/train"

	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
)

// maxCurveRows bounds the rows of a curve table: enough to show the
// early rise and the plateau without burying the comparison table.
const maxCurveRows = 20

// WriteMarkdown writes r to w as a human-readable report: the title, the
// command line, one table row per model with the best test metric in
// bold, the notes, the plots (file names relative to the report, as
// returned by WritePlots) and, per model with a curve, the metric and
// L_t against the test-time iteration count t. Curves longer than 20
// points are shown as a subset: the first iterations, a geometric
// sample, and the last. Zero figures that mean "not measured" (heap,
// throughput, iterations, L_t) are left blank.
func WriteMarkdown(w io.Writer, r *Report, plots []string) error {
	if w == nil {
		return errors.New("report: WriteMarkdown needs a writer, got nil")
	}
	if r == nil {
		return errors.New("report: WriteMarkdown needs a report, got nil")
	}
	var b strings.Builder
	writeHeader(&b, r)
	writeModelTable(&b, r)
	writeNotes(&b, r.Notes)
	writePlotLinks(&b, plots)
	writeCurves(&b, r)
	writeConfig(&b, r.Config)
	// One write, so a failing writer is reported once and never leaves
	// several partial sections.
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("report: writing markdown report: %w", err)
	}
	return nil
}

func writeHeader(b *strings.Builder, r *Report) {
	title := plotTitle(r)
	if title == "" {
		title = "Report"
	}
	fmt.Fprintf(b, "# %s\n\n", title)

	var meta []string
	switch {
	case len(r.Seeds) > 1:
		meta = append(meta, "seeds "+seedList(r.Seeds))
	case r.Seed != 0:
		meta = append(meta, fmt.Sprintf("seed %d", r.Seed))
	}
	if r.Quick {
		meta = append(meta, "quick run")
	}
	if r.Created != "" {
		meta = append(meta, r.Created)
	}
	if r.Machine != "" {
		meta = append(meta, r.Machine)
	}
	if r.WallSeconds != 0 {
		meta = append(meta, formatFigure(r.WallSeconds)+" s wall time")
	}
	if len(meta) > 0 {
		fmt.Fprintf(b, "%s.\n\n", upperFirst(strings.Join(meta, ", ")))
	}
	if r.Command != "" {
		fence := codeFence(r.Command)
		fmt.Fprintf(b, "%s\n%s\n%s\n\n", fence, strings.TrimRight(r.Command, "\n"), fence)
	}
}

// tableColumn is one column of the model table; cell gives a model's text.
type tableColumn struct {
	head  string
	right bool
	cell  func(m ModelReport) string
}

func writeModelTable(b *strings.Builder, r *Report) {
	b.WriteString("## Results\n\n")
	if len(r.Models) == 0 {
		b.WriteString("No models were reported.\n\n")
		return
	}
	metricName := r.Metric.Name
	if metricName == "" {
		metricName = "test metric"
	}
	best := bestModels(r)
	cols := append(tableColumns(r.Models), tableColumn{metricName, true, nil})
	writeTableRow(b, len(cols), func(i int) string { return cols[i].head })
	writeTableRow(b, len(cols), func(i int) string {
		if cols[i].right {
			return "--:"
		}
		return ":--"
	})
	for k, m := range r.Models {
		writeTableRow(b, len(cols), func(i int) string {
			if cols[i].cell != nil {
				return cols[i].cell(m)
			}
			s := formatFigure(m.TestMetric)
			if best[k] {
				s = "**" + s + "**"
			}
			switch {
			case len(r.Seeds) > 1:
				s += " ± " + FormatSpread(m.TestMetricSeedStd)
			case m.TestMetricStd > 0:
				s += " ± " + formatFigure(m.TestMetricStd)
			}
			return s
		})
	}
	direction := "lower"
	if r.Metric.HigherIsBetter {
		direction = "higher"
	}
	spread := ""
	switch {
	case len(r.Seeds) > 1:
		spread = fmt.Sprintf("; mean ± standard deviation over %d seeds (%s)", len(r.Seeds), seedList(r.Seeds))
	case anyModelHas(r.Models, func(m ModelReport) bool { return m.TestMetricStd > 0 }):
		spread = "; ± the standard deviation over the test samples"
	}
	fmt.Fprintf(b, "\nBest %s in bold (%s is better)%s.\n\n", metricName, direction, spread)
	writeComparisons(b, r, metricName)
	if anyModelHas(r.Models, func(m ModelReport) bool { return m.Description != "" }) {
		for _, m := range r.Models {
			if m.Description != "" {
				fmt.Fprintf(b, "- **%s**: %s\n", tableCell(m.Name), singleLine(m.Description))
			}
		}
		b.WriteString("\n")
	}
}

// writeComparisons states the verdict on each pair of a combined report.
func writeComparisons(b *strings.Builder, r *Report, metricName string) {
	if len(r.Comparisons) == 0 {
		return
	}
	b.WriteString("Over the seeds (a difference counts only when it exceeds its spread):\n\n")
	for _, c := range r.Comparisons {
		fmt.Fprintf(b, "- %s.\n", c.Sentence(metricName))
	}
	b.WriteString("\n")
}

func seedList(seeds []uint64) string {
	parts := make([]string, len(seeds))
	for i, s := range seeds {
		parts[i] = strconv.FormatUint(s, 10)
	}
	return strings.Join(parts, ", ")
}

// tableColumns are the results table's columns before the metric's. The
// optional ones appear only when some model has the figure, so a table of
// explicit models stays narrow.
func tableColumns(models []ModelReport) []tableColumn {
	iterative := func(m ModelReport) bool { return m.Kind != train.KindExplicit }
	cols := []tableColumn{
		{"model", false, func(m ModelReport) string { return m.Name }},
		{"kind", false, func(m ModelReport) string { return m.Kind }},
		{"params", true, func(m ModelReport) string { return groupThousands(int64(m.Params)) }},
		{"train time (s)", true, func(m ModelReport) string { return formatMeasured(m.TrainSeconds) }},
		{"train samples/s", true, func(m ModelReport) string { return formatMeasured(m.TrainSamplesPerSecond) }},
		{"peak heap (MiB)", true, func(m ModelReport) string { return formatMeasured(float64(m.PeakHeapBytes) / (1 << 20)) }},
	}
	optional := []struct {
		head string
		has  func(ModelReport) bool
		cell func(ModelReport) string
	}{
		{"fwd iters", func(m ModelReport) bool { return iterative(m) && m.ForwardIterationsMean != 0 },
			func(m ModelReport) string { return onlyIf(iterative(m), formatMeasured(m.ForwardIterationsMean)) }},
		{"bwd iters", func(m ModelReport) bool { return iterative(m) && m.BackwardIterationsMean != 0 },
			func(m ModelReport) string { return onlyIf(iterative(m), formatMeasured(m.BackwardIterationsMean)) }},
		{"not converged", func(m ModelReport) bool { return m.NotConvergedFraction != 0 },
			func(m ModelReport) string { return percentOrBlank(m.NotConvergedFraction) }},
		{"infer samples/s", func(m ModelReport) bool { return m.InferSamplesPerSecond != 0 },
			func(m ModelReport) string { return formatMeasured(m.InferSamplesPerSecond) }},
		// The solves' health, when the training monitored it.
		{"bwd not converged", func(m ModelReport) bool { return m.Extra["backward_not_converged_fraction"] != 0 },
			func(m ModelReport) string { return percentOrBlank(m.Extra["backward_not_converged_fraction"]) }},
		{"spectral radius", func(m ModelReport) bool { return m.Extra["spectral_radius"] != 0 },
			func(m ModelReport) string {
				return onlyIf(m.Extra["spectral_radius"] != 0, formatFigure(m.Extra["spectral_radius"]))
			}},
		// The learned operator's contraction in z at the test fixed points.
		{"ρ(J) at test z*", func(m ModelReport) bool { return m.Extra["test_spectral_radius"] != 0 },
			func(m ModelReport) string {
				return onlyIf(m.Extra["test_spectral_radius"] != 0, formatFigure(m.Extra["test_spectral_radius"]))
			}},
	}
	for _, c := range optional {
		if anyModelHas(models, c.has) {
			cols = append(cols, tableColumn{c.head, true, c.cell})
		}
	}
	return cols
}

// onlyIf is s when ok, else an empty cell.
func onlyIf(ok bool, s string) string {
	if !ok {
		return ""
	}
	return s
}

// percentOrBlank writes a fraction as a percentage, zero as a blank.
func percentOrBlank(v float64) string { return onlyIf(v != 0, formatFigure(100*v)+" %") }

// bestModels marks the models whose finite test metric is best; ties are
// all marked.
func bestModels(r *Report) []bool {
	best := make([]bool, len(r.Models))
	found := false
	var top float64
	for _, m := range r.Models {
		v := m.TestMetric
		if math.IsNaN(v) {
			continue
		}
		if !found || (r.Metric.HigherIsBetter && v > top) || (!r.Metric.HigherIsBetter && v < top) {
			top, found = v, true
		}
	}
	if !found {
		return best
	}
	for i, m := range r.Models {
		best[i] = m.TestMetric == top
	}
	return best
}

func writeNotes(b *strings.Builder, notes []string) {
	if len(notes) == 0 {
		return
	}
	b.WriteString("## Notes\n\n")
	for _, n := range notes {
		fmt.Fprintf(b, "- %s\n", singleLine(n))
	}
	b.WriteString("\n")
}

func writePlotLinks(b *strings.Builder, plots []string) {
	if len(plots) == 0 {
		return
	}
	b.WriteString("## Plots\n\n")
	for _, p := range plots {
		alt := strings.ReplaceAll(strings.TrimSuffix(path.Base(p), path.Ext(p)), "_", " ")
		target := p
		// CommonMark takes a destination with spaces or parentheses only
		// inside angle brackets.
		if strings.ContainsAny(target, " ()") {
			target = "<" + target + ">"
		}
		fmt.Fprintf(b, "![%s](%s)\n\n", alt, target)
	}
}

func writeCurves(b *strings.Builder, r *Report) {
	if !anyModelHas(r.Models, func(m ModelReport) bool { return len(m.Curve) > 0 }) {
		return
	}
	metricName := r.Metric.Name
	if metricName == "" {
		metricName = "test metric"
	}
	b.WriteString("## Test-time iterations\n\n")
	for _, m := range r.Models {
		if len(m.Curve) == 0 {
			continue
		}
		fmt.Fprintf(b, "### %s\n\n", singleLine(m.Name))
		withStd := slices.ContainsFunc(m.Curve, func(c train.CurvePoint) bool { return c.MetricStd != 0 })
		seeds := len(r.Seeds) > 1
		heads := []string{"t", metricName}
		if seeds {
			heads = append(heads, "± (seeds)")
		}
		if withStd {
			heads = append(heads, "std")
		}
		heads = append(heads, "L_t")
		if seeds {
			heads = append(heads, "± (seeds)")
		}
		writeTableRow(b, len(heads), func(i int) string { return heads[i] })
		writeTableRow(b, len(heads), func(int) string { return "--:" })
		rows := curveRows(len(m.Curve), maxCurveRows)
		for _, k := range rows {
			c := m.Curve[k]
			cells := []string{strconv.Itoa(c.T), formatFigure(c.Metric)}
			if seeds {
				cells = append(cells, formatSpreadMeasured(c.MetricSeedStd))
			}
			if withStd {
				cells = append(cells, formatMeasured(c.MetricStd))
			}
			cells = append(cells, formatMeasured(c.Lipschitz))
			if seeds {
				cells = append(cells, formatSpreadMeasured(c.LipschitzSeedStd))
			}
			writeTableRow(b, len(cells), func(i int) string { return cells[i] })
		}
		if len(rows) < len(m.Curve) {
			fmt.Fprintf(b, "\n%d of %d points shown.\n", len(rows), len(m.Curve))
		}
		b.WriteString("\n")
	}
}

// curveRows picks at most limit indices of a curve of n points: the first
// five, a geometric sample of the rest (where the curve changes slowly),
// and the last.
func curveRows(n, limit int) []int {
	if n <= limit {
		rows := make([]int, n)
		for i := range rows {
			rows[i] = i
		}
		return rows
	}
	const head = 5
	rows := make([]int, 0, limit)
	for i := range head {
		rows = append(rows, i)
	}
	// Positions are 1-based so that the sample is geometric in t when
	// t = 1, 2, ….
	mid := limit - head - 1
	for k := 1; k <= mid; k++ {
		p := int(math.Round(head * math.Pow(float64(n)/head, float64(k)/float64(mid+1))))
		if i := p - 1; i > rows[len(rows)-1] && i < n-1 {
			rows = append(rows, i)
		}
	}
	return append(rows, n-1)
}

func writeConfig(b *strings.Builder, config map[string]any) {
	if len(config) == 0 {
		return
	}
	b.WriteString("## Configuration\n\n")
	b.WriteString("| setting | value |\n| :-- | :-- |\n")
	keys := make([]string, 0, len(config))
	for k := range config {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := config[k]
		s := fmt.Sprint(v)
		if f, ok := v.(float64); ok {
			s = strconv.FormatFloat(f, 'g', -1, 64)
		}
		fmt.Fprintf(b, "| %s | %s |\n", tableCell(k), tableCell(s))
	}
	b.WriteString("\n")
}

func writeTableRow(b *strings.Builder, n int, cell func(int) string) {
	b.WriteString("|")
	for i := range n {
		b.WriteString(" ")
		b.WriteString(tableCell(cell(i)))
		b.WriteString(" |")
	}
	b.WriteString("\n")
}

// tableCell keeps s on one table row and stops a "|" from ending the cell.
func tableCell(s string) string {
	return strings.ReplaceAll(singleLine(s), "|", `\|`)
}

func singleLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func anyModelHas(ms []ModelReport, f func(ModelReport) bool) bool {
	return slices.ContainsFunc(ms, f)
}

// formatFigure formats v with four significant digits, switching to grouped
// integers from 10,000 up, where %g would turn to exponents.
func formatFigure(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.Abs(v) >= 9999.5 && math.Abs(v) < 1e18:
		return groupThousands(int64(math.Round(v)))
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// FormatSpread formats a spread (a standard deviation) to two
// significant digits: more would claim a precision a few seeds cannot
// give.
func FormatSpread(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) >= 9999.5 {
		return formatFigure(v)
	}
	return strconv.FormatFloat(v, 'g', 2, 64)
}

func formatSpreadMeasured(v float64) string {
	if v == 0 {
		return ""
	}
	return FormatSpread(v)
}

// formatMeasured is formatFigure with zero, meaning "not measured", left blank.
func formatMeasured(v float64) string {
	if v == 0 {
		return ""
	}
	return formatFigure(v)
}

func groupThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	sign := ""
	if n < 0 {
		sign, s = "-", s[1:]
	}
	var b strings.Builder
	b.WriteString(sign)
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// codeFence returns a backtick fence longer than any run of backticks in
// s, so the command cannot close its own block.
func codeFence(s string) string {
	longest, run := 0, 0
	for _, c := range s {
		if c == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
