package report_test

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/implicit-ml/implicit/train/report"
)

// seedReports are renderReport run with three seeds whose metrics differ
// by known amounts: the implicit model's accuracy is 0.97, 0.98, 0.99
// (mean 0.98, std 0.01) and the MLP's 0.96 at every seed.
func seedReports() []*report.Report {
	var reps []*report.Report
	for k, seed := range []uint64{1, 2, 3} {
		r := renderReport()
		r.Seed = seed
		r.WallSeconds = 10
		r.Pairs = [][2]string{{"deq", "mlp"}, {"deq", "unrolled-8"}}
		r.Models[0].TestMetric = 0.96
		r.Models[1].TestMetric = 0.97 + 0.01*float64(k)
		for i := range r.Models[1].Curve {
			r.Models[1].Curve[i].Metric += 0.01 * float64(k)
			r.Models[1].Curve[i].Lipschitz *= float64(k + 1)
		}
		r.Models[1].Extra = map[string]float64{"spectral_radius": 0.5 + 0.1*float64(k)}
		r.Models[2].TestMetric = 0.975
		if k == 2 {
			r.Notes = append(r.Notes, "mlp collapsed")
		}
		reps = append(reps, r)
	}
	return reps
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

func TestCombine(t *testing.T) {
	reps := seedReports()
	c, err := report.Combine(reps)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Seeds) != 3 || c.Seeds[2] != 3 || c.WallSeconds != 30 {
		t.Errorf("seeds %v, wall %g: want [1 2 3], 30", c.Seeds, c.WallSeconds)
	}
	deq := c.Models[1]
	if !near(deq.TestMetric, 0.98) || !near(deq.TestMetricSeedStd, 0.01) {
		t.Errorf("deq metric %g ± %g, want 0.98 ± 0.01", deq.TestMetric, deq.TestMetricSeedStd)
	}
	if len(deq.Seeds) != 3 || deq.Seeds[1].Seed != 2 || !near(deq.Seeds[1].TestMetric, 0.98) {
		t.Errorf("per-seed figures %+v", deq.Seeds)
	}
	if !near(deq.Extra["spectral_radius"], 0.6) || !near(deq.ExtraSeedStd["spectral_radius"], 0.1) {
		t.Errorf("extra %v ± %v", deq.Extra, deq.ExtraSeedStd)
	}
	p0 := reps[0].Models[1].Curve[0]
	if cp := deq.Curve[0]; !near(cp.Metric, p0.Metric+0.01) || !near(cp.MetricSeedStd, 0.01) ||
		!near(cp.Lipschitz, 2*p0.Lipschitz) || !near(cp.LipschitzSeedStd, p0.Lipschitz) {
		t.Errorf("curve point %+v from %+v", cp, p0)
	}
	if c.Models[0].TestMetricSeedStd != 0 {
		t.Errorf("a constant metric has spread %g", c.Models[0].TestMetricSeedStd)
	}
	if !strings.Contains(strings.Join(c.Notes, "\n"), "seed 3: mlp collapsed") {
		t.Errorf("a seed's own note is lost: %q", c.Notes)
	}
	// 0.98 − 0.96 = 0.02 > 0.01: beats. 0.98 − 0.975 = 0.005 < 0.01:
	// matches, however it would read on one seed.
	if len(c.Comparisons) != 2 {
		t.Fatalf("comparisons %+v", c.Comparisons)
	}
	if v := c.Comparisons[0]; v.Verdict != "beats" || !near(v.Difference, 0.02) || !near(v.Spread, 0.01) {
		t.Errorf("deq vs mlp: %+v", v)
	}
	if v := c.Comparisons[1]; v.Verdict != "matches" {
		t.Errorf("deq vs unrolled-8: %+v", v)
	}
	if s := c.Comparisons[0].Sentence("accuracy"); s != "deq beats mlp by 0.02 ± 0.01 (accuracy)" {
		t.Errorf("sentence %q", s)
	}
}

// TestCombineLowerIsBetter checks the orientation of the difference for
// an error metric: a lower error beats.
func TestCombineLowerIsBetter(t *testing.T) {
	reps := seedReports()
	for _, r := range reps {
		r.Metric = report.MetricInfo{Name: "error"}
	}
	c, err := report.Combine(reps)
	if err != nil {
		t.Fatal(err)
	}
	if v := c.Comparisons[0]; v.Verdict != "trails" || !near(v.Difference, -0.02) {
		t.Errorf("a higher error must trail: %+v", v)
	}
}

func TestCombineOneSeed(t *testing.T) {
	c, err := report.Combine(seedReports()[:1])
	if err != nil {
		t.Fatal(err)
	}
	if v := c.Comparisons[0].Verdict; !strings.HasPrefix(v, "undecided") {
		t.Errorf("one seed decides nothing, got %q", v)
	}
}

