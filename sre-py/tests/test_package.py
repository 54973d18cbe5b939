"""The package surface: exports, stubs, py.typed."""

from __future__ import annotations

import ast
from pathlib import Path

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
