#!/usr/bin/env bash
# Issue 16's figures, in one run, with a release `sre serve` and headless Chromium
# (Debian packages chromium and chromium-driver):
#   1. from an Alertmanager webhook to its investigation's first step in a page already
#      open on the thread;
#   2. a thread of over 2,000 logged events opened from its log: time until all are shown,
#      the long tasks meanwhile, then a click to the next frame;
#   3. the page's weight as served.
# Usage: benches/run_console_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test -q --release -p sre-host --test console_figures -- --nocapture 2>&1 \
  | sed -n '/^console figures/,/^| page weight/p'
