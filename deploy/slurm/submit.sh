#!/bin/bash
# Submits a sharded run to Slurm: an array of N shards and a merge job
# that starts when every shard has finished well.
#
#   deploy/slurm/submit.sh N OUT [train flags...]
#   deploy/slurm/submit.sh 3 /shared/runs/ablation -experiment ablation -quick
#
# OUT must be a folder every node sees (NFS, Lustre…). IMPLICIT_TRAIN is
# the trainer's path on the nodes (default: train on PATH); build it with
#   go build -o /shared/bin/train ./cmd/train
# Extra sbatch options (a partition, an account, a time limit) go in
# SBATCH_* variables, e.g. SBATCH_PARTITION=cpu SBATCH_TIMELIMIT=2:00:00.
# Prints the array's and the merge's job ids.
set -euo pipefail
if [ $# -lt 2 ]; then
	echo "usage: $0 N OUT [train flags...]" >&2
	exit 2
fi
n=$1 out=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
array=$(sbatch --parsable --array=0-$((n - 1)) "$here/train-array.sbatch" "$out" "$@")
array=${array%%;*}
merge=$(sbatch --parsable --dependency=afterok:"$array" --kill-on-invalid-dep=yes "$here/merge.sbatch" "$out")
merge=${merge%%;*}
echo "array $array ($n shards into $out), merge $merge"
