#!/usr/bin/env bash
# Render a run's report.html to a PNG with headless Chromium, to check that it displays.
#
#   crates/harness/scripts/render-report.sh [RUN_DIR_OR_REPORT] [OUT.png] [WIDTH] [HEIGHT]
#
# RUN_DIR_OR_REPORT defaults to store/latest; OUT defaults to <run dir>/report.png.
# Needs Debian's chromium (apt-get install -y chromium; add fonts-noto-cjk fonts-noto-core so the
# banner's Japanese and Kannada glyphs are not drawn as boxes). The flags keep Chromium off the
# network (this machine has none) and away from any existing profile.
set -euo pipefail

target="${1:-store/latest}"
if [[ -d "$target" ]]; then
  report="$target/report.html"
else
  report="$target"
fi
[[ -f "$report" ]] || { echo "no report at $report" >&2; exit 1; }
report="$(cd "$(dirname "$report")" && pwd)/$(basename "$report")"
out="${2:-$(dirname "$report")/report.png}"
width="${3:-1300}"
height="${4:-2600}"

chromium_bin="$(command -v chromium || command -v chromium-browser || true)"
[[ -n "$chromium_bin" ]] || { echo "chromium not found: apt-get install -y chromium" >&2; exit 1; }

profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
"$chromium_bin" --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --disable-quic \
  --user-data-dir="$profile" --hide-scrollbars \
  --window-size="${width},${height}" --screenshot="$out" "file://$report" >/dev/null 2>&1
[[ -s "$out" ]] || { echo "chromium produced no screenshot" >&2; exit 1; }
echo "$out"
