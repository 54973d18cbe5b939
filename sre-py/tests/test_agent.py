"""Agents from Python: hooks, events, run/stream/run_sync, cancellation, errors."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest

import sre_harness as sh

SHELL_SCRIPT = """
turns:
  - tool_calls:
      - tool: shell
        args: {command: "rm -rf important"}
      - tool: shell
        args: {command: "echo hello-from-shell"}
  - expect:
      last_message_contains: ["destructive commands need a change ticket", "hello-from-shell"]
    final: "Refused the rm; echoed."
"""


def test_python_hook_blocks_a_shell_command(tmp_path: Path) -> None:
    (tmp_path / "ws" / "important").mkdir(parents=True)
    contexts: List[Dict[str, Any]] = []

    @sh.hook("PreToolUse", matcher="shell|Bash")
    def no_rm(ctx: Dict[str, Any]) -> Any:
        contexts.append(ctx)
        if ctx["tool_input"]["command"].startswith("rm "):
            return {"decision": "block", "reason": "destructive commands need a change ticket"}
        return None

    agent = sh.Agent(script=SHELL_SCRIPT, workspace=tmp_path / "ws", hooks=[no_rm], session_dir=tmp_path / "s")
    events: List[Dict[str, Any]] = []
    outcome = agent.run_sync("clean up", on_event=events.append)
    assert outcome.cause == "completed", outcome
    assert (tmp_path / "ws" / "important").is_dir()  # the rm never ran
    # The two calls of the turn run concurrently: the hook sees them in either order.
    assert sorted(c["tool_input"]["command"] for c in contexts) == ["echo hello-from-shell", "rm -rf important"]
    ctx = next(c for c in contexts if c["tool_input"]["command"].startswith("rm "))
    assert ctx["hook_event_name"] == "PreToolUse" and ctx["tool_name"] == "shell"
    assert ctx["session_id"] == outcome.session_id and ctx["agent_name"] == "agent"
    assert ctx["cwd"] == str((tmp_path / "ws").resolve())
    refused = [e["kind"] for e in events if e["kind"]["type"] == "tool_refused"]
    assert refused and "destructive commands need a change ticket" in refused[0]["reason"]
    finished = [e["kind"] for e in events if e["kind"]["type"] == "tool_finished"]
    assert len(finished) == 1 and "hello-from-shell" in finished[0]["output"]


def test_hook_specific_output_async_hooks_and_failures(tmp_path: Path) -> None:
    async def deny(ctx: Dict[str, Any]) -> Dict[str, Any]:
        await asyncio.sleep(0.01)
        return {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny",
                                       "permissionDecisionReason": "echo is denied"}}

    def broken(ctx: Dict[str, Any]) -> None:
        raise RuntimeError("hook bug")

    def context_adder(ctx: Dict[str, Any]) -> Dict[str, Any]:
        return {"hookSpecificOutput": {"hookEventName": "UserPromptSubmit", "additionalContext": "Remember: prod is frozen."}}

    @sh.tool
    def echo(text: str) -> str:
        return text

    script = """
turns:
  - expect: {prompt_contains: ["Remember: prod is frozen."]}
    tool_calls:
      - tool: echo
        args: {text: hi}
  - expect: {last_message_contains: ["echo is denied"]}
    final: denied
