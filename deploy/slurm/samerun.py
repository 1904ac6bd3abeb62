#!/usr/bin/env python3
"""samerun.py SINGLE MERGED: checks that a merged sharded run equals the
single process's run of the same configuration: report.json but for the
figures that measure the machine (times, memory, the command line), every
metric bit for bit; metrics.jsonl the same records in the same order but
for their wall-clock seconds (no record lost or doubled); the same plots.
Exits 1 naming the first differences."""
import json
import os
import sys

VARIABLE = {"train_seconds", "train_samples_per_second", "peak_heap_bytes",
            "infer_samples_per_second", "wall_seconds", "created", "command", "machine"}


def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items() if k not in VARIABLE}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v


def report(d):
    with open(os.path.join(d, "report.json")) as f:
        return strip(json.load(f))


def records(d):
    out = []
    with open(os.path.join(d, "metrics.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            r.pop("seconds", None)
            out.append(json.dumps(r, sort_keys=True))
    return out


def main(single, merged):
    bad = []
    a, b = report(single), report(merged)
    if a != b:
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                bad.append(f"report.json {k}: single {str(a.get(k))[:400]}\n    merged {str(b.get(k))[:400]}")
    ra, rb = records(single), records(merged)
    if ra != rb:
        bad.append(f"metrics.jsonl: {len(ra)} records single, {len(rb)} merged; first difference at "
                   f"{next((i for i, (x, y) in enumerate(zip(ra, rb)) if x != y), min(len(ra), len(rb)))}")
    pa = sorted(f for f in os.listdir(single) if f.endswith(".png"))
    pb = sorted(f for f in os.listdir(merged) if f.endswith(".png"))
    if pa != pb:
        bad.append(f"plots: single {pa}, merged {pb}")
    if bad:
        print("the merged run differs from the single process's:\n  " + "\n  ".join(bad))
        return 1
    print(f"merged run = single process: {len(b['models'])} models' metrics bit for bit, "
          f"{len(rb)} metrics records, plots {pb}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
