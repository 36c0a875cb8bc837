#!/usr/bin/env bash
# Fidelity of simulation mode: the same configuration in process mode (real time, real
# processes) and in --sim (virtual time), compared on msgs-per-op and stable-latency quantiles.
#
# usage: crates/harness/scripts/fidelity.sh [PROCESS_RUNS] [SIM_SEEDS] [-- extra test flags]
# default: the fly.io 3d configuration, 3 process runs (about 35 s each), 10 sim seeds.
set -euo pipefail
cd "$(dirname "$0")/../../.."
runs=${1:-3}
seeds=${2:-10}
shift $(( $# > 2 ? 2 : $# ))
[[ "${1:-}" == "--" ]] && shift
flags=(-w broadcast --node-count 25 --time-limit 20 --rate 100 --latency 100 "$@")
cargo build --release -q -p gossip-harness
bin=target/release/gossip-harness
store=$(mktemp -d)
trap 'rm -rf "$store"' EXIT
row() { # mode seed dir
  python3 - "$1" "$2" "$3/latest/results.json" <<'PY'
import json, sys
mode, seed, path = sys.argv[1:]
r = json.load(open(path))
q = r["workload"].get("stable-latencies", {})
print(f"| {mode} | {seed} | {r['net']['servers']['msgs-per-op']:.3f} | {q.get('0.5')} | {q.get('0.95')} | {q.get('0.99')} | {q.get('1')} | {r['valid?']} |")
PY
}
echo "| mode | seed | servers msgs-per-op | stable p50 | p95 | p99 | max | valid? |"
echo "|---|---:|---:|---:|---:|---:|---:|---|"
for s in $(seq 1 "$runs"); do
  "$bin" test "${flags[@]}" --seed "$s" --store "$store/p$s" > /dev/null 2>&1 || true
  row process "$s" "$store/p$s"
done
for s in $(seq 1 "$seeds"); do
  "$bin" test --sim "${flags[@]}" --seed "$s" --store "$store/s$s" > /dev/null 2>&1 || true
  row sim "$s" "$store/s$s"
done