"""
    hooks = [
        sh.Hook(broken, event="PreToolUse", name="broken"),
        sh.Hook(deny, event="PreToolUse", matcher="echo", name="deny-echo"),
        sh.Hook(context_adder, event="UserPromptSubmit"),
    ]
    agent = sh.Agent(script=script, tools=[echo], hooks=hooks, session_dir=tmp_path)
    events: List[Dict[str, Any]] = []
    outcome = agent.run_sync("go", on_event=events.append)
    assert outcome.answer == "denied"
    failed = [e["kind"] for e in events if e["kind"]["type"] == "hook_failed"]
    assert failed and failed[0]["hook"] == "broken" and "RuntimeError: hook bug" in failed[0]["error"]

    # Fail closed: the failure blocks the call.
    script2 = "turns:\n  - tool_calls:\n      - tool: echo\n        args: {text: hi}\n  - expect: {last_message_contains: ['failMode: block']}\n    final: blocked\n"
    agent2 = sh.Agent(script=script2, tools=[echo], session_dir=tmp_path,
                      hooks=[sh.Hook(broken, event="PreToolUse", fail_closed=True)])
    assert agent2.run_sync("go").answer == "blocked"


def test_stop_hook_rejects_once(tmp_path: Path) -> None:
    calls = []

    @sh.hook("Stop")
    def cite(ctx: Dict[str, Any]) -> Any:
        calls.append(ctx)
        if "%" not in (ctx.get("final_output") or ctx.get("last_assistant_message") or ""):
            return {"decision": "block", "reason": "cite a number"}
        return None

    script = "turns:\n  - final: it is slow\n  - expect: {last_message_contains: [cite a number]}\n    final: 42% of requests time out\n"
    outcome = sh.Agent(script=script, hooks=[cite], session_dir=tmp_path).run_sync("why?")
    assert outcome.cause == "completed"
    assert outcome.answer == "42% of requests time out"
    assert outcome.stop_rejections == ["cite a number"]


def test_events_stream_in_order_as_they_happen(tmp_path: Path) -> None:
    tool_done_at: List[float] = []

    @sh.tool
    def slow_check() -> dict:
        time.sleep(0.4)
        tool_done_at.append(time.monotonic())
        return {"ok": True}

    script = "turns:\n  - say: Looking.\n    tool_calls:\n      - tool: slow_check\n  - final: all good\n"
    agent = sh.Agent(script=script, tools=[slow_check], session_dir=tmp_path)

    async def main() -> None:
        received = []
        stream = agent.stream("check")
        async for event in stream:
            received.append((time.monotonic(), event))
        types = [e["kind"]["type"] for _, e in received]
        assert types == [
            "session_started", "turn_started", "model_request", "model_response",
            "tool_started", "tool_finished",
            "turn_started", "model_request", "model_response", "finished",
        ]
        assert all(e["session_id"] == stream.session_id and e["agent"] == "agent" for _, e in received)
        started_at = next(t for t, e in received if e["kind"]["type"] == "tool_started")
        assert started_at < tool_done_at[0]  # delivered while the tool was still running
        assert stream.outcome is not None and stream.outcome.answer == "all good"
        assert received[-1][1]["kind"] == {"type": "finished", "cause": {"cause": "completed"}, "answer": "all good"}

    asyncio.run(main())


def test_outcome_usage_and_transcript(tmp_path: Path) -> None:
    outcome = sh.Agent(script="turns:\n  - final: fine\n", session_dir=tmp_path, name="inv").run_sync("ok?", session_id="s-1")
    assert outcome.session_id == "s-1" and outcome.turns == 1
    assert outcome.usage["agents"]["inv"]["requests"] == 1
    assert outcome.usage["agents"]["inv"]["usage"]["input_tokens"] > 0
    path = Path(outcome.transcript_path or "")
    assert path.parent == tmp_path and path.exists()
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    assert len(lines) >= 2


def test_run_sync_from_a_plain_script(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import sre_harness as sh

        @sh.tool(description="Count the words of a text.")
        def words(text: str) -> dict:
            return {"words": len(text.split())}

        script = '''
        turns:
          - tool_calls:
              - tool: words
                args: {text: "one two three"}
          - expect: {last_message_contains: ['"words": 3']}
            final: three words
        '''
        agent = sh.Agent(script=script, tools=[words])
        print(agent.run_sync("count").answer)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "three words"


def _sleepy_agent(tmp_path: Path) -> sh.Agent:
    @sh.tool(timeout=60)
    def sleepy() -> str:
        time.sleep(10)
        return "woke"

    script = "turns:\n  - tool_calls:\n      - tool: sleepy\n  - final: never\n"
    return sh.Agent(script=script, tools=[sleepy], session_dir=tmp_path)


def test_cancelling_the_asyncio_task_cancels_the_run(tmp_path: Path) -> None:
    agent = _sleepy_agent(tmp_path)

    async def main() -> None:
        started = asyncio.Event()
        events: List[str] = []

        def on_event(e: Dict[str, Any]) -> None:
            events.append(e["kind"]["type"])
            if e["kind"]["type"] == "tool_started":
                started.set()

        task = asyncio.create_task(agent.run("sleep", session_id="c-1", on_event=on_event))
        await asyncio.wait_for(started.wait(), 10)
        t0 = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.monotonic() - t0 < 2.0
        assert "finished" not in events

    asyncio.run(main())
    assert (tmp_path / "c-1.jsonl").exists()


def test_keyboard_interrupt_during_run_sync_cancels(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import sys, time
        import sre_harness as sh

        @sh.tool(timeout=60)
        def sleepy() -> str:
            time.sleep(10)
            return "woke"

        def on_event(e):
            if e["kind"]["type"] == "tool_started":
                print("STARTED", flush=True)

        agent = sh.Agent(script="turns:\\n  - tool_calls:\\n      - tool: sleepy\\n  - final: never\\n", tools=[sleepy])
        t0 = time.monotonic()
        try:
            agent.run_sync("sleep", on_event=on_event)
            print("NOT INTERRUPTED", flush=True)
        except KeyboardInterrupt:
            print(f"INTERRUPTED {time.monotonic() - t0:.2f}", flush=True)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "STARTED", proc.stderr.read() if proc.stderr else ""
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=30)
        assert rest.startswith("INTERRUPTED"), (rest, err)
        assert time.monotonic() - t0 < 8.0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_breaking_out_of_a_stream_and_cancel(tmp_path: Path) -> None:
    agent = _sleepy_agent(tmp_path)

    async def main() -> None:
        async with agent.stream("sleep") as stream:
            async for event in stream:
                if event["kind"]["type"] == "tool_started":
                    break
        t0 = time.monotonic()
        await stream.cancel()
        assert time.monotonic() - t0 < 2.0

    asyncio.run(main())


def test_configuration_errors() -> None:
    with pytest.raises(sh.ConfigError, match="exactly one model source"):
        sh.Agent()
    with pytest.raises(sh.ConfigError):
        sh.Agent(script="turns: [[[")
    with pytest.raises(sh.ConfigError, match="workspace"):
        sh.Agent(script="turns: []", workspace="/definitely/not/here")
    with pytest.raises(sh.ConfigError, match="two tools are named"):
        sh.Agent(script="turns: []", tools=[sh.Tool.from_function(lambda: 1, name="a"), sh.Tool.from_function(lambda: 2, name="a")])
    with pytest.raises(sh.ConfigError, match="unknown hook event"):
        sh.Hook(lambda c: None, event="BeforeTool")
    with pytest.raises(sh.ConfigError, match="matcher"):
        sh.Agent(script="turns: []", hooks=[sh.Hook(lambda c: None, matcher="(")])
    assert issubclass(sh.ConfigError, sh.SreHarnessError)
    assert issubclass(sh.Cancelled, sh.SreHarnessError)
    assert sh.ConfigError.__module__ == "sre_harness"


def test_model_from_env_without_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL", "SRE_MODEL"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(sh.ConfigError, match="no model provider"):
        sh.Agent(model="env")


def test_model_error_is_raised(tmp_path: Path) -> None:
    agent = sh.Agent(script="turns:\n  - say: thinking\n    tool_calls:\n      - tool: nothing\n", session_dir=tmp_path)
    with pytest.raises(sh.ModelError, match="scripted model"):
        agent.run_sync("go")

    async def main() -> None:
        with pytest.raises(sh.ModelError):
            await agent.run("again")

    asyncio.run(main())


def test_script_path_and_session_continuation(tmp_path: Path) -> None:
    path = tmp_path / "script.yaml"
    path.write_text("turns:\n  - final: first\n  - expect: {prompt_contains: [first question]}\n    final: second\n")
    agent = sh.Agent(script_path=path, session_dir=tmp_path / "s")
    assert agent.run_sync("first question", session_id="conv").answer == "first"
    assert agent.run_sync("second question", session_id="conv").answer == "second"


def test_an_exception_in_on_event_cancels_the_run(tmp_path: Path) -> None:
    agent = _sleepy_agent(tmp_path)

    def on_event(e: Dict[str, Any]) -> None:
        if e["kind"]["type"] == "tool_started":
            raise ValueError("stop here")

    async def main() -> None:
        t0 = time.monotonic()
        with pytest.raises(ValueError, match="stop here"):
            await agent.run("sleep", on_event=on_event)
        assert time.monotonic() - t0 < 3.0

    asyncio.run(main())
    agent = _sleepy_agent(tmp_path)  # a fresh script
    t0 = time.monotonic()
    with pytest.raises(ValueError, match="stop here"):
        agent.run_sync("sleep again", on_event=on_event)
    assert time.monotonic() - t0 < 3.0


def test_model_from_env_against_a_local_openai_compatible_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import http.server
    import threading

    requests: List[Dict[str, Any]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
            if any(m.get("role") == "tool" for m in body["messages"]):
                result = next(m for m in body["messages"] if m.get("role") == "tool")["content"]
                message = {"role": "assistant", "content": f"The tool said {result}"}
                finish = "stop"
            else:
                message = {"role": "assistant", "content": None, "tool_calls": [{
                    "id": "call_1", "type": "function",
                    "function": {"name": "double", "arguments": json.dumps({"n": "21"})}}]}
                finish = "tool_calls"
            out = json.dumps({"id": "x", "object": "chat.completion", "model": body["model"],
                              "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                              "usage": {"prompt_tokens": 50, "completion_tokens": 5, "total_tokens": 55}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
        monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{server.server_address[1]}/v1")
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        monkeypatch.setenv("SRE_MODEL", "local-test-model")

        @sh.tool
        def double(n: int) -> dict:
            """Double a number."""
            return {"doubled": n * 2}

        agent = sh.Agent(model="env", tools=[double], system_prompt="Be brief.", session_dir=tmp_path)
        outcome = agent.run_sync("double 21")
        assert outcome.answer == 'The tool said {"doubled": 42}'
        assert outcome.usage["agents"]["agent"]["requests"] == 2
        first = requests[0]
        assert first["path"] == "/v1/chat/completions"
        assert first["auth"] == "Bearer test-key"
        assert first["body"]["model"] == "local-test-model"
        fn = first["body"]["tools"][0]["function"]
        assert fn["name"] == "double" and fn["description"] == "Double a number."
        assert fn["parameters"]["properties"]["n"] == {"type": "integer"}
    finally:
        server.shutdown()
        server.server_close()


def test_workspace_mounts_and_tools(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "logs").mkdir(parents=True)
    (ws / "logs" / "app.log").write_text("INFO ok\nERROR PoolTimeoutError: pool exhausted\n")
    script = """
