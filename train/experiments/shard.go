package experiments

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// Shard selects part of a run's training units for one process of a
// cluster job (a Slurm array task, a Kubernetes Indexed Job's pod). The
// units are in a stable order. For classify and ablation they are the
// models, seed by seed: unit k = seed position × models + model position,
// models in the order the experiment lists them. For every other
// experiment a unit is a whole seed: unit k is the seed at position k of
// -seeds, and a run of one seed is one unit (see shardsBySeed). Shard
// Index of Count trains the units with k mod Count = Index. The zero
// value (Count 0) is no sharding: every unit, one after another, as a
// single process.
type Shard struct {
	Index, Count int
}

// Active says whether s selects a part of the units.
func (s Shard) Active() bool { return s.Count > 0 }

// Owns says whether unit k is this shard's.
func (s Shard) Owns(k int) bool { return !s.Active() || k%s.Count == s.Index }

// String is the shard as -shard takes it: "i/n".
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// maxShards bounds Shard.Count (Slurm's default MaxArraySize is 1001).
const maxShards = 10000

// ParseShard reads a -shard value "i/n" (0 ≤ i < n).
func ParseShard(v string) (Shard, error) {
	a, b, ok := strings.Cut(v, "/")
	if !ok {
		return Shard{}, fmt.Errorf("-shard %q: want i/n, such as 0/3 (the first of three shards)", v)
	}
	i, err1 := strconv.Atoi(strings.TrimSpace(a))
	n, err2 := strconv.Atoi(strings.TrimSpace(b))
	if err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("-shard %q: want i/n with whole numbers, such as 0/3", v)
	}
	return newShard(i, n, "-shard "+v)
}

func newShard(i, n int, what string) (Shard, error) {
	switch {
	case n < 1 || n > maxShards:
		return Shard{}, fmt.Errorf("%s: the shard count must be between 1 and %d, got %d", what, maxShards, n)
	case i < 0 || i >= n:
		return Shard{}, fmt.Errorf("%s: the shard index must be between 0 and %d, got %d", what, n-1, i)
	}
	return Shard{Index: i, Count: n}, nil
}

// ShardFromEnv reads the shard from a cluster scheduler's variables, for
// a command line without -shard: Slurm's SLURM_ARRAY_TASK_ID and
// SLURM_ARRAY_TASK_COUNT (an array --array=0-(n-1)), or a Kubernetes
// Indexed Job's JOB_COMPLETION_INDEX with the count from count (the
// -shards flag; 0 when not given) or else IMPLICIT_SHARDS (the Job's
// completions, which Kubernetes does not pass to the pod). getenv is
// os.Getenv in the command. ok is false when no scheduler variable is
// set.
func ShardFromEnv(getenv func(string) string, count int) (s Shard, ok bool, err error) {
	if id := getenv("SLURM_ARRAY_TASK_ID"); id != "" {
		n := getenv("SLURM_ARRAY_TASK_COUNT")
		if count > 0 {
			n = strconv.Itoa(count)
		}
		s, err := envShard("SLURM_ARRAY_TASK_ID", id, "SLURM_ARRAY_TASK_COUNT", n)
		return s, true, err
	}
	if id := getenv("JOB_COMPLETION_INDEX"); id != "" {
		n := getenv("IMPLICIT_SHARDS")
		if count > 0 {
			n = strconv.Itoa(count)
		}
		s, err := envShard("JOB_COMPLETION_INDEX", id, "-shards (or IMPLICIT_SHARDS)", n)
		return s, true, err
	}
	if count > 0 {
		return Shard{}, false, fmt.Errorf("-shards %d needs a shard index: -shard i/n, SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX", count)
	}
	return Shard{}, false, nil
}

func envShard(idName, id, countName, count string) (Shard, error) {
	if count == "" {
		return Shard{}, fmt.Errorf("%s=%s is set but not the shard count: set %s (the array's size)", idName, id, countName)
	}
	i, err1 := strconv.Atoi(id)
	n, err2 := strconv.Atoi(count)
	if err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("%s=%q, %s=%q: want whole numbers", idName, id, countName, count)
	}
	return newShard(i, n, fmt.Sprintf("%s=%d of %s=%d", idName, i, countName, n))
}

// runSeedsShard runs a shard's units of every seed of a multi-seed run
// whose folder opts.Out it has claimed. Every seed's folder is claimed
// first, so that a merge can tell a seed no shard has reached from one
// that is not there.
func runSeedsShard(ctx context.Context, e Experiment, opts Options) error {
	each := func(i int, seed uint64) Options {
		o := opts
		o.Seed, o.Seeds, o.Stdout, o.seedIndex = seed, nil, nil, i
		o.Out = filepath.Join(opts.Out, SeedFolder(seed))
		return o
	}
	for i, seed := range opts.Seeds {
		s, err := Resolve(e, each(i, seed))
		if err != nil {
			return err
		}
		if err := claimShared(s); err != nil {
			return err
		}
	}
	for i, seed := range opts.Seeds {
		logf(opts, "shard %s: seed %d (%d of %d)", opts.Shard, seed, i+1, len(opts.Seeds))
		_, err := Run(ctx, each(i, seed))
		var stopped *Interrupted
		if errors.As(err, &stopped) {
			return &Interrupted{Dir: opts.Out, Err: stopped.Err, Shard: opts.Shard}
		}
		if err != nil {
			return fmt.Errorf("seed %d: %w", seed, err)
		}
	}
	return nil
}
