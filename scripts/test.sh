#!/usr/bin/env bash
# The whole test suite, from a fresh machine: fetch the models (cached), then build once in
# release mode and run every test against that build. `.ci/run` runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/fetch-models.sh
# Assigned first: `eval "$(...)"` would swallow the installer's failure.
tools_env=$(bash scripts/install-test-tools.sh)
eval "$tools_env"
# Debian's Chromium + ChromeDriver for the review page's browser test.
browser_env=$(bash scripts/install-browser.sh)
eval "$browser_env"
cache="${TRIAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/image-triage}"
export TRIAGE_MODEL_DIR="${TRIAGE_MODEL_DIR:-$cache/models}"
export TRIAGE_PHOTOS_DIR="${TRIAGE_PHOTOS_DIR:-$cache/photos}"

# Release: the models run ~30x slower in a debug build. Tests, bench and demo share one build.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# --no-fail-fast: every test binary runs, so one failure does not hide the others.
rc=0
cargo test --release --locked --no-fail-fast 2>&1 | tee "$log" || rc=$?
# One closing line for the whole suite (cargo prints one per test binary).
awk '/^test result:/ { p += $4; f += $6 } END { printf "\nimage-triage: %d passed, %d failed\n", p, f }' "$log"
exit "$rc"
