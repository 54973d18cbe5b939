#!/usr/bin/env bash
# Build the sre_harness wheel from this checkout, install it into a clean venv, and run the
# pytest suite against it: what users would install is what is tested.
#
#   bash sre-py/run-tests.sh [pytest args...]
#
# A tools venv at $SRE_PY_VENV (default: sre-py/.venv, git-ignored) holds maturin. The wheel
# is built in the dev (debug) profile (a release build takes minutes longer; the code is the
# same) as abi3 (one wheel for CPython >= 3.9) and manylinux (maturin checks the glibc
# symbols the extension uses, as auditwheel would). A fresh venv ($SRE_PY_WHEEL_VENV,
# default sre-py/.venv-wheel, recreated each run) gets the wheel and the test dependencies
# (pytest, cryptography, pydantic, and mypy, which checks the examples) and runs pytest
# against it. Exits non-zero when anything fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${SRE_PY_VENV:-$here/.venv}"
clean="${SRE_PY_WHEEL_VENV:-$here/.venv-wheel}"
python="${PYTHON:-python3}"
pip_quiet=(--quiet --disable-pip-version-check)

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install "${pip_quiet[@]}" "maturin>=1.5,<2"

wheels="$(mktemp -d)"
trap 'rm -rf "$wheels"' EXIT
start=$(date +%s)
"$venv/bin/maturin" build --quiet --profile dev --manifest-path "$here/Cargo.toml" --out "$wheels"
wheel="$(ls "$wheels"/*.whl)"
case "$(basename "$wheel")" in
    sre_harness-*-cp39-abi3-manylinux_*_x86_64.whl|sre_harness-*-cp39-abi3-manylinux_*_aarch64.whl) ;;
    *) echo "sre-py: the wheel is not abi3 manylinux: $(basename "$wheel")" >&2; exit 1 ;;
esac
echo "sre-py: built $(basename "$wheel") in $(( $(date +%s) - start )) s"

"$python" -m venv --clear "$clean"
"$clean/bin/python" -m pip install "${pip_quiet[@]}" "$wheel" "pytest>=7" "cryptography>=41" "pydantic>=2" "mypy>=1.10,<2"

# `import sre_harness` can only be the installed wheel's: the sources are under python/,
# which is not on the path (a test checks where the package came from).
cd "$here"
# The whole suite unless the arguments name tests (paths); options alone keep it whole.
targets=(tests)
for arg in "$@"; do
    case "$arg" in -*) ;; *) targets=() ;; esac
done
SRE_PY_WHEEL="$(basename "$wheel")" "$clean/bin/python" -m pytest -q -p no:cacheprovider "${targets[@]}" "$@"
