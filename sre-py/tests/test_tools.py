"""Python tools: schemas, argument conversion, errors, timeouts, async, concurrency."""

from __future__ import annotations

import asyncio
import enum
import threading
import time
from typing import Any, Dict, List, Literal, Optional

import pytest

import sre_harness as sh


def test_schema_from_signature_hints_defaults_and_docstring() -> None:
    @sh.tool
    def probe(host: str, port: int = 443, tls: bool = True, ratio: Optional[float] = None,
              tags: List[str] = [], mode: Literal["fast", "full"] = "fast", extra: Dict[str, int] = {},
              anything=None, timeout_s="30") -> dict:
        """Probe a host.

        Args:
            host: Host name.
            port (int): TCP port
                to connect to.
        """
        return {}

    assert probe.name == "probe"
    assert probe.description == "Probe a host."
    props = probe.input_schema["properties"]
    assert props["host"] == {"type": "string", "description": "Host name."}
    assert props["port"] == {"type": "integer", "description": "TCP port to connect to.", "default": 443}
    assert props["tls"] == {"type": "boolean", "default": True}
    assert props["ratio"] == {"anyOf": [{"type": "number"}, {"type": "null"}]}
    assert props["tags"] == {"type": "array", "items": {"type": "string"}, "default": []}
    assert props["mode"] == {"enum": ["fast", "full"], "type": "string", "default": "fast"}
    assert props["extra"] == {"type": "object", "additionalProperties": {"type": "integer"}, "default": {}}
    assert props["anything"] == {}
    assert props["timeout_s"] == {"type": "string", "default": "30"}  # type from the default
    assert probe.input_schema["required"] == ["host"]
    assert probe.input_schema["additionalProperties"] is False


def test_decorator_arguments_override() -> None:
    @sh.tool(name="renamed", description="Custom.", parameters=[{"name": "x", "description": "The x."}])
    def f(x: int) -> int:
        return x

    assert f.spec == {
        "name": "renamed",
        "description": "Custom.",
        "input_schema": {
            "type": "object",
            "properties": {"x": {"type": "integer", "description": "The x."}},
            "required": ["x"],
            "additionalProperties": False,
        },
    }
    assert f(3) == 3  # still the plain function


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


def test_conversion_of_string_arguments() -> None:
    seen: Dict[str, Any] = {}

    def typed(i: int, f: float, b: bool, items: List[int], opt: Optional[int] = None,
              lit: Literal[1, 2] = 1, color: Color = Color.RED, mapping: Optional[Dict[str, Any]] = None) -> str:
        seen.update(i=i, f=f, b=b, items=items, opt=opt, lit=lit, color=color, mapping=mapping)
        return "ok"

    tool = sh.Tool.from_function(typed)
    r = tool.call(i="42", f="2.5", b="false", items='["1", 2]', opt="7", lit="2", color="blue", mapping='{"a": 1}')
    assert (r.is_error, r.content) == (False, "ok")
    assert seen == {"i": 42, "f": 2.5, "b": False, "items": [1, 2], "opt": 7, "lit": 2,
                    "color": Color.BLUE, "mapping": {"a": 1}}
    r = tool.call(i=1, f=1, b=True, items=[], opt=None)
    assert not r.is_error and seen["opt"] is None and seen["f"] == 1.0


@pytest.mark.parametrize(
    "args, message",
    [
        ({"i": "forty", "b": True}, "ArgumentError: `i` must be int, got string 'forty'"),
        ({"i": 1.5, "b": True}, "ArgumentError: `i` must be int, got number 1.5"),
        ({"i": 1, "b": "maybe"}, "ArgumentError: `b` must be bool, got string 'maybe'"),
        ({"i": True, "b": True}, "ArgumentError: `i` must be int, got boolean true"),
        ({"b": True}, "ArgumentError: missing required argument `i`"),
        ({}, "ArgumentError: missing required arguments `i`, `b`"),
        ({"i": 1, "b": True, "z": 0}, "ArgumentError: unexpected argument `z` (parameters: `i`, `b`)"),
    ],
)
def test_wrong_missing_and_extra_arguments_are_model_visible(args: Dict[str, Any], message: str) -> None:
    tool = sh.Tool.from_function(lambda i, b: i, name="t", parameters=[{"name": "i", "type": "integer"}, {"name": "b", "type": "boolean"}])
    r = tool.call(args)
    assert r.is_error
    assert r.content == message


def test_var_kwargs_accept_extra_arguments() -> None:
    tool = sh.Tool.from_function(lambda a, **rest: {"a": a, **rest}, name="kw")
    assert "additionalProperties" not in tool.input_schema
    assert tool.call(a=1, b=2).json() == {"a": 1, "b": 2}


def test_return_values_are_serialised() -> None:
    import dataclasses

    @dataclasses.dataclass
    class Point:
        x: int
        y: int

    assert sh.Tool.from_function(lambda: None, name="n").call().content == "null"
    assert sh.Tool.from_function(lambda: "plain text", name="s").call().content == "plain text"
    assert sh.Tool.from_function(lambda: [1, "a", {"b": 2.5}], name="l").call().json() == [1, "a", {"b": 2.5}]
    assert sh.Tool.from_function(lambda: 3.25, name="f").call().content == "3.25"
    assert sh.Tool.from_function(lambda: Point(1, 2), name="d").call().json() == {"x": 1, "y": 2}
    assert sh.Tool.from_function(lambda: {"when": __import__("datetime").date(2026, 1, 2)}, name="dt").call().json() == {"when": "2026-01-02"}


def test_exception_becomes_error_result() -> None:
    def boom(path: str) -> None:
        raise FileNotFoundError(f"no such file: {path}")

    r = sh.Tool.from_function(boom).call(path="/x")
    assert r.is_error
    assert r.content == "FileNotFoundError: no such file: /x"