turns:
  - tool_calls:
      - tool: grep
        args: {pattern: PoolTimeoutError}
      - tool: write_file
        args: {path: scratch/report.md, content: "pool exhausted"}
      - tool: write_file
        args: {path: logs/app.log, content: "tampered"}
  - expect: {last_message_contains: [PoolTimeoutError]}
    final: "The pool is exhausted."
"""
    agent = sh.Agent(script=script, workspace=ws, mounts={"scratch": "rw"}, session_dir=tmp_path / "s")
    names = [s["name"] for s in agent.tool_specs]
    assert {"read_file", "grep", "shell", "write_file"} <= set(names)
    events: List[Dict[str, Any]] = []
    outcome = agent.run_sync("why?", on_event=events.append)
    assert outcome.answer == "The pool is exhausted."
    assert (ws / "scratch" / "report.md").read_text() == "pool exhausted"
    assert "tampered" not in (ws / "logs" / "app.log").read_text()  # read-only outside the mount
    finished = [e["kind"] for e in events if e["kind"]["type"] == "tool_finished"]
    assert [f["is_error"] for f in finished].count(True) == 1

    no_ws_tools = sh.Agent(script="turns: []", workspace=ws, workspace_tools=False)
    assert no_ws_tools.tool_specs == []
    with pytest.raises(sh.ConfigError, match="mounts need a workspace"):
        sh.Agent(script="turns: []", mounts={"scratch": "rw"})


def test_ask_decisions_go_to_the_python_approver(tmp_path: Path) -> None:
    asked: List[Any] = []

    @sh.tool
    def restart(service: str) -> str:
        return f"restarted {service}"

    @sh.hook("PreToolUse", matcher="restart")
    def ask(ctx: Dict[str, Any]) -> Dict[str, Any]:
        return {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "ask",
                                       "permissionDecisionReason": f"restart {ctx['tool_input']['service']}?"}}

    def approve(ctx: Dict[str, Any], reason: str) -> bool:
        asked.append((ctx["tool_input"]["service"], reason))
        return bool(ctx["tool_input"]["service"] == "cache")

    script = """
