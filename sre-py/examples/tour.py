#!/usr/bin/env python3
"""Every public name of `sre_harness`, used once, offline (ScriptedModel scripts): the
tests run it and type-check it with `mypy --strict`, so the stubs and the package agree.

    python tour.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List

import sre_harness as sh
from sre_harness import (
    DEFAULT_TIMEOUT,
    Agent,
    Anthropic,
    Approver,
    AzureOpenAI,
    Budget,
    ArgumentError,
    Cancelled,
    ConfigError,
    Hook,
    HookError,
    Home,
    Layer,
    Memory,
    Model,
    ModelError,
    OpenAI,
    Outcome,
    ProviderError,
    RetryPolicy,
    RunStream,
    SessionError,
    SessionStore,
    SreHarnessError,
    Tool,
    ToolError,
    ToolResult,
    __version__,
    evaluate,
    flush_telemetry,
    hook,
    load,
    record,
    replay,
    tool,
)

REPO = Path(__file__).resolve().parents[2]


@tool(description="Disk use of a mount, in percent.", read_only=True, timeout=DEFAULT_TIMEOUT)
def disk_use(mount: str = "/") -> Dict[str, Any]:
    return {"mount": mount, "percent": 42}


@hook("PreToolUse", matcher="disk_use", name="audit")
def audit(context: Dict[str, Any]) -> None:
    print("audit:", context["tool_name"], context["tool_input"])


def never(context: Dict[str, Any], reason: str) -> bool:
    return False


def tools_and_errors() -> None:
    assert isinstance(disk_use, Tool)
    result: ToolResult = disk_use.call({"mount": "/var"})
    assert result.json() == {"mount": "/var", "percent": 42} and not result.is_error
    source = Tool.from_source(name="echo", description="Echo.", code="def main(text):\n    return text\n")
    assert source.call(text="hi").content == "hi"
    # Arguments the schema refuses come back as an error result the model reads.
    bad = disk_use.call({"nope": 1})
    assert bad.is_error, bad.content
    # (Raised, instead, when a function's signature cannot make a schema.)
    assert issubclass(ArgumentError, Exception)
    # The package's errors share one base.
    for error in (Cancelled, ConfigError, HookError, ModelError, SessionError, ToolError):
        assert issubclass(error, SreHarnessError)


def one_agent(tmp: Path) -> Outcome:
    script = (
        "turns:\n  - tool_calls:\n      - {tool: disk_use, args: {mount: /var}}\n"
        "  - expect: {last_message_contains: ['\"percent\": 42']}\n    final: /var is 42% full\n"
    )
    gate = Hook(lambda context: None, event="Stop", name="gate")
    agent = Agent(
        script=script, tools=[disk_use], hooks=[audit, gate], approver=Approver(never),
        session_dir=tmp / "sessions", workspace_tools=False,
    )
    outcome = agent.run_sync("How full is /var?")
    print(outcome.answer, outcome.usage)

    async def streamed() -> List[str]:
        again = Agent(script="turns:\n  - final: done\n", session_dir=tmp / "sessions")
        stream: RunStream = again.stream("anything?")
        return [event["kind"]["type"] async for event in stream]

    print(asyncio.run(streamed()))
    return outcome


class Oncall(Model):
    """A model of your own (your client, your gateway): here, one that answers from rules."""

    name = "oncall-rules"
    context_window = 16_000
    input_per_mtok, output_per_mtok = 0.5, 1.5

    def complete(self, request: Dict[str, Any]) -> Dict[str, Any]:
        if "quota" in str(request["messages"]):
            raise ProviderError(429, "slow down", retry_after=1.0)
        return {"content": [{"type": "text", "text": "restart the pod"}], "usage": {"input_tokens": 10, "output_tokens": 3}}


class DictStore(SessionStore):
    """Transcripts in a dict (a real store commits to a database before returning)."""

    def __init__(self) -> None:
        self.sessions: Dict[str, List[Dict[str, Any]]] = {}

    def load(self, session_id: str) -> List[Dict[str, Any]]:
        return list(self.sessions.get(session_id, []))

    def append(self, session_id: str, records: List[Dict[str, Any]]) -> None:
        self.sessions.setdefault(session_id, []).extend(records)


class Shift(Layer):
    """Who is on call, in every prompt of the agent."""

    name = "on-call"

    def render(self, session_id: str, agent: str) -> str:
        return "On call: Ana (primary), Ben (secondary)."


def context(tmp: Path) -> None:
    memory = Memory(tmp / "memory")
    memory.remember("pg-orders allows 20 connections, 3 for superusers", topic="postgres")
    agent = Agent(
        script="turns:\n  - final: memory and context are in the prompt\n", memory=memory, pinned_state=True,
        budget=Budget(prune_at=0.5), layers=[Shift()], subagents=10, session_dir=tmp / "c",
    )
    print(agent.run_sync("What do we know about pg-orders?").answer, memory.retrieve("connections")[0][2])


def models(tmp: Path) -> None:
    store = DictStore()
    print(Agent(model=Oncall(), session_store=store, cost_cap_usd=1.0).run_sync("checkout is down").answer)
    print(len(store.sessions), "session kept by the Python store")
    # Providers configured here, not from the environment (not called in this offline tour).
    retry = RetryPolicy(max_attempts=3, initial_backoff=0.2)
    for provider in (
        OpenAI("gpt-4.1", api_key="sk-...", retry=retry),
        OpenAI("llama3", base_url="http://127.0.0.1:11434/v1", retry=None),
        Anthropic("claude-sonnet-4-5", api_key="sk-ant-..."),
        AzureOpenAI("https://my-resource.openai.azure.com", "prod-gpt41", api_key="...", api_version="2024-10-21"),
    ):
        print(type(provider).__name__, Agent(model=provider, session_dir=tmp / "p").name)


def a_home(tmp: Path) -> None:
    home: Home = load(REPO / "examples/team", script="turns:\n  - final: nothing expires\n", workspace=tmp / "ws", only=["postgres-analyst"])
    print(sorted(home), home.on_demand_hooks)


def quality(tmp: Path) -> None:
    home = tmp / "home"
    (home / "agents").mkdir(parents=True)
    (home / "agents" / "solo.yaml").write_text(
        "kind: ExtendedAgent\nspec:\n  name: solo\n  system_prompt: You answer.\n  tools: []\n"
    )
    (tmp / "script.yaml").write_text("turns:\n  - final: fine\n")
    answer = record(home, "solo", "ok?", cassette=tmp / "run.jsonl", workspace=tmp / "ws2", session_id="tour-1", script=tmp / "script.yaml")
    print(answer, replay(tmp / "run.jsonl")["reproduced"])
    report = evaluate(REPO / "examples/evals/starter", script="right", only=["01_pool"])
    print(report["summary"]["pass_rate"])


def main() -> int:
    print("sre_harness", __version__, len(sh.__all__), "public names")
    tools_and_errors()
    with tempfile.TemporaryDirectory() as tmp:
        one_agent(Path(tmp))
        models(Path(tmp))
        context(Path(tmp))
        a_home(Path(tmp))
        quality(Path(tmp))
    flush_telemetry()
    return 0


if __name__ == "__main__":
    sys.exit(main())
