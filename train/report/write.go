package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/implicit-ml/implicit/internal/killpoint"
	"github.com/implicit-ml/implicit/train"
)

// Write writes the report into dir: report.json (NaN and Inf, which JSON
// cannot hold, as 0), the PNG plots, report.md and curves.csv, each to a
// temporary name and then renamed, so a reader never sees half a file;
// curves.csv is written last (see Written).
func Write(dir string, rep *Report) error {
	js, err := json.MarshalIndent(sanitize(rep), "", "  ")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := WriteFile(filepath.Join(dir, "report.json"), func(w io.Writer) error {
		_, err := w.Write(append(js, '\n'))
		return err
	}); err != nil {
		return err
	}
	plots, err := WritePlots(dir, rep)
	if err != nil {
		return err
	}
	if err := WriteFile(filepath.Join(dir, "report.md"), func(w io.Writer) error {
		return WriteMarkdown(w, rep, plots)
	}); err != nil {
		return err
	}
	return WriteFile(filepath.Join(dir, "curves.csv"), func(w io.Writer) error {
		cw := csv.NewWriter(w)
		cw.Write([]string{"model", "t", "metric", "metric_std", "lipschitz", "metric_seed_std", "lipschitz_seed_std"})
		for _, m := range rep.Models {
			for _, p := range m.Curve {
				cw.Write([]string{m.Name, strconv.Itoa(p.T), CSVFloat(p.Metric), CSVFloat(p.MetricStd), CSVFloat(p.Lipschitz),
					CSVFloat(p.MetricSeedStd), CSVFloat(p.LipschitzSeedStd)})
			}
		}
		cw.Flush()
		return cw.Error()
	})
}

// Written says whether Write finished in dir: each file is renamed into
// place when complete, and curves.csv, the last, is there.
func Written(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "curves.csv"))
	return err == nil
}

// Read loads a report.json written by Write.
func Read(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("report: %s: %w", path, err)
	}
	return &r, nil
}

// CSVFloat formats a number for the CSV files of a report: 8 significant
// digits, the shortest form.
func CSVFloat(v float64) string { return strconv.FormatFloat(v, 'g', 8, 64) }

// WriteFile writes a file of a report's folder through write, to a
// temporary name that is renamed when complete, so a reader (or a run that
// resumes) never sees half a file.
func WriteFile(path string, write func(io.Writer) error) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := write(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("report: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	killpoint.At("report:%s", filepath.Base(path))
	return os.Rename(tmp, path)
}

// PrintTable writes the side-by-side table and the curves as text, for a
// terminal.
func PrintTable(w io.Writer, rep *Report) {
	seeds := fmt.Sprintf("seed %d", rep.Seed)
	if len(rep.Seeds) > 1 {
		seeds = fmt.Sprintf("mean ± std over seeds %s", seedList(rep.Seeds))
	}
	fmt.Fprintf(w, "\n%s on %s (%s%s)\n\n", rep.Experiment, rep.Dataset, seeds, map[bool]string{true: ", quick", false: ""}[rep.Quick])
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "model\tkind\tparams\ttrain s\tsamples/s\tpeak heap MiB\tfwd it\tbwd it\tL (conv.)\ttest %s\t\n", rep.Metric.Name)
	for _, m := range rep.Models {
		it := func(v float64) string {
			if m.Kind == train.KindExplicit || v == 0 {
				return "-"
			}
			return fmt.Sprintf("%.1f", v)
		}
		metric := fmt.Sprintf("%.4f", m.TestMetric)
		if len(rep.Seeds) > 1 {
			metric += " ± " + FormatSpread(m.TestMetricSeedStd)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f\t%.0f\t%.1f\t%s\t%s\t%.3g\t%s\t\n", m.Name, m.Kind, m.Params, m.TrainSeconds,
			m.TrainSamplesPerSecond, float64(m.PeakHeapBytes)/(1<<20), it(m.ForwardIterationsMean), it(m.BackwardIterationsMean), m.Lipschitz, metric)
	}
	tw.Flush()
	for _, m := range rep.Models {
		if len(m.Curve) == 0 {
			continue
		}
		var parts []string
		for _, p := range m.Curve {
			if len(rep.Seeds) > 1 {
				parts = append(parts, fmt.Sprintf("t=%d: %.4f ± %s (L %.3g ± %s)", p.T, p.Metric, FormatSpread(p.MetricSeedStd), p.Lipschitz, FormatSpread(p.LipschitzSeedStd)))
				continue
			}
			parts = append(parts, fmt.Sprintf("t=%d: %.4f (L %.3g)", p.T, p.Metric, p.Lipschitz))
		}
		fmt.Fprintf(w, "\n%s, %s and L_t against test-time iterations:\n  %s\n", m.Name, rep.Metric.Name, strings.Join(parts, "\n  "))
	}
	for _, c := range rep.Comparisons {
		fmt.Fprintf(w, "\n%s", c.Sentence(rep.Metric.Name))
	}
	if len(rep.Comparisons) > 0 {
		fmt.Fprintln(w)
	}
}
