package experiments

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/implicit-ml/implicit/internal/killpoint"
	"github.com/implicit-ml/implicit/train/report"
)

// maxSeeds bounds Options.Seeds: each seed is a whole run.
const maxSeeds = 100

// SeedFolder is the subfolder of a multi-seed run that holds seed's run.
func SeedFolder(seed uint64) string { return fmt.Sprintf("seed-%d", seed) }

// runSeeds runs e once per seed of opts.Seeds, in sequence, each into its
// own folder seed-N of the run folder, then writes the combined report
// (means and spreads over seeds) into the run folder. With -resume, a
// seed whose report is written is read back rather than run again, and
// the seed that was interrupted continues from its checkpoints.
func runSeeds(ctx context.Context, e Experiment, opts Options) (*report.Report, error) {
	first := opts
	first.Seed, first.Seeds = opts.Seeds[0], nil
	if _, err := Resolve(e, first); err != nil { // every seed's settings are these but the seed
		return nil, err
	}
	top := outDir(opts)
	opts.Out = top
	s, err := Resolve(e, opts)
	if err != nil {
		return nil, err
	}
	if err := claim(s, opts.Stderr); err != nil {
		return nil, err
	}
	if opts.Shard.Active() && shardsBySeed(e) {
		return nil, runSeedUnits(ctx, opts)
	}
	if opts.Shard.Active() {
		return nil, runSeedsShard(ctx, e, opts)
	}
	var reps []*report.Report
	for i, seed := range opts.Seeds {
		killpoint.At("seed:%d", seed)
		logf(opts, "seed %d (%d of %d) into %s", seed, i+1, len(opts.Seeds), filepath.Join(top, SeedFolder(seed)))
		rep, err := runOneSeed(ctx, opts, seed)
		var stopped *Interrupted
		if errors.As(err, &stopped) {
			return nil, &Interrupted{Dir: top, Err: stopped.Err}
		}
		if err != nil {
			return nil, fmt.Errorf("seed %d: %w", seed, err)
		}
		reps = append(reps, rep)
	}
	return writeCombined(opts, reps)
}

// writeCombined writes the report combining the seeds' reports into the
// run folder opts.Out, and prints its table.
func writeCombined(opts Options, reps []*report.Report) (*report.Report, error) {
	top := opts.Out
	combined, err := report.Combine(reps)
	if err != nil {
		return nil, err
	}
	combined.Command = opts.Command
	combined.Created = time.Now().UTC().Format(time.RFC3339)
	combined.Notes = append(combined.Notes, fmt.Sprintf("Seeds %s ran one after another; each seed's own report is in its folder (%s). The wall time is the seeds' sum.",
		seedsString(opts.Seeds), strings.Join(seedFolders(opts.Seeds), ", ")))
	if err := report.Write(top, combined); err != nil {
		return nil, err
	}
	if opts.Stdout != nil {
		report.PrintTable(opts.Stdout, combined)
		fmt.Fprintf(opts.Stdout, "\nreport: %s (mean ± std over seeds %s; each seed's report in %s)\n",
			filepath.Join(top, "report.md"), seedsString(opts.Seeds), filepath.Join(top, "seed-N"))
	}
	return combined, nil
}

// runOneSeed runs (or, resuming, reads back or continues) one seed of a
// multi-seed run whose folder is opts.Out.
func runOneSeed(ctx context.Context, opts Options, seed uint64) (*report.Report, error) {
	o := opts
	o.Seed, o.Seeds, o.Stdout = seed, nil, nil
	o.Out = filepath.Join(opts.Out, SeedFolder(seed))
	o.Resume = false
	if opts.Resume {
		if report.Written(o.Out) {
			logf(opts, "seed %d finished in an earlier run; reading its report", seed)
			return report.Read(filepath.Join(o.Out, "report.json"))
		}
		// A seed that had started continues; one that had not starts.
		if _, err := os.Stat(filepath.Join(o.Out, ManifestFile)); err == nil {
			o.Resume = true
		}
	}
	return Run(ctx, o)
}

func logf(o Options, format string, args ...any) {
	if o.Stderr != nil {
		fmt.Fprintf(o.Stderr, format+"\n", args...)
	}
}

// seedsString is the seeds as -seeds takes them: "1,2,3".
func seedsString(seeds []uint64) string {
	return strings.Trim(strings.Join(strings.Fields(fmt.Sprint(seeds)), ","), "[]")
}

func seedFolders(seeds []uint64) []string {
	out := make([]string, len(seeds))
	for i, s := range seeds {
		out[i] = SeedFolder(s)
	}
	return out
}

// ParseSeeds reads a -seeds value: a comma-separated list of seeds
// ("1,2,3") or a range ("1-5"), or both ("1-3,7").
func ParseSeeds(v string) ([]uint64, error) {
	var out []uint64
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(lo, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("-seeds %q: %q is not a seed (want a list such as 1,2,3 or a range such as 1-5)", v, part)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 64); err != nil || b < a {
				return nil, fmt.Errorf("-seeds %q: %q is not a range (want low-high, low ≤ high)", v, part)
			}
		}
		if b-a >= maxSeeds {
			return nil, fmt.Errorf("-seeds %q: at most %d seeds", v, maxSeeds)
		}
		for x := a; x <= b; x++ {
			out = append(out, x)
		}
	}
	return out, nil
}
