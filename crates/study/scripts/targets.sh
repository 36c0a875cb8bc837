#!/usr/bin/env bash
# The efficiency targets, measured the way docs/benchmarks.md reports them: the public
# efficient-broadcast configuration (25 nodes, 100 ms latency, 100 ops/s, 20 s) run with real
# node processes under gossip-harness, RUNS times per profile (median reported), then once more
# per profile with --nemesis partition (validity only), then g-set with the efficient profile.
#
# usage: crates/study/scripts/targets.sh [RUNS]      (default 5; about 35 s of wall time a run)
# Needs: cargo build --release -p gossip-harness, and python3 for reading results.json.
set -euo pipefail
cd "$(dirname "$0")/../../.."
RUNS="${1:-5}"
HARNESS=target/release/gossip-harness
STORE="$(mktemp -d)"
trap 'rm -rf "$STORE"' EXIT
FLAGS=(--node-count 25 --time-limit 20 --rate 100 --latency 100)

run() { # label workload seed extra-flags... -- node-args...
  local label=$1 workload=$2 seed=$3; shift 3
  local dir="$STORE/$label-$seed"
  "$HARNESS" test -w "$workload" "${FLAGS[@]}" --seed "$seed" --store "$dir" "$@" >/dev/null 2>&1 || true
  python3 - "$dir" "$label" "$seed" <<'PY'
import json, sys, glob
dir, label, seed = sys.argv[1:4]
paths = sorted(glob.glob(dir + "/*/*/results.json"))
if not paths:
    print(f"{label}\t{seed}\tno results"); sys.exit()
r = json.load(open(paths[-1]))
lat = r["workload"].get("stable-latencies", {})
cpu = r.get("node-cpu", {}).get("ms-per-1000-ops", "")
print(f'{label}\t{seed}\t{r["net"]["servers"]["msgs-per-op"]:.3f}\t{lat.get("0.5","")}\t{lat.get("1","")}\t{r["valid?"]}\t{r["workload"].get("lost-count","")}\t{cpu}')
PY
}

echo -e "run\tseed\tmsgs-per-op\tmedian\tmax\tvalid?\tlost\tcpu-ms/1000ops"
for seed in $(seq 1 "$RUNS"); do run efficient broadcast "$seed" -- profile=efficient; done
for seed in $(seq 1 "$RUNS"); do run fast broadcast "$seed" -- profile=fast; done
run efficient+partition broadcast 101 --nemesis partition -- profile=efficient
run fast+partition broadcast 102 --nemesis partition -- profile=fast
for seed in $(seq 1 "$RUNS"); do run g-set-efficient g-set "$seed" -- profile=efficient; done
