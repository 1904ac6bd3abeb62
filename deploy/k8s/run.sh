#!/bin/bash
# Runs a sharded run on Kubernetes: the shared volume, the Indexed Job of
# shards, and — Kubernetes has no dependencies between Jobs — the merge
# Job once the shards' Job has completed. Edit RUN, TRAIN_ARGS, the image
# and the shard count (completions, parallelism and IMPLICIT_SHARDS
# together) in shards-job.yaml and merge-job.yaml first.
#   deploy/k8s/run.sh [TIMEOUT, default 24h]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
timeout=${1:-24h}
kubectl apply -f "$here/pvc.yaml"
kubectl apply -f "$here/shards-job.yaml"
if ! kubectl wait --for=condition=complete job/implicit-shards --timeout="$timeout"; then
	echo "the shards did not all complete; failed indexes:" >&2
	kubectl get job implicit-shards -o jsonpath='{.status.failedIndexes}{"\n"}' >&2
	echo "rerun one with deploy/k8s/rerun-shard.sh INDEX, then apply merge-job.yaml" >&2
	exit 1
fi
kubectl apply -f "$here/merge-job.yaml"
kubectl wait --for=condition=complete job/implicit-merge --timeout=1h
kubectl logs job/implicit-merge
