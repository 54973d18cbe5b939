#!/usr/bin/env bash
# Provider-layer bench, side by side with the official Python `openai` client.
# Installs openai (the version the peer figures in ../shared/bench used) into a venv.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${SRE_BENCH_VENV:-/tmp/sre-bench-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "openai==3.57.0"
fi
SRE_BENCH_PYTHON="$venv/bin/python" cargo bench -p benches --bench providers
