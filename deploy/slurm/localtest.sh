#!/bin/bash
# make slurm-test: a real one-node Slurm cluster on localhost runs a
# sharded run and its merge, and the merged report is checked against a
# single process's run of the same configuration.
#
# It starts munged, slurmctld and slurmd (Debian's slurm-wlm and munge)
# with a generated configuration in a temporary folder, runs the quick
# ablation (13 models) once as one process, then submits it with
# submit.sh as a 3-task array plus a dependent merge, requeues task 1 in
# the middle of its run (Slurm kills it; it reruns and resumes), waits
# with a bounded timeout, and checks that the merged report.json,
# report.md and metrics.jsonl equal the single process's (but for times,
# memory and the command line): nothing lost or doubled. The daemons it
# started are stopped by their pids, whatever happens. Needs root (the
# daemons run as root) and about 2 minutes on 2 cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/implicit-slurm.XXXXXX)
timeout=${SLURM_TEST_TIMEOUT:-280} # seconds for the array and the merge
flags=(-experiment ablation -quick)
log() { echo "[slurm-test $(date -u +%T)] $*"; }
pids=()
stop() {
	# Jobs still on the cluster (a failed or interrupted test) are
	# cancelled first, so that no slurmstepd outlives slurmd.
	if [ ${#pids[@]} -gt 0 ] && squeue -h -o %A 2>/dev/null | grep -q .; then
		squeue -h -o %A | xargs -r scancel 2>/dev/null || true
		for _ in $(seq 30); do squeue -h -o %A 2>/dev/null | grep -q . || break; sleep 1; done
	fi
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
	done
	if [ "$ok" = 1 ] && [ -z "${SLURM_TEST_KEEP:-}" ]; then
		rm -rf "$work"
		log "daemons stopped (pids ${pids[*]:-none}); work folder removed (SLURM_TEST_KEEP=1 keeps it)"
	else
		log "daemons stopped (pids ${pids[*]:-none}); logs in $work"
	fi
}
ok=0
trap stop EXIT
# waitfor SECONDS WHAT COMMAND...: polls COMMAND every second.
waitfor() {
	local t=$1 what=$2
	shift 2
	for _ in $(seq "$t"); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 1
	done
	log "timed out after ${t}s waiting for $what"
	tail -n 20 "$work"/*.log >&2 || true
	exit 1
}

for cmd in munged slurmctld slurmd sbatch; do
	command -v $cmd >/dev/null || { echo "slurm-test: $cmd is missing: make slurm-deps installs slurm-wlm and munge" >&2; exit 1; }
done
mkdir -p "$work"/{munge,state,spool,bin,runs}
chmod 700 "$work/munge"
log "building the trainer"
(cd "$root" && go build -o "$work/bin/train" ./cmd/train)
export IMPLICIT_TRAIN=$work/bin/train

log "single process: train ${flags[*]}"
start=$(date +%s)
"$IMPLICIT_TRAIN" "${flags[@]}" -out "$work/runs/single" -progress never >"$work/single.out" 2>&1
log "single process done in $(($(date +%s) - start)) s"

# munge: a key of this cluster's own, its socket in the work folder.
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$work/munge/munge.key"
munged -F --force --key-file="$work/munge/munge.key" --socket="$work/munge/munge.socket" \
	--pid-file="$work/munge/munged.pid" --log-file="$work/munged.log" --seed-file="$work/munge/seed" &
pids+=($!)
waitfor 20 munged test -S "$work/munge/munge.socket"

host=$(hostname -s)
cpus=3 # one CPU per shard, so the 3 tasks run together (the config overrides the hardware)
export SLURM_CONF=$work/slurm.conf
cat >"$SLURM_CONF" <<CONF
ClusterName=implicit-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$work/munge/munge.socket
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$work/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerParameters=sched_interval=1
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=600
KillWait=10
MpiDefault=none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF

slurmctld -D -i -f "$SLURM_CONF" >>"$work/slurmctld.log" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" >>"$work/slurmd.log" 2>&1 &
pids+=($!)
log "munged, slurmctld, slurmd started (pids ${pids[*]})"
node_idle() { sinfo -h -n "$host" -o %t | grep -qx idle; }
waitfor 60 "the node to be idle" node_idle
sinfo

log "submitting: deploy/slurm/submit.sh 3 $work/runs/sharded ${flags[*]}"
start=$(date +%s)
ids=$(cd "$work" && "$root/deploy/slurm/submit.sh" 3 "$work/runs/sharded" "${flags[@]}")
echo "$ids"
array=$(echo "$ids" | awk '{print $2}')
merge=$(echo "$ids" | awk '{print $NF}')
squeue -o '%.14i %.16j %.8T %.10M %R'

# Requeue task 1 once it has finished one unit and before it finishes all.
units_of_task1() { ls "$work/runs/sharded/units" 2>/dev/null | grep -cE '^00(01|04|07|10)\.json$'; }
mid_run() { n=$(units_of_task1); [ "$n" -ge 1 ] && [ "$n" -lt 4 ] && squeue -h -j "${array}_1" -o %T | grep -qx RUNNING; }
waitfor "$timeout" "task 1 to finish a unit" mid_run
log "task 1 has $(units_of_task1) of its 4 units; requeueing it (Slurm stops it and runs it again)"
squeue -o '%.14i %.16j %.8T %.10M %R'
scontrol requeue "${array}_1"
# Once stopped, a requeued job waits (BeginTime, 2 minutes) before it may
# start again; let it start now.
requeued() { squeue -h -j "${array}_1" -o %T | grep -qx PENDING; }
waitfor 60 "task 1 to be stopped and pending" requeued
scontrol update JobId="${array}_1" StartTime=now
squeue -o '%.14i %.16j %.8T %.10M %R'

merge_done() { ! squeue -h -j "$merge" -o %T | grep -q .; }
waitfor "$timeout" "the merge job" merge_done
log "array and merge done in $(($(date +%s) - start)) s after submission"
log "jobs (scontrol; sacct needs slurmdbd, which this cluster has not):"
for j in "${array}_0" "${array}_1" "${array}_2" "$merge"; do
	scontrol -o show job "$j" | tr ' ' '\n' | grep -E '^(JobId|ArrayJobId|ArrayTaskId|JobName|JobState|Restarts|ExitCode|RunTime|Dependency)=' | tr '\n' ' '
	echo
done
log "job completion log (jobcomp/filetxt):"
cut -d' ' -f1-6 "$work/jobcomp.txt" || true
log "merge job's output:"
cat "$work"/slurm-implicit-merge-*.out
grep -q 'JobState=COMPLETED' <(scontrol -o show job "$merge") || { echo "slurm-test: the merge job did not complete" >&2; exit 1; }
restarts=$(scontrol -o show job "${array}_1" | grep -o 'Restarts=[0-9]*')
[ "$restarts" = "Restarts=1" ] || { echo "slurm-test: task 1 was not requeued once ($restarts)" >&2; exit 1; }

log "comparing the merged run with the single process's"
python3 "$root/deploy/slurm/samerun.py" "$work/runs/single" "$work/runs/sharded"
ok=1
log "ok"
