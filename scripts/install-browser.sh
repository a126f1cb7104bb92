#!/usr/bin/env bash
# The browser tests/review_page.rs drives: Debian's Chromium and its WebDriver
# (`chromium` + `chromium-driver`, /usr/bin/chromium and /usr/bin/chromedriver), installed with
# apt-get when missing. Non-interactive and idempotent; needs root to install (CI runs as root).
# Prints `export` lines for the test script to eval.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
        echo "install-browser: chromium and chromium-driver are missing; run as root to install them" >&2
        exit 1
    fi
    echo "install-browser: installing chromium and chromium-driver with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 || true
    apt-get install -y -qq --no-install-recommends chromium chromium-driver >&2
fi
echo "export TRIAGE_CHROMIUM='$(command -v chromium)'"
echo "export TRIAGE_CHROMEDRIVER='$(command -v chromedriver)'"
