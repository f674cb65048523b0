#!/bin/sh
# BPF time per fault, per program: what each of our programs costs the
# traced workload inside the kernel, from the kernel's own accounting
# (kernel.bpf_stats_enabled: run_time_ns and run_cnt of every program).
#
#   sudo bench/experiments/bpf-time.sh [btf|classic|in-kernel|bpftrace] [PAGES]   (default btf 100000)
#
# The real object (out/bpf/uffdscope.skel.h), consumed by the minimal C
# consumer (out/bench/c_consumer: no JavaScript involved), traces
# `uffd-workload --scenario postcopy --pages PAGES --threads 4` pinned to
# the last CPU; the figures are the programs' run time while the workload
# ran, divided by its faults. bpf_stats itself costs two clock reads per
# program run (~40-50 ns here), included in the figures; it is switched
# off again at the end. Other uscope_* programs loaded meanwhile (another
# user's uffdscope) would be counted too: the script refuses to start then.
#
# `in-kernel` is btf hooks configured as `stat --in-kernel` (counts and
# wait histograms in a map, no per-fault records, sched_waking left out).
#
# `bpftrace` measures bench/scripts/uffd_equiv.bt (the overhead bench's
# comparison) the same way: its programs are the ones loaded after the
# first snapshot, the workload waits on a fifo until bpftrace has attached
# (the script's pid filter gets the workload's pid), and the run is refused
# if bpftrace saw fewer page faults than the workload's own uffd faults.
set -eu
HOOKS=${1:-btf}
PAGES=${2:-100000}
IN_KERNEL=0
if [ "$HOOKS" = in-kernel ]; then IN_KERNEL=1; HOOKS=btf; fi
case $HOOKS in btf|classic|bpftrace) ;; *) echo "bpf-time.sh: mode must be btf, classic, in-kernel or bpftrace, not $HOOKS" >&2; exit 2;; esac
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
W=$ROOT/out/workload/uffd-workload
C=${C_CONSUMER:-$ROOT/out/bench/c_consumer}  # C_CONSUMER: another build, for A/B runs
[ "$(id -u)" = 0 ] || { echo "bpf-time.sh: needs root" >&2; exit 3; }
[ -x "$W" ] && [ -x "$C" ] || { echo "bpf-time.sh: build first: npm ci && make -C bench" >&2; exit 3; }
if bpftool prog show | grep -q 'name uscope_'; then
  echo "bpf-time.sh: other uscope_* programs are loaded (another uffdscope?): their time would be counted; try again when they are gone" >&2
  exit 3
fi
PROD=$(($(nproc) - 1))
T=$(mktemp -d /tmp/uffdscope-bpf-time.XXXXXX)
trap 'sysctl -q kernel.bpf_stats_enabled=0; rm -rf "$T"' EXIT

# handle_userfault() and userfaultfd_wake_function, as the addon finds them
HS=0x$(awk '$3 == "handle_userfault" {print $1; exit}' /proc/kallsyms)
HE=0x$(sort /proc/kallsyms | awk -v s="${HS#0x}" 'f && $2 ~ /[tT]/ {print $1; exit} $1 == s && $3 == "handle_userfault" {f = 1}')
WF=0x$(awk '$3 == "userfaultfd_wake_function" {print $1; exit}' /proc/kallsyms)

WL="--scenario postcopy --pages $PAGES --threads 4 --handler-delay-us 0 --quiet --json $T/w.json"
sysctl -q kernel.bpf_stats_enabled=1
if [ "$HOOKS" = bpftrace ]; then
  command -v bpftrace >/dev/null || { echo "bpf-time.sh: bpftrace not found: apt-get install -y bpftrace" >&2; exit 3; }
  bpftool -j prog show > "$T/pre.json"
  mkfifo "$T/go"
  taskset -c "$PROD" sh -c "read x < '$T/go'; exec '$W' $WL" &
  WPID=$!
  { printf '%s\n' 'BEGIN { printf("ready\n"); }'; sed 's/cpid/$1/g' "$ROOT/bench/scripts/uffd_equiv.bt"; } > "$T/equiv.bt"
  taskset -c 0 bpftrace "$T/equiv.bt" "$WPID" > "$T/bt.out" 2>&1 &
  BPID=$!
  n=0
  until grep -qs '^ready' "$T/bt.out"; do
    n=$((n + 1)); [ $n -lt 300 ] && kill -0 $BPID 2>/dev/null || { cat "$T/bt.out" >&2; kill $WPID $BPID 2>/dev/null; exit 1; }
    sleep 0.1
  done
  bpftool -j prog show > "$T/before.json"
  echo go > "$T/go"
  wait $WPID
  bpftool -j prog show > "$T/after.json"
  kill -INT $BPID; wait $BPID || true
  seen=$(awk '/^@faults:/ {print $2}' "$T/bt.out")
  echo "{\"lost\": 0, \"bpftrace_faults\": ${seen:-0}}" > "$T/c.json"
else
  : > "$T/pre.json"
  taskset -c 0 "$C" --in-kernel $IN_KERNEL --hooks "$HOOKS" --hu-start "$HS" --hu-end "$HE" --uffd-wake-fn "$WF" --json "$T/c.json" -- \
    sh -c "bpftool -j prog show > '$T/before.json' && taskset -c $PROD '$W' $WL && bpftool -j prog show > '$T/after.json'"
fi
sysctl -q kernel.bpf_stats_enabled=0

LABEL=$HOOKS
[ $IN_KERNEL = 1 ] && LABEL="btf in-kernel"
python3 - "$T" "$LABEL" <<'PY'
import json, sys
t, hooks = sys.argv[1], sys.argv[2]
before = {p['id']: p for p in json.load(open(f'{t}/before.json'))}
pre = open(f'{t}/pre.json').read()
pre = {p['id'] for p in json.loads(pre)} if pre.strip() else set()
after = json.load(open(f'{t}/after.json'))
faults = json.load(open(f'{t}/w.json'))['faults']['total']
consumer = json.load(open(f'{t}/c.json'))
lost = consumer['lost']
if hooks.endswith('in-kernel') and consumer['in_kernel']['entries'] != faults:
    sys.exit(f"bpf-time.sh: the in-kernel map counted {consumer['in_kernel']['entries']} fault entries, the workload {faults} uffd faults")
if hooks == 'bpftrace' and consumer['bpftrace_faults'] < faults:
    sys.exit(f"bpf-time.sh: bpftrace saw {consumer['bpftrace_faults']} page faults, the workload counted {faults} uffd faults: its filter missed")
total = 0
rows = []
for p in after:
    name = p.get('name', '')
    b = before.get(p['id'])
    ours = p['id'] not in pre if hooks == 'bpftrace' else name.startswith('uscope_')
    if not ours or b is None:
        continue
    ns = p.get('run_time_ns', 0) - b.get('run_time_ns', 0)
    runs = p.get('run_cnt', 0) - b.get('run_cnt', 0)
    if runs == 0:
        continue
    total += ns
    rows.append((name, ns / faults, runs / faults, ns / runs))
print(f'{hooks if hooks == "bpftrace" else hooks + " hooks"}: {faults} faults, {lost} records lost; BPF time per fault {total / faults:.0f} ns')
for name, per_fault, runs, per_run in sorted(rows, key=lambda r: -r[1]):
    print(f'  {name:20s} {per_fault:7.0f} ns/fault  {runs:5.2f} runs/fault  {per_run:6.0f} ns/run')
PY
