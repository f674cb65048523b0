#!/bin/sh
# Where the in-kernel overhead goes: builds variants of the tracepoint BPF
# object (a copy of bpf/ with bpf-variants.patch, in a temp dir; bpf/ is not
# touched), each with its own bench/c_consumer.c (so no JavaScript is
# involved), and measures the workload's slowdown under each, in
# untraced/traced pairs (median of the pairwise slowdowns).
#
#   sudo bench/experiments/kernel-cost.sh [PAIRS] [PAGES]      (default 6 20000)
#
# Variants (compile-time switches of the patch):
#   base        bpf/ as it is
#   vmacache    EXP_VMA_CACHE: the fault program keeps the last VMA found per
#               mm (LRU hash) with mm->mm_lock_seq, and calls bpf_find_vma()
#               only when the address is outside it or the sequence moved
#   wakeonce    EXP_WAKE_ONCE: submit() forces a consumer wake-up only on the
#               record that crosses wakeup_bytes, not on every record after it
#   both        vmacache + wakeonce
#   nostack     base with hu_start = hu_end = 0 (no bpf_get_stack in sched_switch)
#   all         both + nostack
#   noring      both + EXP_NO_RING (reserve always fails: no record written)
#   basenoring  base + EXP_NO_RING
# The patch applies to bpf/uffdscope.bpf.c as of this commit; later changes
# to that file may need it refreshed.
set -eu
PAIRS=${1:-6}
PAGES=${2:-20000}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
W=$ROOT/out/workload/uffd-workload
VARIANTS=${VARIANTS:-base vmacache wakeonce both nostack all noring basenoring}
NCPU=$(nproc)
PROD=$((NCPU - 1))
[ "$(id -u)" = 0 ] || { echo "kernel-cost.sh: needs root" >&2; exit 3; }
[ -x "$W" ] || { echo "kernel-cost.sh: $W missing: make -C workload BUILD_DIR=../out/workload" >&2; exit 3; }

# a session of our own with a nice -20 autogroup (see bench/README.md)
if [ -z "${KC_SESSION:-}" ]; then
  KC_SESSION=1 exec setsid -w "$0" "$@"
fi
echo -20 > /proc/self/autogroup 2>/dev/null || true

T=$(mktemp -d /tmp/uffdscope-kernel-cost.XXXXXX)
trap 'rm -rf "$T"' EXIT
cp "$ROOT/bpf/uffdscope.bpf.c" "$ROOT/bpf/uffdscope.h" "$ROOT/out/bpf/vmlinux.h" "$ROOT/bench/c_consumer.c" "$T/"
(cd "$T" && sed 's|^\(---\|+++\) [ab]/bpf/|\1 |' "$HERE/bpf-variants.patch" | patch -s uffdscope.bpf.c)
ARCH=$(uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
build() { # name defines...
  n=$1; shift
  mkdir -p "$T/$n"
  clang -g -O2 -target bpf -D__TARGET_ARCH_$ARCH "$@" -I"$T" -c "$T/uffdscope.bpf.c" -o "$T/$n/o.tmp"
  bpftool gen object "$T/$n/uffdscope.bpf.o" "$T/$n/o.tmp"
  bpftool gen skeleton "$T/$n/uffdscope.bpf.o" name uffdscope > "$T/$n/uffdscope.skel.h"
  cc -O2 -I"$T/$n" -I"$T" -o "$T/c_consumer_$n" "$T/c_consumer.c" -lbpf -lelf -lz
}
build base
build vmacache -DEXP_VMA_CACHE
build wakeonce -DEXP_WAKE_ONCE
build both -DEXP_VMA_CACHE -DEXP_WAKE_ONCE
build noring -DEXP_VMA_CACHE -DEXP_WAKE_ONCE -DEXP_NO_RING
build basenoring -DEXP_NO_RING

HS=0x$(awk '$3 == "handle_userfault" {print $1; exit}' /proc/kallsyms)
HE=0x$(sort /proc/kallsyms | awk -v s="${HS#0x}" 'f && $2 ~ /[tT]/ {print $1; exit} $1 == s && $3 == "handle_userfault" {f = 1}')
tput() { python3 -c "import json;d=json.load(open('$T/w.json'));print(d['faults']['total']/d['duration_ns']*1e9)"; }
run_wl() { taskset -c "$PROD" "$W" --scenario postcopy --pages "$PAGES" --threads 4 --handler-delay-us 0 --quiet --json "$T/w.json"; }

echo "kernel-cost: postcopy --pages $PAGES --threads 4, workload on CPU $PROD, C consumer on CPU 0, $PAIRS pairs per variant; handle_userfault $HS..$HE"
for v in $VARIANTS; do
  case $v in
    nostack) bin=base; hs=0; he=0 ;;
    all) bin=both; hs=0; he=0 ;;
    *) bin=$v; hs=$HS; he=$HE ;;
  esac
  s=""
  for _ in $(seq 1 "$PAIRS"); do
    run_wl; base=$(tput)
    taskset -c 0 "$T/c_consumer_$bin" --hu-start "$hs" --hu-end "$he" --json "$T/c.json" -- \
      taskset -c "$PROD" "$W" --scenario postcopy --pages "$PAGES" --threads 4 --handler-delay-us 0 --quiet --json "$T/w.json"
    t=$(tput)
    s="$s $(python3 -c "print(round(100*(1-$t/$base),1))")"
  done
  python3 -c "
import statistics
xs=[float(x) for x in '$s'.split()]
print('kernel-cost: %-10s slowdown median %5.1f%%  (min %.1f, max %.1f; %s)' % ('$v', statistics.median(xs), min(xs), max(xs), '$s'.strip()))"
done
