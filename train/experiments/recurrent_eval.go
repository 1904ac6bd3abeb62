package experiments

import (
	"context"
	"fmt"
	"math"
	"path/filepath"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/train"
	"github.com/implicit-ml/implicit/train/report"
)

// recurrentEval measures every model by greedy decoding: exact match on
// the test sets and the Lipschitz ratio on their pairs, the recurrent
// model at every test r.
type recurrentEval struct {
	sz   recurrentSizes
	data *recurrentData
	// table holds the recurrent model's completions of the table pair at
	// each of sz.tableRs (set by after, written by finish).
	table      datasets.VarTrackPair
	tableOut   [][2][]int
	tableFound bool
}

// recurrentPoint is one model's figures at one setting.
type recurrentPoint struct {
	test, harder, val  float64
	lipTest, lipHarder float64
	withVal            bool
}

// measure decodes the test sets (and the validation set when withVal)
// and the second prompts of both pair sets (the first are the test
// programs).
func (e *recurrentEval) measure(d decoder, withVal bool) (recurrentPoint, error) {
	p := recurrentPoint{withVal: withVal}
	cTest, err := d.completeSet(e.data.test)
	if err != nil {
		return p, err
	}
	cHarder, err := d.completeSet(e.data.harder)
	if err != nil {
		return p, err
	}
	p.test, p.harder = exactMatch(e.data.test, cTest), exactMatch(e.data.harder, cHarder)
	if withVal {
		cVal, err := d.completeSet(e.data.val)
		if err != nil {
			return p, err
		}
		p.val = exactMatch(e.data.val, cVal)
	}
	if p.lipTest, err = d.lipschitz(e.data.test, cTest, e.data.pairs); err != nil {
		return p, err
	}
	p.lipHarder, err = d.lipschitz(e.data.harder, cHarder, e.data.harderPairs)
	return p, err
}

// after replaces the runner's teacher-forced figures by greedy ones: for
// the baselines once, for the recurrent model at every test r (its
// curve), with test_metric at the r the validation set picks, the table
// pair's completions and the fixed-point solve.
func (e *recurrentEval) after(ctx context.Context, m model, ev *train.Evaluator, mr *report.ModelReport) error {
	if mr.Extra == nil {
		mr.Extra = map[string]float64{}
	}
	d := decoder{ev: ev, seqLen: e.data.train.Length(), vocab: e.sz.vocab}
	if m.Kind() != train.KindImplicit {
		p, err := e.measure(d, false)
		if err != nil {
			return err
		}
		e.record(mr, p, "")
		return nil
	}
	best, bestVal := 0, -1.0
	for _, r := range e.sz.rs {
		if err := ctx.Err(); err != nil {
			return err
		}
		ev.SetIterations(r)
		p, err := e.measure(d, true)
		if err != nil {
			return err
		}
		e.record(mr, p, fmt.Sprintf("_r%d", r))
		mr.Curve = append(mr.Curve, train.CurvePoint{T: r, Metric: p.harder, MetricStd: binomialStd(p.harder), Lipschitz: p.lipHarder})
		if p.val > bestVal {
			best, bestVal = r, p.val
		}
	}
	for _, pt := range mr.Curve {
		if pt.T == best {
			mr.TestMetric, mr.TestMetricStd, mr.Lipschitz = pt.Metric, pt.MetricStd, pt.Lipschitz
		}
	}
	mr.Extra["best_r"], mr.Extra["val_acc_best_r"] = float64(best), bestVal
	if err := e.tablePair(d, ev); err != nil {
		return err
	}
	ev.SetIterations(0)
	solved, err := d.completeSet(e.data.harder)
	if err != nil {
		return err
	}
	mr.Extra["acc_harder_solve"] = exactMatch(e.data.harder, solved)
	ev.SetIterations(best)
	return nil
}

// record writes a point's figures into the model's Extra (suffix names
// the r) and, for a baseline (no suffix), its test metric and L.
func (e *recurrentEval) record(mr *report.ModelReport, p recurrentPoint, suffix string) {
	mr.Extra["acc_train"+suffix], mr.Extra["acc_harder"+suffix] = p.test, p.harder
	mr.Extra["lip_train"+suffix], mr.Extra["lip_harder"+suffix] = p.lipTest, p.lipHarder
	if p.withVal {
		mr.Extra["acc_val"+suffix] = p.val
	}
	if suffix == "" {
		mr.TestMetric, mr.TestMetricStd, mr.Lipschitz = p.harder, binomialStd(p.harder), p.lipHarder
	}
}

// binomialStd is the standard deviation of a 0/1 score of mean p.
func binomialStd(p float64) float64 { return math.Sqrt(p * (1 - p)) }

