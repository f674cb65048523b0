#!/usr/bin/env bash
# Records the corpus that bench/check_alarms.ts judges `check` on: ROUNDS rounds,
# each of five 3-run sets taken back to back (so the host's speed drifts over
# all of them alike): base and same (identical, no handler delay), delay200
# (a 200 us handler sleep), spin10 and spin18 (10 and 18 us of busy service:
# about 1.5x and 2x p50 here).
# Usage (as root): bash bench/scripts/check-corpus.sh OUT_DIR [ROUNDS=20]
# Run again to complete an interrupted corpus: finished sets are kept.
set -euo pipefail
out=${1:?usage: check-corpus.sh OUT_DIR [ROUNDS]}
rounds=${2:-20}
root=$(cd "$(dirname "$0")/../.." && pwd)
wl=("$root/out/workload/uffd-workload" --scenario postcopy --pages 2048 --threads 2 --quiet --json "$out/truth.json")
mkdir -p "$out"
for ((i = 1; i <= rounds; i++)); do
	for set in base same delay200 spin10 spin18; do
		case $set in
		delay200) extra=(--handler-delay-us 200) ;;
		spin10) extra=(--handler-spin-us 10) ;;
		spin18) extra=(--handler-spin-us 18) ;;
		*) extra=() ;;
		esac
		dir=$(printf '%s/%02d-%s' "$out" "$i" "$set")
		[ -f "$dir/manifest.json" ] && continue # kept from an earlier, interrupted run
		rm -rf "$dir"
		flock /tmp/uffdscope-live.lock "$root/bin/uffdscope" check --save-baseline "$dir" --runs 3 -- "${wl[@]}" "${extra[@]}" >/dev/null
	done
	echo "round $i/$rounds done $(date -u +%T)"
done
