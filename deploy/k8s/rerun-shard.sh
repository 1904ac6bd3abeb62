#!/bin/bash
# Reruns one shard of a sharded run (a failed index, or one the merge
# names) as a Job of its own: the shards' Job with one completion and
# -shard INDEX/N. The shard resumes its own units; no other shard's
# results are touched.
#   deploy/k8s/rerun-shard.sh INDEX
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
i=$1
n=$(awk '/name: IMPLICIT_SHARDS/{getline; gsub(/[^0-9]/, ""); print}' "$here/shards-job.yaml")
sed -e "s/name: implicit-shards/name: implicit-shard-$i/" \
	-e 's/completions: .*/completions: 1/' -e 's/parallelism: .*/parallelism: 1/' \
	-e "/name: SHARD_ARGS/{n;s|value: .*|value: \"-shard $i/$n\"|}" \
	"$here/shards-job.yaml" | kubectl apply -f -
kubectl wait --for=condition=complete "job/implicit-shard-$i" --timeout="${TIMEOUT:-24h}"
