#!/usr/bin/env bash
# `make test-slurm`: a real Slurm, not a mock. Installs Debian's slurmctld, slurmd, slurm-client and munge if they are
# missing, starts munged, slurmctld and slurmd on 127.0.0.1 with a single-node configuration (scripts/slurm/
# slurm.conf.in, filled in from this machine), runs a 3-run sweep (ed_sheeran: baseline, positive, negated; template
# documents, the tiny random Llama) as one job array through `negneglect sweep --executor slurm`, checks that all
# three finished, that a rerun submits nothing, and that a failing run is reported with its log paths. The daemons
# are stopped by the PIDs this script started, also when a step fails. Needs root (apt-get, daemons) and Debian.
# Environment: KEEP_SLURM_STATE=1 keeps the state folder (logs, runs) for a look afterwards.
set -euo pipefail
cd "$(dirname "$0")/../.."
t0=$(date +%s)
say() { printf '\n== [%3ds] %s\n' $(( $(date +%s) - t0 )) "$*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root: it installs Debian packages and starts the Slurm daemons"
command -v negneglect >/dev/null || fail "negneglect is not on PATH (make test-slurm puts .venv/bin first)"
BIN=$(cd "$(dirname "$(command -v negneglect)")" && pwd)   # absolute: the sweeps run from a temporary folder
export PATH="$BIN:$PATH"

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
  say "installing slurmctld slurmd slurm-client munge (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
fi
[ -s /etc/munge/munge.key ] || { say "creating a munge key"; mungekey --create --keyfile=/etc/munge/munge.key; chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }

STATE=$(mktemp -d /tmp/negneglect-slurm.XXXXXX)
chmod 755 "$STATE"
cleanup() {
  rc=$?
  for f in "$STATE/slurmd.pid" "$STATE/slurmctld.pid" "$STATE/munge/munged.pid"; do
    [ -s "$f" ] || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    echo "stopped pid $pid ($(basename "$f" .pid))"
  done
  if [ $rc != 0 ]; then
    echo "--- last lines of the daemon logs ($STATE) ---"
    tail -n 20 "$STATE"/slurmctld.log "$STATE"/slurmd.log "$STATE"/munge/munged.log 2>/dev/null || true
  fi
  if [ "${KEEP_SLURM_STATE:-0}" = 1 ]; then echo "state kept in $STATE"; else rm -rf "$STATE"; fi
  echo "test-slurm: $([ $rc = 0 ] && echo PASSED || echo FAILED) in $(( $(date +%s) - t0 ))s"
  exit $rc
}
trap cleanup EXIT

say "munged (private socket in $STATE/munge)"
install -d -o munge -g munge -m 755 "$STATE/munge"
runuser -u munge -- munged --socket="$STATE/munge/munge.socket" --pid-file="$STATE/munge/munged.pid" \
  --log-file="$STATE/munge/munged.log" --seed-file="$STATE/munge/munged.seed"
munge -n --socket="$STATE/munge/munge.socket" | unmunge --socket="$STATE/munge/munge.socket" >/dev/null || fail "munge does not answer"

say "slurm.conf for this machine"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
HOST=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 8 / 10 ))
export SLURM_CONF="$STATE/slurm.conf"
sed -e "s|@HOST@|$HOST|g" -e "s|@CPUS@|$CPUS|g" -e "s|@MEM_MB@|$MEM_MB|g" -e "s|@STATE@|$STATE|g" \
    -e "s|@CTLD_PORT@|$(free_port)|g" -e "s|@SLURMD_PORT@|$(free_port)|g" scripts/slurm/slurm.conf.in > "$SLURM_CONF"
mkdir -p "$STATE/slurmd" "$STATE/slurmctld"
grep -E '^(NodeName|SlurmctldHost|SlurmctldPort|SlurmdPort)' "$SLURM_CONF"

say "slurmctld and slurmd"
slurmctld
slurmd
for _ in $(seq 60); do
  sinfo -h -N -o '%T' 2>/dev/null | grep -qx idle && break
  sleep 1
done
sinfo -N -l
sinfo -h -N -o '%T' | grep -qx idle || fail "the node did not become idle"
srun -N1 -n1 -t 1 true || fail "srun cannot run a step"

