#!/usr/bin/env bash
# Bring up a real single-node Slurm (controller + compute daemon on this host)
# whose partitions and GRES mimic Beocat, for tests/cluster/test_slurm.py.
#
#   bash tests/slurm/start_slurm.sh     # idempotent; exit 0 once the node is idle
#   bash tests/slurm/stop_slurm.sh
#
# Exit codes: 0 up and idle; 77 Slurm cannot be installed/started here
# (not root, no apt, no munge...): callers skip the Slurm tests; 1 the daemons
# were started but the node never became usable (logs are printed).
#
# Environment knobs (all optional):
#   SALIENCE_SLURM_STATE   state/log/device dir  (default /var/lib/salience-slurm)
#   SALIENCE_SLURM_GPUS    number of fake GPUs   (default 2)
#   SALIENCE_SLURM_WAIT    seconds to wait for the node to become idle (default 60)
set -euo pipefail

STATE=${SALIENCE_SLURM_STATE:-/var/lib/salience-slurm}
NGPU=${SALIENCE_SLURM_GPUS:-2}
WAIT_S=${SALIENCE_SLURM_WAIT:-60}
# Slurm commands inside jobs only find the config at the compiled-in default
# path: the executor plugin strips SLURM_* (incl. SLURM_CONF) before `srun`.
CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf

skip() { echo "start_slurm: SKIP: $*" >&2; exit 77; }
die() { echo "start_slurm: ERROR: $*" >&2; exit 1; }
log() { echo "start_slurm: $*"; }

# ---------------------------------------------------------------- install
need_install=0
for bin in slurmctld slurmd sinfo munged; do
    command -v "$bin" >/dev/null 2>&1 || need_install=1
done
if [ "$need_install" = 1 ]; then
    [ "$(id -u)" = 0 ] || skip "Slurm is not installed and we are not root to apt-get it"
    command -v apt-get >/dev/null 2>&1 || skip "Slurm is not installed and there is no apt-get"
    log "installing slurmd slurmctld slurm-client munge (about a minute)"
    export DEBIAN_FRONTEND=noninteractive
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends \
            slurmd slurmctld slurm-client munge; } >"${TMPDIR:-/tmp}/salience-slurm-apt.log" 2>&1; then
        tail -n 20 "${TMPDIR:-/tmp}/salience-slurm-apt.log" >&2 || true
        skip "apt-get install of Slurm failed (see above)"
    fi
fi
[ "$(id -u)" = 0 ] || skip "starting slurmctld/slurmd/munged needs root"

# ---------------------------------------------------------------- config
HOST=$(hostname -s)
# Declare at least 4 CPUs even on a 2-core box (config_overrides below stops
# slurmd from correcting it): the predict rule asks for cpus_per_task=2, and two
# chunk jobs side by side overlap their Snakemake start-up instead of queueing.
NCPU=$(nproc)
[ "$NCPU" -ge 4 ] || NCPU=4
MEM_TOTAL=$(awk '/^MemTotal:/ {print int($2/1024)}' /proc/meminfo)
REAL_MEM=$(( MEM_TOTAL * 9 / 10 ))

mkdir -p "$STATE/dev" "$STATE/log" "$STATE/slurmctld" "$STATE/slurmd" "$CONF_DIR"
# Fake GPUs: gres.conf File= must name character devices (regular files make
# the node INVAL). Major 1 minor 3 is /dev/null's, harmless to open.
gpu_last=$(( NGPU - 1 ))
for i in $(seq 0 "$gpu_last"); do
    dev="$STATE/dev/fakegpu$i"
    if [ ! -c "$dev" ]; then
        rm -f "$dev"
        mknod "$dev" c 1 3 || skip "mknod of a fake GPU device failed (no CAP_MKNOD?)"
    fi
done

new_conf=$(mktemp)
new_gres=$(mktemp)
trap 'rm -f "$new_conf" "$new_gres"' EXIT
cat >"$new_conf" <<EOF
# Written by tests/slurm/start_slurm.sh: a one-node CI stand-in for Beocat.
ClusterName=salience-ci
SlurmctldHost=${HOST}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/slurmctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
# No cgroups in this VM/container.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
# No slurmdbd: sacct cannot answer, so the test profile polls with squeue,
# which needs finished jobs kept for a while (MinJobAge, seconds).
AccountingStorageType=accounting_storage/none
MinJobAge=900
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Without a default each job without --mem would take the whole node.
DefMemPerCPU=500
ReturnToService=2
SlurmdParameters=config_overrides
# scancel/preemption should not linger in tests.
KillWait=5
InactiveLimit=0
# killable: Beocat's marker GRES for preemptible jobs (--gres=killable:0 opts
# out). A big count so that requesting it never serialises jobs here.
GresTypes=gpu,killable
NodeName=${HOST} NodeAddr=127.0.0.1 CPUs=${NCPU} RealMemory=${REAL_MEM} Gres=gpu:fake:${NGPU},killable:1000 State=UNKNOWN
PartitionName=batch.q Nodes=${HOST} Default=YES MaxTime=7-00:00:00 State=UP
PartitionName=ksu-gen-gpu.q Nodes=${HOST} MaxTime=7-00:00:00 State=UP
PartitionName=killable.q Nodes=${HOST} MaxTime=7-00:00:00 State=UP
EOF
cat >"$new_gres" <<EOF
NodeName=${HOST} Name=gpu Type=fake File=$STATE/dev/fakegpu[0-${gpu_last}]
NodeName=${HOST} Name=killable Count=1000
EOF

