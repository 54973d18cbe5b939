"""The Python examples: the TLS-certificate monitor as a plain script, run offline against
local TLS servers, and the tour of every public name, run and type-checked with
`mypy --strict` (so the stubs say what the package does)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import sre_harness as sh

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_the_examples_type_check_strictly_against_the_stubs() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(EXAMPLES / "tour.py"), str(EXAMPLES / "tls_monitor.py")],
        capture_output=True, text=True, cwd=EXAMPLES.parent,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_tour_uses_every_public_name_and_runs() -> None:
    tour = (EXAMPLES / "tour.py").read_text()
    missing = [name for name in sh.__all__ if name not in tour]
    assert not missing, missing
    run = subprocess.run([sys.executable, str(EXAMPLES / "tour.py")], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "/var is 42% full" in run.stdout


def test_the_tls_monitor_script_audits_local_servers(tmp_path: Path, tls_server_factory: Any) -> None:
    soon = tls_server_factory(3, "soon")
    later = tls_server_factory(200, "later")
    script = tmp_path / "monitor.yaml"
    script.write_text(
        "turns:\n"
        "  - tool_calls:\n"
        f"      - {{tool: check_tls_certificate, args: {{domain: 127.0.0.1, port: {soon.port}}}}}\n"
        f"      - {{tool: check_tls_certificate, args: {{domain: 127.0.0.1, port: {later.port}}}}}\n"
        "  - expect: {last_message_contains: ['\"risk\": \"critical\"', '\"risk\": \"ok\"']}\n"
        f"    final: \"| 127.0.0.1:{soon.port} | critical |\\n| 127.0.0.1:{later.port} | ok |\"\n"
    )
    run = subprocess.run(
        [sys.executable, str(EXAMPLES / "tls_monitor.py"), "--script", str(script), f"127.0.0.1:{soon.port}", f"127.0.0.1:{later.port}"],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"| 127.0.0.1:{soon.port} | critical |" in run.stdout


def test_the_stub_lists_the_same_public_names() -> None:
    stub = (Path(sh.__file__).parent / "__init__.pyi").read_text()
    assert all(f'"{name}"' in stub for name in sh.__all__)


def test_run_sync_works_inside_a_running_event_loop_as_in_a_notebook(tmp_path: Path) -> None:
    import asyncio

    @sh.tool
    async def probe() -> dict:
        await asyncio.sleep(0.01)
        return {"ok": True}

    agent = sh.Agent(
        script="turns:\n  - tool_calls: [{tool: probe}]\n  - expect: {last_message_contains: ['\"ok\": true']}\n    final: probed\n",
        tools=[probe], session_dir=tmp_path,
    )

    async def cell() -> str:
        # A notebook cell: an event loop is running, and the call simply blocks.
        return agent.run_sync("probe it").answer or ""

    assert asyncio.run(cell()) == "probed"
