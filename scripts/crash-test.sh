#!/bin/sh
# Kills a gossip-agent with SIGKILL at random moments while clients write to it with durable
# acknowledgements, restarts it on its data dir each time, and checks that no acknowledged
# write is lost (after every restart, and on its peer at the end).
#
#   scripts/crash-test.sh [KILLS] [SEED]     (default 200 kills, a seed from the process id)
#
# Extra cargo flags go in CARGO_FLAGS (e.g. CARGO_FLAGS=--release).
set -eu
kills="${1:-200}"
export GOSSIP_CRASH_KILLS="$kills"
if [ -n "${2:-}" ]; then export GOSSIP_CRASH_SEED="$2"; fi
CARGO_INCREMENTAL=0 cargo test ${CARGO_FLAGS:-} -p gossip-agent --test all -- \
    --exact durable::sigkill_never_loses_a_durable_acknowledgement --nocapture
