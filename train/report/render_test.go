package report_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/implicit-ml/implicit/train"
	"github.com/implicit-ml/implicit/train/report"
)

// renderCurve is a fixture shaped like the behaviour the figures must
// show: the metric approaches a plateau with time constant tau while L_t
// rises towards lMax.
func renderCurve(ts []int, plateau, tau, lMax float64) []train.CurvePoint {
	c := make([]train.CurvePoint, len(ts))
	for i, t := range ts {
		c[i] = train.CurvePoint{
			T:         t,
			Metric:    plateau - 0.6*math.Exp(-float64(t)/tau),
			Lipschitz: 1 + (lMax-1)*(1-math.Exp(-float64(t)/(2*tau))),
		}
	}
	return c
}

func renderRange(n int) []int {
	ts := make([]int, n)
	for i := range ts {
		ts[i] = i + 1
	}
	return ts
}

// renderReport is a comparison of one explicit, one implicit and one
// unrolled model, as the experiments write it.
func renderReport() *report.Report {
	return &report.Report{
		Experiment: "deq-mnist",
		Dataset:    "MNIST",
		Seed:       7,
		Quick:      true,
		Metric:     report.MetricInfo{Name: "accuracy", HigherIsBetter: true},
		Command:    "implicit run deq-mnist -quick -seed 7",
		Notes:      []string{"Quick run: 2 epochs on 5,000 samples."},
		Config:     map[string]any{"epochs": 2.0, "solver": "anderson", "tol": 1e-4},
		Models: []report.ModelReport{
			{
				Name: "mlp", Kind: train.KindExplicit, Params: 1234567,
				TrainSeconds: 12.5, TrainSamplesPerSecond: 40123.4,
				PeakHeapBytes: 64 << 20, TestMetric: 0.9612, Lipschitz: 9.5,
				InferSamplesPerSecond: 250000,
			},
			{
				Name: "deq", Kind: train.KindImplicit, Params: 45678,
				TrainSeconds: 80.25, TrainSamplesPerSecond: 6250,
				PeakHeapBytes: 12 << 20, TestMetric: 0.9791,
				ForwardIterationsMean: 14.2, BackwardIterationsMean: 9.8,
				Curve:       renderCurve([]int{1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144}, 0.9791, 4, 3),
				Lipschitz:   2.9,
				Description: "monotone DEQ, Anderson forward, IFT backward",
			},
			{
				Name: "unrolled-8", Kind: train.KindUnrolled, Params: 45678,
				TrainSeconds: 60, TrainSamplesPerSecond: 8000,
				PeakHeapBytes: 48 << 20, TestMetric: 0.9705, Lipschitz: 4.1,
			},
		},
	}
}

