"""Agent homes from Python: ``sre_harness.load(DIR)`` gives the agents the ``sre`` command
runs, with the methods of ``Agent``: the reference team (examples/team) with its Python
tool against a local TLS server, handoffs followed, and every error of the files at once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

import sre_harness as sh

REPO = Path(__file__).resolve().parents[2]
TEAM = REPO / "examples" / "team"


@pytest.fixture(scope="session")
def python_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache of Python tool environments for the session (dependencies install once)."""
    return tmp_path_factory.mktemp("python-cache")


def test_the_reference_team_loads_with_its_agents_and_tools(tmp_path: Path, python_cache: Path) -> None:
    home = sh.load(TEAM, script="turns: []\n", workspace=tmp_path / "ws", cache_dir=python_cache, only=["tls-monitor"])
    assert list(home) == ["tls-monitor"]
    names = [s["name"] for s in home["tls-monitor"].tool_specs]
    assert "check_tls_certificate" in names and "activate_skill" in names
    with pytest.raises(KeyError, match="no agent 'nobody'"):
        home["nobody"]


def test_the_tls_monitor_checks_a_local_server_with_its_python_tool(
    tmp_path: Path, python_cache: Path, tls_server_factory: Any
) -> None:
    server = tls_server_factory(20.5, "warning")
    script = f"""
turns:
  - tool_calls:
      - {{tool: check_tls_certificate, args: {{domain: 127.0.0.1, port: "{server.port}"}}}}
  - expect: {{last_message_contains: ['"days_remaining":20', '"risk":"WARNING"', '"port":{server.port}']}}
    final: The certificate on port {server.port} expires in 20 days (WARNING).
"""
    home = sh.load(TEAM, script=script, workspace=tmp_path / "ws", cache_dir=python_cache, only=["tls-monitor"])
    events: List[Dict[str, Any]] = []
    outcome = home["tls-monitor"].run_sync("Check 127.0.0.1", on_event=events.append)
    assert outcome.cause == "completed", outcome
    assert outcome.answer == f"The certificate on port {server.port} expires in 20 days (WARNING)."
    finished = [e["kind"] for e in events if e["kind"]["type"] == "tool_finished"]
    assert len(finished) == 1 and not finished[0]["is_error"]
    assert json.loads(finished[0]["output"])["risk"] == "WARNING"
    assert server.handshakes == 1


def _agent(name: str, extra: str = "") -> str:
    return f"api_version: azuresre.ai/v2\nkind: ExtendedAgent\nspec:\n  name: {name}\n  system_prompt: You are {name}.\n{extra}"


def test_a_thread_follows_handoffs(tmp_path: Path) -> None:
    home_dir = tmp_path / "home"
    (home_dir / "agents").mkdir(parents=True)
    (home_dir / "agents" / "lead.yaml").write_text(_agent("lead", "  handoffs: [worker]\n  tools: []\n"))
    (home_dir / "agents" / "worker.yaml").write_text(_agent("worker", "  handoff_description: does it\n  tools: []\n"))
    script = """
agents:
  lead:
    - tool_calls: [{tool: handoff, args: {to: worker, note: over to you}}]
  worker:
    - expect: {last_message_contains: ['handed to you by agent `lead`', 'over to you', 'do the thing']}
      final: done by the worker
"""
    home = sh.load(home_dir, script=script, workspace=tmp_path / "ws")
    first = home["lead"].run_sync("do the thing", session_id="t1")
    assert first.cause == "handoff" and first.cause_detail["to"] == "worker", first
    # A new load has a new scripted model (its script starts over).
    home = sh.load(home_dir, script=script, workspace=tmp_path / "ws2")
    hops = home.run_thread_sync("lead", "do the thing", session_id="t2")
    assert [h.cause for h in hops] == ["handoff", "completed"]
    assert hops[-1].answer == "done by the worker"
    assert hops[-1].session_id == "t2--handoff1-worker"


