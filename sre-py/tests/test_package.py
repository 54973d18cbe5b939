"""The package surface: exports, stubs, py.typed."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import sre_harness as sh


def test_every_export_has_a_stub() -> None:
    pkg = Path(sh.__file__).parent
    stub = ast.parse((pkg / "__init__.pyi").read_text())
    names = set()
    for node in ast.walk(stub):
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.ImportFrom):
            names.update(a.asname or a.name for a in node.names)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    missing = sorted(set(sh.__all__) - names)
    assert not missing, missing
    assert (pkg / "py.typed").exists()
    assert (pkg / "_native.pyi").exists()


def test_version_and_exception_hierarchy() -> None:
    assert sh.__version__
    for cls in (sh.ConfigError, sh.ModelError, sh.ToolError, sh.SessionError, sh.HookError, sh.Cancelled):
        assert issubclass(cls, sh.SreHarnessError)
    assert issubclass(sh.SreHarnessError, Exception)


def test_the_package_under_test_is_the_installed_wheel() -> None:
    """Under run-tests.sh, `sre_harness` comes from the abi3 manylinux wheel installed in a
    clean venv, not from the source tree."""
    import os
    import sysconfig

    wheel = os.environ.get("SRE_PY_WHEEL")
    if wheel is None:
        pytest.skip("not run by run-tests.sh (SRE_PY_WHEEL unset)")
    import sre_harness

    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    package = Path(sre_harness.__file__).resolve()
    assert site in package.parents, package
    assert "-cp39-abi3-manylinux_" in wheel
    native = [p.name for p in package.parent.iterdir() if p.name.startswith("_native") and p.suffix == ".so"]
    assert native == ["_native.abi3.so"], native