func TestWriteMarkdown(t *testing.T) {
	lower := renderReport()
	lower.Metric = report.MetricInfo{Name: "relative L2 error"}
	lower.Models[0].TestMetric = 0.012
	lower.Models[1].TestMetric = 0.034
	lower.Models[2].TestMetric = 0.056

	broken := renderReport()
	broken.Models[1].TestMetric = math.NaN()
	broken.Models[1].Curve[3].Metric = math.Inf(1)
	broken.Models[1].Curve[4].Lipschitz = 0
	broken.Models[2].TestMetric = 0

	for _, tc := range []struct {
		name  string
		r     *report.Report
		plots []string
		want  []string
		not   []string
	}{
		{
			name:  "higher is better",
			r:     renderReport(),
			plots: []string{report.PlotMetricVsT, report.PlotLipschitzVsT},
			want: []string{
				"# deq-mnist on MNIST\n",
				"```\nimplicit run deq-mnist -quick -seed 7\n```\n",
				"| model | kind | params | train time (s) | train samples/s | peak heap (MiB) | fwd iters | bwd iters | infer samples/s | accuracy |\n",
				"| mlp | explicit | 1,234,567 | 12.5 | 40,123 | 64 |  |  | 250,000 | 0.9612 |\n",
				"| deq | implicit | 45,678 | 80.25 | 6250 | 12 | 14.2 | 9.8 |  | **0.9791** |\n",
				"| unrolled-8 | unrolled |",
				"Best accuracy in bold (higher is better).",
				"- Quick run: 2 epochs on 5,000 samples.\n",
				"![metric vs t](metric_vs_t.png)\n",
				"![lipschitz vs t](lipschitz_vs_t.png)\n",
				"### deq\n\n| t | accuracy | L_t |\n",
				"| 144 | 0.9791 | 3 |\n",
				"| tol | 0.0001 |\n",
			},
			not: []string{"**0.9612**", "**0.9705**", "points shown"},
		},
		{
			name: "lower is better",
			r:    lower,
			want: []string{"| **0.012** |", "| 0.034 |", "(lower is better)"},
			not:  []string{"## Plots"},
		},
		{
			name: "NaN and zero values",
			r:    broken,
			want: []string{"| NaN |", "| **0.9612** |", "| 0 |", "| 5 | +Inf |", "| 8 | 0.8979 |  |\n"},
		},
		{
			name: "command with a code fence",
			r:    &report.Report{Experiment: "x", Command: "echo ```"},
			want: []string{"````\necho ```\n````\n"},
		},
		{
			name: "no models",
			r:    &report.Report{Experiment: "empty"},
			want: []string{"# empty\n", "No models were reported."},
			not:  []string{"| model |"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := report.WriteMarkdown(&b, tc.r, tc.plots); err != nil {
				t.Fatal(err)
			}
			md := b.String()
			for _, m := range tc.r.Models {
				if !strings.Contains(md, "| "+m.Name+" |") {
					t.Errorf("no row for model %q", m.Name)
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(md, w) {
					t.Errorf("missing %q", w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(md, n) {
					t.Errorf("unexpected %q", n)
				}
			}
			if t.Failed() {
				t.Logf("markdown:\n%s", md)
			}
		})
	}
}

func TestWriteMarkdownLongCurve(t *testing.T) {
	r := renderReport()
	r.Models[1].Curve = renderCurve(renderRange(1000), 0.98, 20, 5)
	var b bytes.Buffer
	if err := report.WriteMarkdown(&b, r, nil); err != nil {
		t.Fatal(err)
	}
	_, table, _ := strings.Cut(b.String(), "### deq\n")
	table, _, _ = strings.Cut(table, "\n\n##")
	var ts []string
	for line := range strings.Lines(table) {
		if f := strings.Split(line, " | "); len(f) == 3 && strings.HasPrefix(line, "| ") {
			ts = append(ts, strings.TrimPrefix(f[0], "| "))
		}
	}
	ts = ts[2:] // header and alignment rows
	if len(ts) > 20 {
		t.Errorf("%d curve rows, want at most 20", len(ts))
	}
	for _, want := range []string{"1", "2", "5", "1000"} {
		if !slices.Contains(ts, want) {
			t.Errorf("curve rows %v lack t = %s", ts, want)
		}
	}
	if !strings.Contains(table, "of 1000 points shown.") {
		t.Errorf("no note that the curve is abridged:\n%s", table)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteMarkdownErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    *report.Report
		want string
	}{
		{name: "nil report", r: nil, want: "report: WriteMarkdown needs a report"},
		{name: "failing writer", r: renderReport(), want: "disk full"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := report.WriteMarkdown(failingWriter{}, tc.r, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "report: ") {
				t.Errorf("err = %v, want one with %q", err, tc.want)
			}
		})
	}
}

// checkPNG fails t unless path holds a decodable PNG with a non-empty
// image.
func checkPNG(t *testing.T, path string) {
	t.Helper()
	img := decodePNG(t, path)
	if b := img.Bounds(); b.Dx() <= 0 || b.Dy() <= 0 {
		t.Errorf("%s: image is %v", path, b)
	}
}

func TestWritePlots(t *testing.T) {
	both := []string{report.PlotMetricVsT, report.PlotLipschitzVsT}

	longT := renderReport()
	longT.Models[1].Curve = renderCurve([]int{1, 2, 5, 10, 25, 100, 1000}, 0.98, 5, 400)

	dense := renderReport()
	dense.Models[1].Curve = renderCurve(renderRange(1000), 0.98, 20, 5)

	broken := renderReport()
	c := broken.Models[1].Curve
	c[0].Metric, c[1].Metric, c[2].Lipschitz = math.NaN(), math.Inf(-1), 0
	c[3].Lipschitz, c[4].Lipschitz = -1, math.Inf(1)
	broken.Models[0].TestMetric, broken.Models[0].Lipschitz = math.NaN(), 0
	broken.Models[2].TestMetric = 0

	// A log t axis and a metric that spans decades (an error falling from
	// 0.6 towards 1e-3) put both axes on log scale with zeros to drop.
	logBoth := renderReport()
	logBoth.Metric = report.MetricInfo{Name: "relative L2 error"}
	logBoth.Models[1].Curve = renderCurve([]int{0, 1, 3, 10, 30, 100}, 0, 5, 1000)
	for i := range logBoth.Models[1].Curve {
		logBoth.Models[1].Curve[i].Metric = 0.6*math.Exp(-float64(i)) + 1e-3
	}
	logBoth.Models[0].TestMetric = 0

	noLipschitz := renderReport()
	for i := range noLipschitz.Models[1].Curve {
		noLipschitz.Models[1].Curve[i].Lipschitz = 0
	}

	single := renderReport()
	single.Models[1].Curve = single.Models[1].Curve[:1]

	noCurves := renderReport()
	noCurves.Models[1].Curve = nil

	for _, tc := range []struct {
		name string
		r    *report.Report
		want []string
	}{
		{"three models", renderReport(), both},
		{"non-uniform t up to 1000", longT, both},
		{"1000 points", dense, both},
		{"NaN, Inf, zero and negative values", broken, both},
		{"log axes with zeros", logBoth, both},
		{"no Lipschitz measured", noLipschitz, []string{report.PlotMetricVsT}},
		{"single point", single, both},
		{"no curves", noCurves, nil},
		{"no models", &report.Report{Experiment: "empty"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			got, err := report.WritePlots(dir, tc.r)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("WritePlots = %q, want %q", got, tc.want)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var files []string
			for _, e := range entries {
				files = append(files, e.Name())
			}
			slices.Sort(files)
			want := slices.Sorted(slices.Values(tc.want))
			if !slices.Equal(files, want) {
				t.Errorf("directory holds %q, want %q", files, want)
			}
			for _, f := range got {
				checkPNG(t, filepath.Join(dir, f))
			}
		})
	}
}

func TestWritePlotsDeterministic(t *testing.T) {
	var images [2][]byte
	for i := range images {
		dir := t.TempDir()
		if _, err := report.WritePlots(dir, renderReport()); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, report.PlotMetricVsT))
		if err != nil {
			t.Fatal(err)
		}
		images[i] = b
	}
	if !bytes.Equal(images[0], images[1]) {
		t.Error("the same report drew two different images")
	}
}

func TestWritePlotsCreatesDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run", "plots")
	got, err := report.WritePlots(dir, renderReport())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range got {
		checkPNG(t, filepath.Join(dir, f))
	}
	if _, err := report.WritePlots(dir, nil); err == nil {
		t.Error("WritePlots accepted a nil report")
	}
}

func TestLinePlot(t *testing.T) {
	for _, tc := range []struct {
		name       string
		logX, logY bool
		series     []report.Series
		wantErr    string
	}{
		{
			name: "lines, points and a reference",
			series: []report.Series{
				{Name: "a", X: []float64{1, 2, 3}, Y: []float64{1, 4, 9}, Points: true},
				{Name: "b", X: []float64{1, 3}, Y: []float64{5, 5}, Dashed: true},
				{X: []float64{1, 3}, Y: []float64{2, 3}},
			},
		},
		{
			name: "log axes drop non-positive values",
			logX: true, logY: true,
			series: []report.Series{
				{Name: "a", X: []float64{-1, 0, 1, 10, 100}, Y: []float64{1, 1, 0, 0.5, 0.001}},
			},
		},
		{
			name: "narrow log range",
			logY: true,
			series: []report.Series{
				{Name: "a", X: []float64{1, 2, 3}, Y: []float64{3, 3.5, 4}},
			},
		},
		{
			name: "one value",
			series: []report.Series{
				{Name: "a", X: []float64{2}, Y: []float64{2}},
			},
		},
		{
			name:    "mismatched lengths",
			series:  []report.Series{{Name: "a", X: []float64{1, 2}, Y: []float64{1}}},
			wantErr: `series "a" has 2 x values but 1 y values`,
		},
		{
			name:    "nothing drawable",
			logY:    true,
			series:  []report.Series{{Name: "a", X: []float64{1, math.NaN()}, Y: []float64{0, 1}}},
			wantErr: "no finite points",
		},
		{name: "no series", wantErr: "no finite points"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "p.png")
			err := report.LinePlot(path, "title", "x", "y", tc.logX, tc.logY, tc.series)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "report: ") {
					t.Errorf("err = %v, want one with %q", err, tc.wantErr)
				}
				if _, statErr := os.Stat(path); statErr == nil {
					t.Error("a failed plot left a file")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkPNG(t, path)
		})
	}
	if err := report.LinePlot("", "", "", "", false, false, nil); err == nil {
		t.Error("LinePlot accepted an empty path")
	}
	missing := filepath.Join(t.TempDir(), "missing", "p.png")
	ok := []report.Series{{X: []float64{1, 2}, Y: []float64{1, 2}}}
	if err := report.LinePlot(missing, "", "", "", false, false, ok); err == nil || !strings.HasPrefix(err.Error(), "report: writing ") {
		t.Errorf("LinePlot into a missing directory: err = %v", err)
	}
}