def test_sync_timeout() -> None:
    tool = sh.Tool.from_function(lambda: time.sleep(2), name="slow", timeout=0.2)
    start = time.monotonic()
    r = tool.call()
    elapsed = time.monotonic() - start
    assert r.is_error and r.content.startswith("TimeoutError: tool `slow` did not finish within 0.200 s")
    assert elapsed < 1.0


def test_async_tool_and_async_timeout() -> None:
    async def fetch(n: int) -> dict:
        await asyncio.sleep(0.01)
        return {"n": n * 2, "thread": threading.current_thread().name}

    assert sh.Tool.from_function(fetch).call(n="21").json()["n"] == 42

    async def hang() -> None:
        await asyncio.sleep(5)

    start = time.monotonic()
    r = sh.Tool.from_function(hang, timeout=0.2).call()
    assert r.is_error and "TimeoutError" in r.content and "0.200 s" in r.content
    assert time.monotonic() - start < 1.5


def test_from_source_errors() -> None:
    with pytest.raises(sh.ConfigError, match="syntax error at line 1"):
        sh.Tool.from_source(name="bad", description="d", code="def main(:\n  pass")
    with pytest.raises(sh.ConfigError, match="defines no function `main`"):
        sh.Tool.from_source(name="bad", description="d", code="x = 1")
    with pytest.raises(sh.ConfigError, match="loading the code raised ZeroDivisionError"):
        sh.Tool.from_source(name="bad", description="d", code="1/0")
    with pytest.raises(sh.ConfigError, match="unknown type 'str1ng'"):
        sh.Tool.from_source(name="bad", description="d", code="def main(a): pass", parameters=[{"name": "a", "type": "str1ng"}])
    with pytest.raises(sh.ConfigError, match="not a parameter of the function"):
        sh.Tool.from_source(name="bad", description="d", code="def main(a): pass", parameters=[{"name": "b"}])
    with pytest.raises(sh.ConfigError, match="tool name"):
        sh.Tool.from_function(lambda: 1, name="bad name")


def test_from_source_introspects_when_no_parameters_given() -> None:
    code = "def main(domain: str, retries: int = 2):\n    '''Resolve a domain.'''\n    return {'domain': domain, 'retries': retries}\n"
    tool = sh.Tool.from_source(name="resolve", description="Resolve.", code=code)
    assert tool.input_schema["properties"]["retries"] == {"type": "integer", "default": 2}
    assert tool.call(domain="a.example", retries="5").json() == {"domain": "a.example", "retries": 5}


def test_pydantic_models_when_installed() -> None:
    pydantic = pytest.importorskip("pydantic")

    class Target(pydantic.BaseModel):
        host: str
        port: int = 443

    def check(target: Target) -> dict:
        return {"host": target.host, "port": target.port}

    # This module uses `from __future__ import annotations`; a class local to the test
    # cannot be resolved from the string "Target", so give the real annotation.
    check.__annotations__["target"] = Target

    tool = sh.Tool.from_function(check)
    assert tool.input_schema["properties"]["target"]["properties"]["port"]["type"] == "integer"
    assert tool.call(target={"host": "h", "port": "8443"}).json() == {"host": "h", "port": 8443}
    assert tool.call(target={"port": 1}).is_error


def test_eight_sleeping_tools_overlap_in_one_turn(tmp_path) -> None:
    calls: List[float] = []

    @sh.tool
    def nap(i: int) -> dict:
        """Sleep 0.3 s (releases the GIL)."""
        t = time.monotonic()
        time.sleep(0.3)
        calls.append(t)
        return {"i": i}

    steps = "\n".join(f"      - tool: nap\n        args: {{i: {i}}}" for i in range(8))
    script = f"turns:\n  - tool_calls:\n{steps}\n  - final: done\n"
    agent = sh.Agent(script=script, tools=[nap], session_dir=tmp_path)
    start = time.monotonic()
    outcome = agent.run_sync("nap")
    wall = time.monotonic() - start
    assert outcome.answer == "done"
    assert len(calls) == 8
    print(f"8 x 0.3 s sleeping tools in one turn: {wall:.3f} s")
    assert wall < 1.5, wall


def test_async_tools_run_on_the_callers_event_loop(tmp_path) -> None:
    loops = []

    async def where() -> str:
        loops.append(asyncio.get_running_loop())
        await asyncio.sleep(0.05)
        return "here"

    script = "turns:\n  - tool_calls:\n      - tool: where\n      - tool: where\n  - final: ok\n"
    agent = sh.Agent(script=script, tools=[where], session_dir=tmp_path)

    async def main() -> None:
        outcome = await agent.run("where?")
        assert outcome.answer == "ok"
        assert loops == [asyncio.get_running_loop()] * 2

    asyncio.run(main())


def test_tools_run_on_python_daemon_threads_so_an_abandoned_call_cannot_abort_exit(tmp_path) -> None:
    # A call the harness stopped waiting for (cancelled run, timeout) may still be running
    # when the interpreter exits; on a thread Python made, CPython stops it cleanly there.
    seen: List[str] = []

    @sh.tool
    def where() -> str:
        t = threading.current_thread()
        seen.append(f"{t.name} daemon={t.daemon} dummy={isinstance(t, threading._DummyThread)}")
        return "here"

    script = "turns:\n  - tool_calls:\n      - tool: where\n  - final: ok\n"
    agent = sh.Agent(script=script, tools=[where], session_dir=tmp_path)
    assert agent.run_sync("where?").answer == "ok"
    assert seen == ["sre-harness-call daemon=True dummy=False"]
