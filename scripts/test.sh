#!/usr/bin/env bash
# Run every test of the workspace on a fresh machine: installs what the tests need
# (Debian packages ripgrep and jq for the sre-tools parity and shell tests, PostgreSQL for
# the reference team's lab, Chromium and chromedriver for the web console; npm and PyPI MCP peers for sre-mcp, whose Python venv also
# serves the reference team's stand-in servers; a Python venv for sre-py), then runs the unit, integration and doc tests and the Python tests.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v rg >/dev/null 2>&1 || need_apt+=(ripgrep)
command -v jq >/dev/null 2>&1 || need_apt+=(jq)
command -v git >/dev/null 2>&1 || need_apt+=(git)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3 python3-venv)
command -v npm >/dev/null 2>&1 || need_apt+=(nodejs npm)
# The reference team's PostgreSQL analyst runs pg_isready and psql against a real server
# its lab starts (examples/team/lab/postgres-lab.sh, examples/host tests).
command -v pg_isready >/dev/null 2>&1 || need_apt+=(postgresql-client)
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need_apt+=(postgresql)
# The lab runs the server as nobody when run as root (setpriv, util-linux).
command -v setpriv >/dev/null 2>&1 || need_apt+=(util-linux)
# The web console's tests drive a real headless Chromium through chromedriver.
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium chromium-driver)
# The telemetry tests' HTTPS collector makes its CA and certificate with openssl.
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
# Commands in namespaces (sre-tools tests/namespaces.rs) run under bubblewrap.
command -v bwrap >/dev/null 2>&1 || need_apt+=(bubblewrap)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi

# Commits made by tests (sample repositories) need an identity on a fresh machine.
export GIT_AUTHOR_NAME="${GIT_AUTHOR_NAME:-sre-harness tests}"
export GIT_AUTHOR_EMAIL="${GIT_AUTHOR_EMAIL:-tests@sre-harness.invalid}"
export GIT_COMMITTER_NAME="${GIT_COMMITTER_NAME:-$GIT_AUTHOR_NAME}"
export GIT_COMMITTER_EMAIL="${GIT_COMMITTER_EMAIL:-$GIT_AUTHOR_EMAIL}"

# Real MCP peers for sre-mcp (npm: server-everything, the conformance suite, node@22;
# PyPI: mcp), installed into sre-mcp/tests/peers from pinned lockfiles.
bash sre-mcp/tests/setup-peers.sh

# bubblewrap is installed above: tests that need namespaces fail rather than skip.
export SRE_REQUIRE_NAMESPACES=1

# One clean build (CI): incremental caches would only add gigabytes of disk.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --features sre-core/anthropic,sre-core/openai --no-fail-fast
else
  echo "cargo-nextest not found; using cargo test"
  cargo test --workspace --features sre-core/anthropic,sre-core/openai --lib --bins --tests --no-fail-fast
fi
cargo test --workspace --features sre-core/anthropic,sre-core/openai --doc

# The Python package (sre-py): build it into a venv with maturin and run its pytest suite.
bash sre-py/run-tests.sh