func TestCombineRefusesMismatches(t *testing.T) {
	if _, err := report.Combine(nil); err == nil {
		t.Error("no reports: want an error")
	}
	other := seedReports()
	other[1].Models[1].Name = "other"
	short := seedReports()
	short[2].Models = short[2].Models[:2]
	curve := seedReports()
	curve[1].Models[1].Curve[3].T = 99
	points := seedReports()
	points[1].Models[1].Curve = points[1].Models[1].Curve[:4]
	exp := seedReports()
	exp[1].Experiment = "lp"
	for name, reps := range map[string][]*report.Report{"model names": other, "model count": short, "curve t": curve, "curve length": points, "experiment": exp} {
		if _, err := report.Combine(reps); err == nil {
			t.Errorf("%s differ: want an error", name)
		}
	}
}

// TestCombinedReportRenders writes a combined report and checks what a
// reader sees: the spread in report.md and the per-seed values in
// report.json, read back by Read, and the bands in the figure.
func TestCombinedReportRenders(t *testing.T) {
	c, err := report.Combine(seedReports())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := report.Write(dir, c); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"**0.98** ± 0.01", "deq beats mlp by 0.02 ± 0.01", "deq matches unrolled-8", "Seeds 1, 2, 3"} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
	back, err := report.Read(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Models[1].Seeds) != 3 || len(back.Comparisons) != 2 || !near(back.Models[1].TestMetricSeedStd, 0.01) {
		t.Errorf("report.json lost the seeds: %+v", back.Models[1])
	}
	csv, err := os.ReadFile(filepath.Join(dir, "curves.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(csv, []byte("model,t,metric,metric_std,lipschitz,metric_seed_std,lipschitz_seed_std\n")) {
		t.Errorf("curves.csv header: %q", bytes.SplitN(csv, []byte("\n"), 2)[0])
	}
	// The band is a pale tint of the implicit model's colour (vermillion,
	// the second series): count pixels of that hue that are neither the
	// line's full colour nor white.
	if n := tintedPixels(t, filepath.Join(dir, report.PlotMetricVsT)); n < 500 {
		t.Errorf("metric plot has %d band pixels: the seed band is not drawn", n)
	}
	one := seedReports()[0]
	if err := report.Write(dir, one); err != nil {
		t.Fatal(err)
	}
	if n := tintedPixels(t, filepath.Join(dir, report.PlotMetricVsT)); n >= 500 {
		t.Errorf("a one-seed plot has %d band pixels", n)
	}
}

// tintedPixels counts the pixels of a PNG in the band's tint of the
// implicit model's vermillion (0xD5, 0x5E, 0x00) at a quarter over white.
func tintedPixels(t *testing.T, path string) int {
	t.Helper()
	img := decodePNG(t, path)
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			r, g, bl = r>>8, g>>8, bl>>8
			if absDiff(r, 0xF4) <= 3 && absDiff(g, 0xD6) <= 3 && absDiff(bl, 0xBF) <= 3 {
				n++
			}
		}
	}
	return n
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

// TestCombinedReportWithDivergedSeed: a model that diverged in one seed
// (NaN metric, NaN extra figure, infinite L_t) makes NaN means, spreads,
// per-seed figures and comparisons in the combined report; report.json
// must still be written (NaN and Inf as 0) and the caller's report left
// as it was. The ablation's 3-seed parity run lost its combined
// report.json this way when only the top-level figures were sanitized.
func TestCombinedReportWithDivergedSeed(t *testing.T) {
	reps := seedReports()
	bad := &reps[1].Models[1]
	bad.TestMetric = math.NaN()
	bad.Extra["spectral_radius"] = math.NaN()
	bad.Curve[2].Lipschitz = math.Inf(1)
	c, err := report.Combine(reps)
	if err != nil {
		t.Fatal(err)
	}
	c.Config = map[string]any{"tol": math.NaN(), "bounds": []float64{1, math.Inf(-1)}}
	dir := t.TempDir()
	if err := report.Write(dir, c); err != nil {
		t.Fatalf("a combined report with a diverged seed: %v", err)
	}
	back, err := report.Read(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := back.Models[1].Seeds[1].TestMetric; got != 0 {
		t.Errorf("the diverged seed's metric reads back as %g, want 0 (NaN)", got)
	}
	if got := back.Models[0].TestMetric; !near(got, 0.96) {
		t.Errorf("a healthy model's metric reads back as %g, want 0.96", got)
	}
	if !math.IsNaN(c.Models[1].Seeds[1].TestMetric) || !math.IsNaN(c.Config["tol"].(float64)) {
		t.Error("writing the report changed the caller's values")
	}
}