func ExampleWriteMarkdown() {
	r := &report.Report{
		Experiment: "deq-toy",
		Dataset:    "spirals",
		Metric:     report.MetricInfo{Name: "accuracy", HigherIsBetter: true},
		Models: []report.ModelReport{
			{Name: "mlp", Kind: train.KindExplicit, Params: 1200, TrainSeconds: 1.5, TestMetric: 0.91},
			{
				Name: "deq", Kind: train.KindImplicit, Params: 400, TrainSeconds: 4.25, TestMetric: 0.94,
				ForwardIterationsMean: 12,
				Curve: []train.CurvePoint{
					{T: 1, Metric: 0.62, Lipschitz: 0.8},
					{T: 10, Metric: 0.94, Lipschitz: 1.9},
				},
			},
		},
	}
	if err := report.WriteMarkdown(os.Stdout, r, []string{report.PlotMetricVsT}); err != nil {
		fmt.Println(err)
	}
	// Output:
	// # deq-toy on spirals
	//
	// ## Results
	//
	// | model | kind | params | train time (s) | train samples/s | peak heap (MiB) | fwd iters | accuracy |
	// | :-- | :-- | --: | --: | --: | --: | --: | --: |
	// | mlp | explicit | 1,200 | 1.5 |  |  |  | 0.91 |
	// | deq | implicit | 400 | 4.25 |  |  | 12 | **0.94** |
	//
	// Best accuracy in bold (higher is better).
	//
	// ## Plots
	//
	// ![metric vs t](metric_vs_t.png)
	//
	// ## Test-time iterations
	//
	// ### deq
	//
	// | t | accuracy | L_t |
	// | --: | --: | --: |
	// | 1 | 0.62 | 0.8 |
	// | 10 | 0.94 | 1.9 |
}

func ExampleLinePlot() {
	dir, err := os.MkdirTemp("", "lineplot")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	series := []report.Series{
		{Name: "loss", X: []float64{1, 2, 3, 4}, Y: []float64{1, 0.5, 0.3, 0.25}, Points: true},
		{Name: "target", X: []float64{1, 4}, Y: []float64{0.2, 0.2}, Dashed: true},
	}
	err = report.LinePlot(filepath.Join(dir, "loss.png"), "training", "epoch", "loss", false, false, series)
	fmt.Println(err)
	// Output: <nil>
}

// TestImplicitIterationsAlwaysInJSON: the contract's iteration fields are
// present for implicit models even at zero (JFB has no backward
// iterations), once each, and absent for explicit ones.
func TestImplicitIterationsAlwaysInJSON(t *testing.T) {
	for kind, want := range map[string]bool{train.KindImplicit: true, train.KindExplicit: false} {
		b, err := json.Marshal(report.ModelReport{Name: "m", Kind: kind})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{`"forward_iterations_mean"`, `"backward_iterations_mean"`} {
			if n := strings.Count(string(b), k); (n == 1) != want || n > 1 {
				t.Errorf("%s model: %s appears %d times in %s", kind, k, n, b)
			}
		}
		var back report.ModelReport
		if err := json.Unmarshal(b, &back); err != nil || back.Kind != kind {
			t.Errorf("round trip: %v, %+v", err, back)
		}
	}
}

// decodePNG reads the PNG at path or fails t.
func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}