turns:
  - tool_calls:
      - tool: restart
        args: {service: cache}
      - tool: restart
        args: {service: database}
  - expect: {last_message_contains: [restarted cache]}
    final: done
"""
    events: List[Dict[str, Any]] = []
    agent = sh.Agent(script=script, tools=[restart], hooks=[ask], approver=approve, session_dir=tmp_path)
    assert agent.run_sync("restart", on_event=events.append).answer == "done"
    assert sorted(asked) == [("cache", "restart cache?"), ("database", "restart database?")]
    ran = [e["kind"]["input"]["service"] for e in events if e["kind"]["type"] == "tool_started"]
    assert ran == ["cache"]


def test_streaming_text_deltas_and_default_session_dir() -> None:
    import tempfile

    agent = sh.Agent(script="turns:\n  - final: hello world\n", streaming=True)
    events: List[Dict[str, Any]] = []
    outcome = agent.run_sync("hi", on_event=events.append)
    deltas = "".join(e["kind"]["text"] for e in events if e["kind"]["type"] == "text_delta")
    assert deltas == "hello world" == outcome.answer
    assert agent.session_dir.startswith(tempfile.gettempdir())
    assert outcome.transcript_path and Path(outcome.transcript_path).parent == Path(agent.session_dir)


def test_stream_sync_generator_returns_the_outcome(tmp_path: Path) -> None:
    agent = sh.Agent(script="turns:\n  - final: done\n", session_dir=tmp_path)
    gen = agent.stream_sync("go")
    types = []
    while True:
        try:
            types.append(next(gen)["kind"]["type"])
        except StopIteration as stop:
            outcome = stop.value
            break
    assert types[0] == "session_started" and types[-1] == "finished"
    assert outcome.answer == "done"


def test_resume_after_a_crash(tmp_path: Path) -> None:
    script = "turns:\n  - tool_calls:\n      - tool: sleepy\n  - final: resumed fine\n"
    (tmp_path / "script.yaml").write_text(script)
    code = textwrap.dedent(
        f"""
        import time
        import sre_harness as sh

        @sh.tool(timeout=60)
        def sleepy() -> str:
            time.sleep(30)
            return "woke"

        def on_event(e):
            if e["kind"]["type"] == "tool_started":
                print("STARTED", flush=True)

        agent = sh.Agent(script_path={str(tmp_path / "script.yaml")!r}, tools=[sleepy], session_dir={str(tmp_path / "s")!r})
        agent.run_sync("sleep", session_id="crashy", on_event=on_event)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "STARTED"
        proc.kill()  # SIGKILL: no clean shutdown
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()

    @sh.tool(name="sleepy")
    def fast() -> str:
        return "woke quickly"

    agent = sh.Agent(script_path=tmp_path / "script.yaml", tools=[fast], session_dir=tmp_path / "s")
    with pytest.raises(sh.SessionError, match="unfinished run"):
        agent.run_sync("new task", session_id="crashy")
    outcome = agent.resume_sync("crashy")
    assert outcome.answer == "resumed fine"
    assert outcome.session_id == "crashy"