conf_changed=0
cmp -s "$new_conf" "$CONF" || conf_changed=1
cmp -s "$new_gres" "$CONF_DIR/gres.conf" || conf_changed=1
if [ "$conf_changed" = 1 ]; then
    # Keep an existing foreign config rather than silently clobbering it.
    if [ -f "$CONF" ] && ! grep -q 'tests/slurm/start_slurm.sh' "$CONF"; then
        cp -p "$CONF" "$CONF.salience-backup.$(date +%s)"
        log "saved the previous $CONF next to it"
    fi
    install -m 0644 "$new_conf" "$CONF"
    install -m 0644 "$new_gres" "$CONF_DIR/gres.conf"
fi

# ---------------------------------------------------------------- daemons
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

MUNGE_PID=/run/munge/munged.pid
mkdir -p /run/munge /var/lib/munge /var/log/munge
chown munge:munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
chmod 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
    (umask 077; dd if=/dev/urandom of=/etc/munge/munge.key bs=128 count=1 status=none)
    chown munge:munge /etc/munge/munge.key
fi
if ! alive "$MUNGE_PID"; then
    log "starting munged"
    if command -v runuser >/dev/null 2>&1; then
        runuser -u munge -- munged || skip "munged failed to start"
    else
        su -s /bin/sh munge -c munged || skip "munged failed to start"
    fi
    # Marker: stop_slurm.sh only stops a munged that this script started.
    touch "$STATE/munged.ours"
fi
for _ in $(seq 1 50); do munge -n >/dev/null 2>&1 && break; sleep 0.1; done
munge -n | unmunge >/dev/null 2>&1 || skip "munge does not work (munged not answering)"

if [ "$conf_changed" = 1 ]; then
    # A running pair would keep the old config: restart both.
    for pid in "$STATE/slurmd.pid" "$STATE/slurmctld.pid"; do
        if alive "$pid"; then kill "$(cat "$pid")"; fi
    done
    for _ in $(seq 1 50); do
        alive "$STATE/slurmd.pid" || alive "$STATE/slurmctld.pid" || break
        sleep 0.2
    done
fi
if ! alive "$STATE/slurmctld.pid"; then
    log "starting slurmctld"
    # -i: ignore saved state that might not match this config.
    slurmctld -i || die "slurmctld did not start; $(tail -n 20 "$STATE/log/slurmctld.log" 2>/dev/null)"
fi
if ! alive "$STATE/slurmd.pid"; then
    log "starting slurmd"
    slurmd || die "slurmd did not start; $(tail -n 20 "$STATE/log/slurmd.log" 2>/dev/null)"
fi

# ---------------------------------------------------------------- wait
deadline=$(( $(date +%s) + WAIT_S ))
state=""
while :; do
    state=$(sinfo -h -n "$HOST" -o %t 2>/dev/null | sort -u | tr '\n' ' ' || true)
    case "$state" in
        *idle*|*mix*|*alloc*) break ;;
        *drain*|*down*|*inval*)
            # e.g. left DOWN by an unclean stop: ask for it back once.
            scontrol update NodeName="$HOST" State=RESUME >/dev/null 2>&1 || true ;;
    esac
    if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "--- sinfo -R" >&2; sinfo -R >&2 || true
        echo "--- slurmctld.log" >&2; tail -n 30 "$STATE/log/slurmctld.log" >&2 || true
        echo "--- slurmd.log" >&2; tail -n 30 "$STATE/log/slurmd.log" >&2 || true
        die "node $HOST not idle after ${WAIT_S}s (state: '${state:-no answer}')"
    fi
    sleep 1
done
log "Slurm is up: node $HOST ($NCPU CPUs, ${REAL_MEM} MB, gpu:fake:$NGPU) state ${state% }"
sinfo -o '%P %a %l %D %t %G'
