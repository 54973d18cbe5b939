#!/usr/bin/env bash
# Build the sre_harness Python package from this checkout and run its pytest suite.
#
#   bash sre-py/run-tests.sh [pytest args...]
#
# Creates (or reuses) a venv at $SRE_PY_VENV (default: sre-py/.venv, git-ignored), installs
# maturin, pytest, cryptography, pydantic and mypy (it checks the examples) into it, builds the extension in the dev (debug) profile
# with `maturin develop` (much faster than the release wheel `pip install ./sre-py` builds),
# and runs pytest. Exits non-zero when anything fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${SRE_PY_VENV:-$here/.venv}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
# shellcheck disable=SC1091
. "$venv/bin/activate"
python -m pip install --quiet --disable-pip-version-check "maturin>=1.5,<2" "pytest>=7" "cryptography>=41" "pydantic>=2" "mypy>=1.10,<2"

cd "$here"
start=$(date +%s)
maturin develop --quiet --manifest-path "$here/Cargo.toml"
echo "sre-py: extension built and installed in $(( $(date +%s) - start )) s"

python -m pytest "$here/tests" -q -p no:cacheprovider "$@"
