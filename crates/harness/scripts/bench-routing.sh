#!/usr/bin/env bash
# Harness routing throughput: messages per second routed between node processes.
#
#   crates/harness/scripts/bench-routing.sh [NODES] [SECONDS] [TOKENS_PER_NODE]
#
# Runs the token_ring example nodes (each forwards every token it gets to the next node)
# under the release harness with no client ops, then divides the server messages by the run
# time. Defaults: 2 nodes, 10 s, 64 tokens per node. Run from the workspace root.
set -euo pipefail
nodes="${1:-2}"; secs="${2:-10}"; tokens="${3:-64}"
cargo build --release -q -p gossip-harness --bin gossip-harness --example token_ring
store="$(mktemp -d)"
trap 'rm -rf "$store"' EXIT
target/release/gossip-harness test -w echo --bin target/release/examples/token_ring \
  --node-count "$nodes" --rate 0 --time-limit "$secs" --store "$store" --seed 1 -- "$tokens" >/dev/null
python3 - "$store/latest/results.json" "$store/latest/test.json" "$secs" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); t = json.load(open(sys.argv[2])); secs = float(sys.argv[3])
s = r["net"]["servers"]
print(f"routed {s['send-count']} sends / {s['recv-count']} deliveries in {secs:.0f} s of test time "
      f"({t['wall-seconds']:.1f} s wall): {s['recv-count'] / secs:,.0f} messages/s")
PY