def test_every_error_of_the_files_is_raised_at_once(tmp_path: Path) -> None:
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "a.yaml").write_text(_agent("a", "  tools: [Bsh]\n  handoffs: [nobody]\n"))
    with pytest.raises(sh.ConfigError) as err:
        sh.load(tmp_path, script="turns: []\n", workspace=tmp_path / "ws")
    text = str(err.value)
    assert "agents/a.yaml:6:11" in text and "did you mean `Bash`?" in text, text
    assert "agents/a.yaml:7:" in text and "unknown agent `nobody`" in text, text


def test_an_on_demand_hook_is_switched_on_per_thread(tmp_path: Path) -> None:
    script = REPO / "examples" / "scripts" / "team-postgres.yaml"
    task = "pg-orders at 127.0.0.1:1 refuses connections. Investigate."

    def audit_lines(session_id: str, enable: bool) -> List[str]:
        home = sh.load(TEAM, script_path=script, workspace=tmp_path / session_id, only=["postgres-analyst"])
        assert home.on_demand_hooks == ["audit"]
        if enable:
            home.enable_hook(session_id, "audit")
        events: List[Dict[str, Any]] = []
        outcome = home["postgres-analyst"].run_sync(task, session_id=session_id, on_event=events.append)
        assert outcome.cause == "completed", outcome
        return [
            e["kind"]["output"]
            for e in events
            if e["kind"]["type"] == "hook_decision" and e["kind"]["hook"] == "audit" and e["kind"].get("output")
        ]

    on = audit_lines("pg-on", True)
    assert any("audit: agent=postgres-analyst tool=shell succeeded=true" in line for line in on), on
    assert audit_lines("pg-off", False) == []
    home = sh.load(TEAM, script="turns: []\n", workspace=tmp_path / "ws", only=["postgres-analyst"])
    with pytest.raises(sh.ConfigError, match="audti"):
        home.enable_hook("t", "audti")


def test_a_temporary_workspace_lives_as_long_as_the_home_or_an_agent_of_it(tmp_path: Path) -> None:
    import gc

    home_dir = tmp_path / "home"
    (home_dir / "agents").mkdir(parents=True)
    (home_dir / "agents" / "solo.yaml").write_text(_agent("solo", "  tools: []\n"))
    home = sh.load(home_dir, script="turns:\n  - final: fine\n")
    workspace = Path(home.workspace)
    agent = home["solo"]
    del home
    gc.collect()
    assert workspace.is_dir(), "removed while an agent of the home still works in it"
    assert agent.run_sync("ok?").answer == "fine"
    del agent
    gc.collect()
    assert not workspace.exists(), "the temporary workspace was left behind"


def test_large_outputs_are_not_copied_into_python_unless_asked(tmp_path: Path) -> None:
    home_dir = tmp_path / "home"
    (home_dir / "agents").mkdir(parents=True)
    (home_dir / "agents" / "counter.yaml").write_text(_agent("counter", "  tools: [Bash]\n"))
    script = "turns:\n  - tool_calls:\n      - {tool: shell, args: {command: 'seq 1 5000'}}\n  - final: counted\n"

    def finished(full: bool) -> Dict[str, Any]:
        home = sh.load(home_dir, script=script, workspace=tmp_path / f"ws-{full}")
        agent = home["counter"]
        agent.full_outputs = full
        events: List[Dict[str, Any]] = []
        agent.run_sync("count", on_event=events.append)
        return next(e["kind"] for e in events if e["kind"]["type"] == "tool_finished")

    # Offloaded (23 KiB, over the 16 KiB threshold): the preview the model saw, the size.
    brief = finished(False)
    assert brief["output"] is None
    assert "Preview (head and tail)" in brief["recorded"]
    whole = finished(True)
    assert whole["output"].endswith("4999\n5000\n")
    assert brief["output_bytes"] == len(whole["output"].encode())
