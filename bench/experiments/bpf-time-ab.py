#!/usr/bin/env python3
"""A/B of BPF time per fault: bpf-time.sh run alternately for several builds.

  sudo bench/experiments/bpf-time-ab.py ROUNDS PAGES DIR_A DIR_B [DIR ...]

Each DIR holds a c_consumer built from one variant of the BPF programs
(`npm run build:bpf && make -C bench`, then copy out/bench/c_consumer to DIR);
the word `bpftrace` in place of a DIR measures bench/scripts/uffd_equiv.bt.
Every round runs each variant once (`bpf-time.sh in-kernel PAGES`, or the mode
in $MODE), in an order reversed every other round, since the machine's speed
drifts by 20-40 % over minutes here. Prints the median over rounds of each
program's ns per fault, per variant. One run of one build tells nothing below
~200 ns; a difference that holds in every round does.
"""
import os
import re
import statistics
import subprocess
import sys

if len(sys.argv) < 5:
    sys.exit(__doc__.strip().splitlines()[2].strip())
rounds, pages, variants = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
script = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'bpf-time.sh')
mode = os.environ.get('MODE', 'in-kernel')
for v in variants:
    if v != 'bpftrace' and not os.access(os.path.join(v, 'c_consumer'), os.X_OK):
        sys.exit(f'bpf-time-ab.py: {v}/c_consumer not found: build a variant and copy out/bench/c_consumer there')

res = {v: {} for v in variants}
for r in range(rounds):
    for v in (variants if r % 2 == 0 else variants[::-1]):
        env = dict(os.environ)
        if v != 'bpftrace':
            env['C_CONSUMER'] = os.path.join(os.path.abspath(v), 'c_consumer')
        out = subprocess.run(['sh', script, 'bpftrace' if v == 'bpftrace' else mode, pages],
                             env=env, capture_output=True, text=True)
        txt = out.stdout + out.stderr
        total = re.search(r'BPF time per fault (\d+) ns', txt)
        if not total:
            print(f'round {r + 1} {v}: failed: ' + txt[-300:].replace('\n', ' | '), file=sys.stderr)
            continue
        res[v].setdefault('all', []).append(int(total.group(1)))
        for name, per_fault in re.findall(r'^\s+(\S+)\s+(\d+) ns/fault', txt, re.M):
            res[v].setdefault(re.sub(r'^uscope_(b_)?', '', name), []).append(int(per_fault))
        print(f'round {r + 1} {v}: {total.group(1)} ns per fault', file=sys.stderr, flush=True)


def med(v, k):
    xs = res[v].get(k)
    return statistics.median(xs) if xs else None


keys = sorted({k for v in variants for k in res[v]}, key=lambda k: -(med(variants[0], k) or 0))
names = [os.path.basename(os.path.normpath(v)) for v in variants]
print(f'{"program":18s}' + ''.join(f'{n:>14s}' for n in names))
for k in keys:
    cells = [med(v, k) for v in variants]
    if all(c is not None and c < 1 for c in cells):
        continue
    print(f'{k:18s}' + ''.join(f'{("-" if c is None else f"{c:.0f}"):>14s}' for c in cells))