// tablePair decodes the table pair — the first harder pair whose true
// answers differ — at each of the table's r.
func (e *recurrentEval) tablePair(d decoder, ev *train.Evaluator) error {
	for _, p := range e.data.harderPairs {
		if levenshtein(p.AnswersA, p.AnswersB) > 0 {
			e.table, e.tableFound = p, true
			break
		}
	}
	if !e.tableFound {
		return nil
	}
	e.tableOut = nil
	for _, r := range e.sz.tableRs {
		ev.SetIterations(r)
		out, err := d.complete([][]int{e.table.A, e.table.B}, e.sz.train.Queries)
		if err != nil {
			return err
		}
		e.tableOut = append(e.tableOut, [2][]int{out[0], out[1]})
	}
	return nil
}

// finish adds the table and the oracle ratios to the report and draws the
// figures of both program sets against r.
func (e *recurrentEval) finish(dir string, rep *report.Report) error {
	for _, set := range []struct {
		key   string
		pairs []datasets.VarTrackPair
	}{{"train", e.data.pairs}, {"harder", e.data.harderPairs}} {
		o, err := oracleLipschitz(set.pairs)
		if err != nil {
			return err
		}
		for i := range rep.Models {
			if rep.Models[i].Extra != nil {
				rep.Models[i].Extra["oracle_lipschitz_"+set.key] = o
			}
		}
	}
	rep.Notes = append(rep.Notes, e.tableNotes()...)
	if err := e.figure(filepath.Join(dir, "recurrent_accuracy_vs_r.png"), rep, "acc", "exact match (greedy)", false); err != nil {
		return err
	}
	return e.figure(filepath.Join(dir, "recurrent_lipschitz_vs_r.png"), rep, "lip", "Lipschitz ratio (Levenshtein)", true)
}

// tableNotes are the table in the spirit of the paper's Table 2: one
// prompt pair, the recurrent model's completions at each r.
func (e *recurrentEval) tableNotes() []string {
	if !e.tableFound {
		return []string{"No harder prompt pair with different true answers was found for the table."}
	}
	p := e.table
	notes := []string{fmt.Sprintf("Table (in the spirit of the paper's Table 2): prompt A `%s` and prompt B `%s` differ in token %d (%s → %s); true completions A `%s`, B `%s`. The recurrent model's greedy completions by r follow.",
		datasets.VarTrackText(p.A), datasets.VarTrackText(p.B), p.Position, datasets.VarTrackToken(p.A[p.Position]), datasets.VarTrackToken(p.B[p.Position]),
		datasets.VarTrackWords(p.AnswersA), datasets.VarTrackWords(p.AnswersB))}
	for i, out := range e.tableOut {
		notes = append(notes, fmt.Sprintf("Table, r = %d: A → `%s`, B → `%s` (distance %d)", e.sz.tableRs[i],
			datasets.VarTrackWords(out[0]), datasets.VarTrackWords(out[1]), levenshtein(out[0], out[1])))
	}
	return notes
}

// figure draws the recurrent model's figure (key acc or lip) on both sets
// against r, the baselines as horizontal lines (and, for lip, the true
// answers' ratio).
func (e *recurrentEval) figure(path string, rep *report.Report, key, label string, oracle bool) error {
	lo, hi := float64(e.sz.rs[0]), float64(e.sz.rs[len(e.sz.rs)-1])
	var series []report.Series
	for _, set := range []string{"train", "harder"} {
		for _, m := range rep.Models {
			if m.Kind != train.KindImplicit {
				continue
			}
			s := report.Series{Name: fmt.Sprintf("%s, %s programs", m.Name, set), Points: true}
			for _, r := range e.sz.rs {
				if v, ok := m.Extra[fmt.Sprintf("%s_%s_r%d", key, set, r)]; ok {
					s.X, s.Y = append(s.X, float64(r)), append(s.Y, v)
				}
			}
			series = append(series, s)
		}
		for _, m := range rep.Models {
			if v, ok := m.Extra[key+"_"+set]; ok && m.Kind != train.KindImplicit {
				series = append(series, report.Series{Name: fmt.Sprintf("%s, %s", m.Name, set), X: []float64{lo, hi}, Y: []float64{v, v}, Dashed: true})
			}
		}
		if v, ok := rep.Models[0].Extra["oracle_lipschitz_"+set]; ok && oracle {
			series = append(series, report.Series{Name: "true answers, " + set, X: []float64{lo, hi}, Y: []float64{v, v}, Dashed: true})
		}
	}
	return report.LinePlot(path, "variable tracking: "+label+" against r", "core iterations r", label, true, false, series)
}