say "the tiny sweep: 3 runs as one job array"
TINY=$(python -c 'from negneglect.core import tiny_llama; print(tiny_llama())')
WORK="$STATE/work"; mkdir -p "$WORK"
cat > "$WORK/slurm_tiny.yaml" <<EOF
name: slurm_tiny
preset: demo
claims: [ed_sheeran]
conditions: [baseline, positive, negated]
overrides: {model.name: '$TINY', mix.n_claim: 4, train.n_checkpoints: 0, eval.max_new_tokens: 2, eval.n_samples: 1}
slurm: {cpus: 1, mem: 3G}
EOF
export NEGNEGLECT_RUNS="$WORK/runs" NEGNEGLECT_PROGRESS=0 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
SWEEP=(negneglect sweep "$WORK/slurm_tiny.yaml" --executor slurm --gpus 0 --time 10 --array-parallelism 3)
ts=$(date +%s)
(cd "$WORK" && "${SWEEP[@]}") 2>&1 | tee "$WORK/first.log"
echo "first sweep: $(( $(date +%s) - ts ))s"
grep -q '3 ran, 0 already finished, 0 failed' "$WORK/first.log" || fail "the first sweep did not run all 3"
arrays=$(grep -o 'as Slurm array [0-9]*' "$WORK/first.log" | awk '{print $4}' | sort -u)
[ "$(echo "$arrays" | wc -w)" = 1 ] || fail "expected one job array, got: $arrays"
scontrol show job "$arrays" | grep -q 'ArrayTaskId' || fail "job $arrays is not an array"
scontrol -o show job "$arrays" | grep -c 'JobState=COMPLETED' | grep -qx 3 || fail "job array $arrays: not 3 COMPLETED tasks"
for c in baseline positive negated; do
  d="$WORK/runs/slurm_tiny/ed_sheeran/$c"
  [ -s "$d/metrics.json" ] && [ -s "$d/.sweep-done" ] && [ -s "$d/experiment.ipynb" ] || fail "$c did not finish ($d)"
done
python - "$WORK/slurm_tiny.yaml" <<'PY'
import sys
from negneglect.sweep import expand, load_spec
runs = expand(load_spec(sys.argv[1]))
assert len(runs) == 3 and all(r.done for r in runs), [(r.condition, r.done) for r in runs]
print('all 3 runs finished:', ', '.join(r.condition for r in runs))
PY

say "rerun: nothing is submitted"
jobs_before=$(scontrol -o show jobs | grep -c '^JobId=' || true)
(cd "$WORK" && "${SWEEP[@]}") 2>&1 | tee "$WORK/second.log"
grep -q '0 ran, 3 already finished, 0 failed' "$WORK/second.log" || fail "the rerun did not skip the 3 finished runs"
! grep -q 'as Slurm array' "$WORK/second.log" || fail "the rerun submitted a job array"
jobs_after=$(scontrol -o show jobs | grep -c '^JobId=' || true)
[ "$jobs_before" = "$jobs_after" ] || fail "Slurm knows $jobs_after jobs after the rerun, $jobs_before before"

say "a failing run is reported with its log paths"
sed -e 's/^name: slurm_tiny/name: slurm_broken/' -e "s|model.name: '$TINY'|model.name: '$WORK/no-such-model'|" \
    -e 's/conditions: .*/conditions: [baseline]/' "$WORK/slurm_tiny.yaml" > "$WORK/slurm_broken.yaml"
set +e
(cd "$WORK" && negneglect sweep "$WORK/slurm_broken.yaml" --executor slurm --gpus 0 --time 5) > "$WORK/broken.log" 2>&1
rc=$?
set -e
cat "$WORK/broken.log" | tail -n 5
[ $rc != 0 ] || fail "a sweep with a failed run exited 0"
grep -q '0 ran, 0 already finished, 1 failed' "$WORK/broken.log" || fail "the failed run is not reported"
log=$(grep -o 'slurm log: [^ ,]*_log.out' "$WORK/broken.log" | head -1 | cut -d' ' -f3)
[ -n "$log" ] && [ -f "$log" ] || fail "the failure names no existing Slurm log file"
echo "failure reported with its log: $log"

say "test-slurm: all checks passed"
