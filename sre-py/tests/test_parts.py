"""The parts of an agent beyond model and tools, from Python: Markdown memory, context
layers (repositories with AGENTS.md, a layer of your own), pinned state, the token budget,
output offload and subagents. A Python model reads what the loop sends it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest

import sre_harness as sh


class Recorder(sh.Model):
    """Remembers what it was sent; calls the tools of `plan` (one per turn), then answers.
    It reports the prompt's size as a provider would (bytes / 4)."""

    def __init__(self, plan: List[Dict[str, Any]]) -> None:
        self.plan = list(plan)
        self.requests: List[Dict[str, Any]] = []

    def complete(self, request: Dict[str, Any]) -> Dict[str, Any]:
        self.requests.append(request)
        usage = {"input_tokens": len(json.dumps(request)) // 4, "output_tokens": 5}
        if not request["tools"]:  # the budget's compaction asks for a summary
            return {"content": [{"type": "text", "text": "Summary: probes ran."}], "usage": usage}
        if self.plan:
            step = self.plan.pop(0)
            call = {"type": "tool_use", "id": f"c{len(self.requests)}", "name": step["name"], "input": step["input"]}
            return {"content": [call], "usage": usage}
        return {"content": [{"type": "text", "text": "done"}], "usage": usage}


def system_text(request: Dict[str, Any]) -> Dict[str, str]:
    return {block["name"]: block["text"] for block in request["system"]}


def test_markdown_memory_from_python_and_from_the_agent(tmp_path: Path) -> None:
    memory = sh.Memory(tmp_path / "memory")
    entry = memory.remember("pg-orders has max_connections 20", topic="postgres")
    hits = memory.retrieve("max_connections")
    assert hits and hits[0][0] == entry and "max_connections 20" in hits[0][2]
    assert "postgres" in memory.index()
    assert isinstance(memory.review(), str)
    snap_id, _taken, files, size = memory.snapshot()
    assert snap_id and files >= 1 and size > 0
    # The agent sees the knowledge map and keeps a fact with the remember tool.
    model = Recorder([{"name": "remember", "input": {"fact": "checkout's pool is 50", "topic": "checkout"}}])
    outcome = sh.Agent(model=model, memory=memory, session_dir=tmp_path / "s").run_sync("note it", session_id="s-7")
    assert outcome.answer == "done"
    assert "postgres" in system_text(model.requests[0])["knowledge-map"]
    (hit,) = [h for h in memory.retrieve("checkout pool") if "pool is 50" in h[2]]
    assert memory.forget(hit[0]) == [hit[0]]
    # Forgotten is deprecated, not erased: retrieval says so.
    (after,) = [h for h in memory.retrieve("checkout pool") if "pool is 50" in h[2]]
    assert after[3] is not None and "deprecated" in after[3]


def test_layers_repositories_with_agents_md_and_a_python_layer(tmp_path: Path) -> None:
    repo = tmp_path / "checkout"
    repo.mkdir()
    (repo / "AGENTS.md").write_text("Run `make test` before any change to checkout.\n")

    class OnCall(sh.Layer):
        name = "on-call"

        def render(self, session_id: str, agent: str) -> str:
            return f"On call for {agent}: Ana (session {session_id})"

    class Broken(sh.Layer):
        name = "broken"

        def render(self, session_id: str, agent: str) -> str:
            raise KeyError("roster")

    model = Recorder([])
    sh.Agent(model=model, repositories={"checkout": repo}, layers=[OnCall()], name="sre",
             session_dir=tmp_path / "s").run_sync("hi", session_id="s-1")
    blocks = system_text(model.requests[0])
    assert "make test" in blocks["repositories"]
    assert blocks["on-call"] == "On call for sre: Ana (session s-1)"
    with pytest.raises(sh.SreHarnessError, match="layer `broken`: KeyError") as failed:
        sh.Agent(model=Recorder([]), layers=[Broken()], session_dir=tmp_path / "t").run_sync("hi")
    assert not isinstance(failed.value, sh.ConfigError)
    with pytest.raises(sh.ConfigError, match="layer name `repositories` is taken"):
        Taken = type("Taken", (OnCall,), {"name": "repositories"})
        sh.Agent(model=Recorder([]), layers=[Taken()])
    with pytest.raises(sh.ConfigError, match="layer name `on-call` is taken"):
        sh.Agent(model=Recorder([]), layers=[OnCall(), OnCall()])

    class Async(sh.Layer):
        name = "async-layer"

        async def render(self, session_id: str, agent: str) -> str:
            return "rendered on a loop"

    model = Recorder([])
    sh.Agent(model=model, layers=[Async()], session_dir=tmp_path / "u").run_sync("hi")
    assert system_text(model.requests[0])["async-layer"] == "rendered on a loop"
    with pytest.raises(sh.ConfigError, match="layers must be sre_harness.Layer"):
        sh.Agent(model=Recorder([]), layers=["text"])  # type: ignore[list-item]


def test_pinned_state_offload_and_subagents_are_offered(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "logs").mkdir(parents=True)
    (ws / "logs" / "app.log").write_text("ERROR pool exhausted\n" * 3000)
    model = Recorder([
        {"name": "update_investigation_state", "input": {"hypotheses": [{"id": "h1", "statement": "pool exhausted", "status": "open"}]}},
        {"name": "read_file", "input": {"path": "logs/app.log", "limit": 3000}},
    ])
    events: List[Dict[str, Any]] = []
    agent = sh.Agent(model=model, workspace=ws, mounts={"scratch": "rw"}, pinned_state=True, offload=True,
                     subagents=5, session_dir=tmp_path / "s")
    names = {t["name"] for t in agent.tool_specs}
    assert {"update_investigation_state", "spawn_subagents", "read_file"} <= names
    outcome = agent.run_sync("why?", on_event=events.append)
    assert outcome.answer == "done"
    # The pinned state is in the prompt after the update (not only in the model's own call).
    shown = [b["text"] for m in model.requests[2]["messages"] for b in m["content"] if b["type"] == "text"]
    shown += [b["text"] for b in model.requests[2]["system"]]
    assert any("pool exhausted" in t and "h1" in t for t in shown), shown
    # The large output was offloaded: the model saw a preview, Python was not sent it whole.
    (read,) = [e["kind"] for e in events if e["kind"]["type"] == "tool_finished" and e["kind"].get("output_bytes", 0) > 50_000]
    assert read["output"] is None
    seen = model.requests[2]["messages"][-1]["content"][0]["content"]
    assert len(seen) < 20_000 and "scratch" in seen
    with pytest.raises(sh.ConfigError, match="offload needs a workspace root"):
        sh.Agent(model=Recorder([]), offload=True)


def test_the_budget_prunes_a_long_investigation(tmp_path: Path) -> None:
    @sh.tool(description="A verbose probe.")
    def probe(n: int) -> str:
        return "\n".join(f"probe {n} host-{i} status=degraded latency_ms={i * 13 % 997}" for i in range(150))

    model = Recorder([{"name": "probe", "input": {"n": i}} for i in range(6)])
    events: List[Dict[str, Any]] = []
    agent = sh.Agent(model=model, tools=[probe], budget=sh.Budget(context_window=16_000, prune_at=0.3, prune_target=0.2, compact_at=0.95),
                     session_dir=tmp_path / "s")
    outcome = agent.run_sync("probe", on_event=events.append)
    assert outcome.answer == "done"
    actions = [e["kind"] for e in events if e["kind"]["type"] == "budget_action"]
    assert actions, "the budget never acted"
    assert any(a["tokens_after"] < a["tokens_before"] for a in actions), actions
    for bad in (dict(prune_at=2.0), dict(prune_at=float("nan")), dict(context_window=0), dict(prune_target=0.7)):
        with pytest.raises(sh.ConfigError, match="Budget: "):
            sh.Budget(**bad)  # type: ignore[arg-type]


# A real MCP server (stdio, newline-delimited JSON-RPC 2.0), small enough to read whole.
MCP_SERVER = r'''
import json, sys
for line in sys.stdin:
    msg = json.loads(line)
    if "id" not in msg:
        continue  # a notification
    method, result = msg["method"], None
    if method == "initialize":
        result = {"protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
                  "serverInfo": {"name": "inventory", "version": "1.0"}}
    elif method == "tools/list":
        result = {"tools": [{"name": "owner_of", "description": "The team owning a service.",
                             "inputSchema": {"type": "object", "properties": {"service": {"type": "string"}},
                                             "required": ["service"]}}]}
    elif method == "tools/call":
        service = msg["params"]["arguments"]["service"]
        result = {"content": [{"type": "text", "text": f"{service} is owned by team-payments"}], "isError": False}
    elif method == "ping":
        result = {}
    reply = {"jsonrpc": "2.0", "id": msg["id"]}
    if result is None:
        reply["error"] = {"code": -32601, "message": f"no method {method}"}
    else:
        reply["result"] = result
    print(json.dumps(reply), flush=True)
'''


def running(script: Path) -> bool:
    """Whether a process runs `script` (read from /proc)."""
    for proc in Path("/proc").iterdir():
        try:
            if str(script).encode() in (proc / "cmdline").read_bytes():
                return True
        except OSError:
            continue
    return False


def test_mcp_connectors_bring_their_tools(tmp_path: Path) -> None:
    import sys

    server = tmp_path / "inventory.py"
    server.write_text(MCP_SERVER)
    config = {"connectors": [{"name": "inventory", "transport": "stdio", "command": sys.executable, "args": [str(server)]}]}
    model = Recorder([{"name": "mcp__inventory__owner_of", "input": {"service": "checkout"}}])
    agent = sh.Agent(model=model, mcp=config, session_dir=tmp_path / "s")
    assert "mcp__inventory__owner_of" in {t["name"] for t in agent.tool_specs}
    assert agent.run_sync("who owns checkout?").answer == "done"
    # The prompt says what is connected.
    assert "inventory" in system_text(model.requests[0])["connectors"]
    assert "checkout is owned by team-payments" in json.dumps(model.requests[-1]["messages"][-1])
    # The same from a YAML file; and a connector that does not come up is an error.
    (tmp_path / "mcp.yaml").write_text(
        f"connectors:\n  - name: inventory\n    transport: stdio\n    command: {sys.executable}\n    args: [{server}]\n"
    )
    assert "mcp__inventory__owner_of" in {t["name"] for t in sh.Agent(model=Recorder([]), mcp=tmp_path / "mcp.yaml").tool_specs}
    # Closing ends the server's process (a copy of the server, to tell its process apart).
    scoped_server = tmp_path / "scoped.py"
    scoped_server.write_text(MCP_SERVER)
    scoped_config = {"connectors": [{"name": "inventory", "transport": "stdio", "command": sys.executable, "args": [scoped_server]}]}
    with sh.Agent(model=Recorder([]), mcp=scoped_config) as scoped:
        assert scoped.tool_specs and running(scoped_server)
    deadline = time.monotonic() + 10
    while running(scoped_server) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(scoped_server)
    broken = {"connectors": [{"name": "gone", "transport": "stdio", "command": str(tmp_path / "missing")}]}
    with pytest.raises(sh.SreHarnessError, match="mcp: .*gone"):
        sh.Agent(model=Recorder([]), mcp=broken)
    with pytest.raises(sh.ConfigError, match="mcp: "):
        sh.Agent(model=Recorder([]), mcp={"connectors": [{"name": "x", "transport": "stdio"}]})


def test_skills_from_a_folder_of_skill_md(tmp_path: Path) -> None:
    skills = tmp_path / "skills"
    (skills / "pool-triage").mkdir(parents=True)
    (skills / "pool-triage" / "SKILL.md").write_text(
        "---\nname: pool-triage\ndescription: Diagnose connection-pool exhaustion. Do not load for disk alerts.\n---\n"
        "1. Count sessions by state.\n2. Compare with max_connections.\n"
    )
    model = Recorder([{"name": "activate_skill", "input": {"name": "pool-triage"}}])
    agent = sh.Agent(model=model, skills=skills, session_dir=tmp_path / "s")
    assert agent.run_sync("the pool is exhausted").answer == "done"
    assert "Diagnose connection-pool exhaustion" in system_text(model.requests[0])["skills"]
    assert "Compare with max_connections" in json.dumps(model.requests[1]["messages"][-1])
    with pytest.raises(sh.ConfigError, match="skills: no `<folder>/SKILL.md`"):
        sh.Agent(model=Recorder([]), skills=tmp_path / "s")
