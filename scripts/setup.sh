#!/usr/bin/env bash
# One-time (and idempotent) set-up for uffdscope on a Debian host, as root:
# toolchain from Debian packages, npm ci (which builds the BPF objects, the
# bundled workload and the native addon), the TypeScript build, and tracefs.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: needs root (apt-get, mounting tracefs): run it with sudo" >&2
  exit 3
fi

# bpftrace: the bench's comparison and an oracle in the tests.
# prometheus: promtool validates the metrics output in the tests;
# python3-prometheus-client: its OpenMetrics parser does the same.
PKGS=(clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config make gcc g++ python3 tmux prometheus python3-prometheus-client bpftrace)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Install tools only: no package may start a daemon (the prometheus server).
  policy=/usr/sbin/policy-rc.d
  had_policy=0; [ -e "$policy" ] && had_policy=1
  [ "$had_policy" = 1 ] || { printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; }
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ "$had_policy" = 1 ] || rm -f "$policy"
fi

# tracefs: the tracepoint backend reads event ids from it.
if [ ! -d /sys/kernel/tracing/events/sched ]; then
  mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || echo "setup: warning: could not mount tracefs at /sys/kernel/tracing" >&2
fi

# npm ci runs the package's install script: BPF objects + skeleton,
# workload, native addon; prepare runs tsc. Skipped when up to date.
stamp=node_modules/.uffdscope-setup
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
else
  npm run --silent build
fi
echo "setup: done. Try: bin/uffdscope doctor"
