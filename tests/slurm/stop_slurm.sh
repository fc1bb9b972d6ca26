#!/usr/bin/env bash
# Stop the daemons started by start_slurm.sh, by their PID files only (never by
# process name: other Slurm/munge instances on the machine are left alone).
# Idempotent; always exits 0 unless a daemon refuses to die.
set -uo pipefail

STATE=${SALIENCE_SLURM_STATE:-/var/lib/salience-slurm}

stop_pidfile() {
    local name=$1 pidfile=$2 pid
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        echo "stop_slurm: stopping $name (pid $pid)"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "stop_slurm: $name ignored SIGTERM for 10s, sending SIGKILL"
            kill -9 "$pid" 2>/dev/null || true
            sleep 0.5
        fi
        if kill -0 "$pid" 2>/dev/null; then
            echo "stop_slurm: could not stop $name (pid $pid)" >&2
            return 1
        fi
    fi
    rm -f "$pidfile"
}

rc=0
# Cancel what is left in the queue first so that no job step outlives slurmd.
if [ -f "$STATE/slurmctld.pid" ] && command -v scancel >/dev/null 2>&1; then
    scancel --quiet --user=root >/dev/null 2>&1 || true
fi
stop_pidfile slurmd "$STATE/slurmd.pid" || rc=1
stop_pidfile slurmctld "$STATE/slurmctld.pid" || rc=1
# munged is only ours if start_slurm.sh left its marker beside the state dir.
if [ -f "$STATE/munged.ours" ]; then
    stop_pidfile munged /run/munge/munged.pid && rm -f "$STATE/munged.ours" || rc=1
fi
exit $rc