def test_configured_command_hooks_run_before_python_hooks(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    config = tmp_path / "settings.json"
    command = (
        "grep -q 'rm -rf' && echo '{\"decision\": \"block\", \"reason\": \"blocked by the settings hook\"}' || true"
    )
    config.write_text(json.dumps({"hooks": {"PreToolUse": [{"matcher": "shell", "hooks": [{"type": "command", "command": command}]}]}}))
    seen: List[str] = []

    @sh.hook("PreToolUse", matcher="shell")
    def python_side(ctx: Dict[str, Any]) -> None:
        seen.append(ctx["tool_input"]["command"])

    script = """
turns:
  - tool_calls:
      - tool: shell
        args: {command: "rm -rf important"}
  - expect: {last_message_contains: ["blocked by the settings hook"]}
    final: refused
"""
    agent = sh.Agent(script=script, workspace=tmp_path / "ws", hook_config=config, hooks=[python_side], session_dir=tmp_path / "s")
    assert agent.run_sync("clean").answer == "refused"
    assert seen == ["rm -rf important"]  # both ran; the block wins

    with pytest.raises(sh.ConfigError, match="hook config"):
        sh.Agent(script="turns: []", hook_config=tmp_path / "missing.yaml")


def _threads_named(prefix: str) -> int:
    """Threads of this process whose kernel name starts with `prefix` (Linux)."""
    count = 0
    for task in Path("/proc/self/task").iterdir():
        try:
            if (task / "comm").read_text().strip().startswith(prefix):
                count += 1
        except OSError:
            pass
    return count


def test_runs_share_one_waker_thread_and_lose_no_event(tmp_path: Path) -> None:
    # Before: every asyncio run started an OS thread of its own to wake its loop.
    script = "turns:\n  - tool_calls:\n      - {tool: shell, args: {command: 'echo one'}}\n  - final: done\n"
    (tmp_path / "ws").mkdir()
    # An agent each: a scripted model serves one conversation from the start.
    agents = [sh.Agent(script=script, session_dir=tmp_path, workspace=tmp_path / "ws") for _ in range(12)]
    peak = 0

    async def one(n: int) -> List[str]:
        nonlocal peak
        kinds = []
        async for event in agents[n].stream("go", session_id=f"w-{n}"):
            kinds.append(event["kind"]["type"])
            peak = max(peak, _threads_named("sre-harness-wak"))
        return kinds

    async def main() -> None:
        results = await asyncio.gather(*(one(n) for n in range(12)))
        for kinds in results:
            assert kinds[0] == "session_started" and kinds[-1] == "finished", kinds
            assert kinds.count("tool_finished") == 1, kinds

    asyncio.run(main())
    assert peak == 1, f"{peak} waker threads for 12 concurrent runs"


def test_temporary_folders_go_with_their_last_holder() -> None:
    import gc

    agent = sh.Agent(script="turns:\n  - final: fine\n")
    folder = Path(agent.session_dir)
    assert agent.run_sync("ok?").answer == "fine"
    assert folder.is_dir() and any(folder.iterdir())
    del agent
    gc.collect()
    assert not folder.exists(), "the temporary transcripts folder was left behind"


def test_the_benchmark_helper_is_not_public_api() -> None:
    from sre_harness import _native

    assert not hasattr(_native, "bench_tool") and hasattr(_native, "_bench_tool")
    assert "bench" not in " ".join(sh.__all__)


def _many_calls_script(calls: int) -> str:
    lines = ["turns:", "  - tool_calls:"]
    lines += ["      - {tool: list, args: {path: '.'}}"] * calls
    lines += ["  - final: listed"]
    return "\n".join(lines) + "\n"


def test_a_reader_that_falls_behind_holds_the_run_back_and_loses_nothing(tmp_path: Path) -> None:
    # 600 calls make over 1,200 events: more than the queue holds (1,024).
    (tmp_path / "ws").mkdir()
    agent = sh.Agent(script=_many_calls_script(600), session_dir=tmp_path, workspace=tmp_path / "ws")
    handle = agent._native.start("list", "bp-1", None, False)
    # Nobody reads: the queue fills, then the run waits (however slow the machine).
    deadline = time.monotonic() + 60
    while handle._queued() < 1024 and not handle.done() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    assert not handle.done(), "the run went on with nobody reading its events"
    assert handle._queued() == 1024, handle._queued()
    first = handle.drain_events()
    assert len(first) == 1024, len(first)
    events = [json.loads(t) for t in first]
    deadline = time.monotonic() + 60
    while not handle.done() and time.monotonic() < deadline:
        handle.wait(0.1)
        events += [json.loads(t) for t in handle.drain_events()]
    events += [json.loads(t) for t in handle.drain_events()]
    assert handle.done()
    kinds = [e["kind"]["type"] for e in events]
    assert kinds.count("tool_finished") == 600 and kinds[-1] == "finished", kinds[-3:]
    assert kinds[0] == "session_started"


def test_a_dropped_handle_does_not_leave_its_run_waiting(tmp_path: Path) -> None:
    import gc

    (tmp_path / "ws").mkdir()
    agent = sh.Agent(script=_many_calls_script(600), session_dir=tmp_path, workspace=tmp_path / "ws")
    handle = agent._native.start("list", "bp-2", None, False)
    time.sleep(0.5)
    del handle
    gc.collect()
    # The run finishes on its own: its transcript ends with the answer.
    transcript = tmp_path / "bp-2.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if transcript.exists() and '"record":"finished"' in transcript.read_text():
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the run stayed waiting for a reader that was gone")


def test_a_run_keeps_its_temporary_folder_until_it_ends(tmp_path: Path) -> None:
    import gc

    (tmp_path / "ws").mkdir()
    agent = sh.Agent(script=_many_calls_script(600), workspace=tmp_path / "ws")
    folder = Path(agent.session_dir)
    handle = agent._native.start("list", "k-1", None, False, agent._scratch)
    del agent  # the run, held back by its full queue, still writes its transcript there
    gc.collect()
    time.sleep(0.3)
    assert folder.is_dir(), "the transcripts folder went while its run was going on"
    deadline = time.monotonic() + 60
    while not handle.done() and time.monotonic() < deadline:
        handle.wait(0.1)
        handle.drain_events()
    # It completed: every transcript write found its folder.
    assert handle.done() and '"completed"' in handle.result(), handle.result()
    del handle
    # Then it goes (the run's hold is let go as the run ends).
    deadline = time.monotonic() + 10
    while folder.exists() and time.monotonic() < deadline:
        gc.collect()
        time.sleep(0.1)
    assert not folder.exists(), "the transcripts folder was left behind"
