package experiments

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseShard(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Shard
		err  string
	}{
		{"0/3", Shard{0, 3}, ""},
		{"2/3", Shard{2, 3}, ""},
		{" 1 / 2 ", Shard{1, 2}, ""},
		{"3/3", Shard{}, "index must be between 0 and 2"},
		{"-1/3", Shard{}, "index must be between 0 and 2"},
		{"0/0", Shard{}, "count must be between 1"},
		{"1", Shard{}, "want i/n"},
		{"a/b", Shard{}, "whole numbers"},
	} {
		got, err := ParseShard(c.in)
		if c.err == "" && (err != nil || got != c.want) {
			t.Errorf("ParseShard(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
		if c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("ParseShard(%q): error %v, want one containing %q", c.in, err, c.err)
		}
	}
}

func TestShardFromEnv(t *testing.T) {
	for _, c := range []struct {
		env   map[string]string
		count int
		want  Shard
		ok    bool
		err   string
	}{
		{nil, 0, Shard{}, false, ""},
		{map[string]string{"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "3"}, 0, Shard{1, 3}, true, ""},
		{map[string]string{"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_COUNT": "3"}, 0, Shard{}, true, "index must be between 0 and 2"},
		{map[string]string{"SLURM_ARRAY_TASK_ID": "1"}, 0, Shard{}, true, "set SLURM_ARRAY_TASK_COUNT"},
		// A rerun of one index (--array=1) gives the run's count with -shards.
		{map[string]string{"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "1"}, 3, Shard{1, 3}, true, ""},
		{map[string]string{"JOB_COMPLETION_INDEX": "2"}, 4, Shard{2, 4}, true, ""},
		{map[string]string{"JOB_COMPLETION_INDEX": "2", "IMPLICIT_SHARDS": "5"}, 0, Shard{2, 5}, true, ""},
		{map[string]string{"JOB_COMPLETION_INDEX": "2"}, 0, Shard{}, true, "-shards (or IMPLICIT_SHARDS)"},
		{map[string]string{"JOB_COMPLETION_INDEX": "x", "IMPLICIT_SHARDS": "5"}, 0, Shard{}, true, "whole numbers"},
		{nil, 3, Shard{}, false, "needs a shard index"},
	} {
		got, ok, err := ShardFromEnv(func(k string) string { return c.env[k] }, c.count)
		if c.err == "" && (err != nil || got != c.want || ok != c.ok) {
			t.Errorf("%v, count %d: got %v %v %v, want %v %v", c.env, c.count, got, ok, err, c.want, c.ok)
		}
		if c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%v, count %d: error %v, want one containing %q", c.env, c.count, err, c.err)
		}
	}
}

func TestShardOwnsEachUnitOnce(t *testing.T) {
	const n, units = 3, 13
	owners := make([]int, units)
	for i := range n {
		for k := range units {
			if (Shard{i, n}).Owns(k) {
				owners[k]++
			}
		}
	}
	for k, o := range owners {
		if o != 1 {
			t.Errorf("unit %d has %d owners", k, o)
		}
	}
	if !(Shard{}).Owns(7) {
		t.Errorf("no sharding must own every unit")
	}
}

func ExampleParseShard() {
	s, err := ParseShard("1/3")
	if err != nil {
		panic(err)
	}
	for k := range 7 {
		if s.Owns(k) {
			fmt.Print(k, " ")
		}
	}
	fmt.Println("of", s)
	// Output: 1 4 of 1/3
}

func ExampleShardFromEnv() {
	env := map[string]string{"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "4"}
	s, ok, err := ShardFromEnv(func(k string) string { return env[k] }, 0)
	fmt.Println(s, ok, err)
	// Output: 2/4 true <nil>
}
