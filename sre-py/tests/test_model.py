"""Models from Python: a Model implemented in Python driving the loop, explicitly
configured providers (OpenAI-compatible, Anthropic) against local servers speaking their
wire formats, the retry policy, and the cost cap."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

import sre_harness as sh


@sh.tool(description="Add two numbers.")
def add(a: int, b: int) -> dict:
    return {"sum": a + b}


class Calculator(sh.Model):
    """Asks for the tool once, then answers with what it returned."""

    name = "calculator-model"
    context_window = 32_000
    input_per_mtok = 2.0
    output_per_mtok = 8.0

    def __init__(self) -> None:
        self.requests: List[Dict[str, Any]] = []

    def complete(self, request: Dict[str, Any]) -> Dict[str, Any]:
        self.requests.append(request)
        last = request["messages"][-1]["content"]
        results = [b for b in last if b["type"] == "tool_result"]
        usage = {"input_tokens": 1000, "output_tokens": 100}
        if not results:
            call = {"type": "tool_use", "id": "c1", "name": "add", "input": {"a": 2, "b": 40}}
            return {"content": [{"type": "text", "text": "Adding."}, call], "usage": usage}
        return {"content": [{"type": "text", "text": f"The tool said {results[0]['content']}"}], "usage": usage}


def test_a_python_model_drives_a_full_loop_with_a_tool(tmp_path: Path) -> None:
    model = Calculator()
    agent = sh.Agent(model=model, system_prompt="You add numbers.", tools=[add], session_dir=tmp_path, name="calc")
    outcome = agent.run_sync("What is 2 + 40?")
    assert outcome.cause == "completed"
    assert outcome.answer == 'The tool said {"sum": 42}'
    # What the model was given: the system prompt, the tool's schema, the conversation.
    first, second = model.requests
    assert first["system"][0]["text"] == "You add numbers."
    assert [t["name"] for t in first["tools"]] == ["add"]
    assert first["messages"][0]["content"][0]["text"] == "What is 2 + 40?"
    assert second["messages"][-1]["content"][0]["tool_use_id"] == "c1"
    # The ledger counts its usage at its prices: 2 calls x (1000 in, 100 out).
    ledger = outcome.usage["agents"]["calc"]
    assert ledger["requests"] == 2
    assert ledger["usage"]["input_tokens"] == 2000 and ledger["usage"]["output_tokens"] == 200
    assert ledger["cost_usd"] == pytest.approx(2 * (1000 * 2.0 + 100 * 8.0) / 1e6)


def test_an_async_model_and_a_plain_string_answer(tmp_path: Path) -> None:
    class Echo(sh.Model):
        async def complete(self, request: Dict[str, Any]) -> str:
            await asyncio.sleep(0.01)
            return "echo: " + request["messages"][-1]["content"][0]["text"]

    outcome = asyncio.run(sh.Agent(model=Echo(), session_dir=tmp_path).run("hello"))
    assert outcome.answer == "echo: hello"


def test_a_model_that_fails_or_answers_nonsense_fails_the_run_with_a_clear_error(tmp_path: Path) -> None:
    class Broken(sh.Model):
        def complete(self, request: Dict[str, Any]) -> Any:
            raise RuntimeError("the client lost its connection")

    class Nonsense(sh.Model):
        def complete(self, request: Dict[str, Any]) -> Any:
            return 42

    with pytest.raises(sh.ModelError, match="RuntimeError: the client lost its connection"):
        sh.Agent(model=Broken(), session_dir=tmp_path / "a").run_sync("hi")
    with pytest.raises(sh.ModelError, match="must return a dict or a str"):
        sh.Agent(model=Nonsense(), session_dir=tmp_path / "b").run_sync("hi")


def test_a_python_models_provider_errors_are_retried_by_its_retry_policy(tmp_path: Path) -> None:
    class Flaky(sh.Model):
        retry = sh.RetryPolicy(max_attempts=3, initial_backoff=0.01, jitter=False)

        def __init__(self) -> None:
            self.calls = 0

        def complete(self, request: Dict[str, Any]) -> str:
            self.calls += 1
            if self.calls < 3:
                raise sh.ProviderError(503, "overloaded", retry_after=0.01)
            return "third time"

    model = Flaky()
    events: List[Dict[str, Any]] = []
    outcome = sh.Agent(model=model, session_dir=tmp_path / "a").run_sync("hi", on_event=events.append)
    assert outcome.answer == "third time" and model.calls == 3
    assert [e["kind"]["attempt"] for e in events if e["kind"]["type"] == "model_retry"] == [1, 2]
    # A status that is not retried fails at once.
    class Refused(sh.Model):
        retry = sh.RetryPolicy(max_attempts=3, initial_backoff=0.01)

        def complete(self, request: Dict[str, Any]) -> str:
            raise sh.ProviderError(400, "bad request")

    with pytest.raises(sh.ModelError, match="HTTP 400: bad request"):
        sh.Agent(model=Refused(), session_dir=tmp_path / "b").run_sync("hi")


def test_the_cost_cap_stops_the_run_and_says_what_was_spent(tmp_path: Path) -> None:
    agent = sh.Agent(model=Calculator(), tools=[add], session_dir=tmp_path / "a", cost_cap_tokens=500)
    outcome = agent.run_sync("What is 2 + 40?")
    assert outcome.cause == "cost_cap_reached", outcome.cause_detail
    assert outcome.turns == 1
    # In dollars: one call costs 1000 x $2 + 100 x $8 per million = $0.0028.
    agent = sh.Agent(model=Calculator(), tools=[add], session_dir=tmp_path / "b", cost_cap_usd=0.002)
    outcome = agent.run_sync("What is 2 + 40?")
    assert outcome.cause == "cost_cap_reached" and outcome.turns == 1, outcome.cause_detail
    assert outcome.usage["agents"]["agent"]["cost_usd"] == pytest.approx(0.0028)
    with pytest.raises(sh.ConfigError, match="cost_cap_usd must be a positive amount"):
        sh.Agent(model=Calculator(), cost_cap_usd=-1.0)
    with pytest.raises(sh.ConfigError, match="has no prices"):
        sh.Agent(model=sh.Model(), cost_cap_usd=1.0)
    for bad in (0, -1, True):
        with pytest.raises(sh.ConfigError, match="cost_cap_tokens must be an int from 1"):
            sh.Agent(model=Calculator(), cost_cap_tokens=bad)


def test_an_async_model_keeps_one_event_loop_across_calls(tmp_path: Path) -> None:
    class Stateful(sh.Model):
        def __init__(self) -> None:
            self.loops: List[int] = []

        async def complete(self, request: Dict[str, Any]) -> Dict[str, Any]:
            self.loops.append(id(asyncio.get_running_loop()))
            if len(self.loops) < 3:
                call = {"type": "tool_use", "id": f"c{len(self.loops)}", "name": "add", "input": {"a": 1, "b": 1}}
                return {"content": [call]}
            return {"content": [{"type": "text", "text": "ok"}]}

    model = Stateful()
    assert sh.Agent(model=model, tools=[add], session_dir=tmp_path / "a").run_sync("go").answer == "ok"
    assert len(model.loops) == 3 and len(set(model.loops)) == 1
    # Under asyncio, the application's own loop.
    model = Stateful()

    async def main() -> int:
        await sh.Agent(model=model, tools=[add], session_dir=tmp_path / "b").run("go")
        return id(asyncio.get_running_loop())

    app_loop = asyncio.run(main())
    assert len(model.loops) == 3 and set(model.loops) == {app_loop}


def test_answers_with_unknown_keys_or_impossible_counts_are_refused(tmp_path: Path) -> None:
    for answer, says in [
        ({"content": [], "usgae": {}}, "keys it should not: \\['usgae'\\]"),
        ({"content": [], "usage": {"input_tokens": 2**64}}, "usage.input_tokens"),
        ({"content": [], "usage": {"input_tokens": True}}, "usage.input_tokens"),
    ]:
        class Odd(sh.Model):
            def complete(self, request: Dict[str, Any], answer: Dict[str, Any] = answer) -> Dict[str, Any]:
                return answer

        with pytest.raises(sh.ModelError, match=says):
            sh.Agent(model=Odd(), session_dir=tmp_path / says[:5]).run_sync("hi")


def test_connection_errors_are_transport_errors_the_retry_layer_retries(tmp_path: Path) -> None:
    class Flaky(sh.Model):
        retry = sh.RetryPolicy(max_attempts=2, initial_backoff=0.01, jitter=False)
        calls = 0

        def complete(self, request: Dict[str, Any]) -> str:
            type(self).calls += 1
            if type(self).calls == 1:
                raise ConnectionResetError("peer reset")
            return "second try"

    assert sh.Agent(model=Flaky(), session_dir=tmp_path).run_sync("hi").answer == "second try"


def test_bad_model_choices_are_config_errors() -> None:
    with pytest.raises(sh.ConfigError, match="model must be 'env', a provider"):
        sh.Agent(model="gpt-4.1")  # type: ignore[arg-type]
    with pytest.raises(sh.ConfigError, match="exactly one model source"):
        sh.Agent(model=Calculator(), script="turns: []")
    with pytest.raises(sh.ConfigError, match="RetryPolicy: max_attempts must be an int from 1 to 100"):
        sh.RetryPolicy(max_attempts=0)
    with pytest.raises(sh.ConfigError, match="RetryPolicy: initial_backoff must be a positive number"):
        sh.RetryPolicy(initial_backoff=float("nan"))
    with pytest.raises(sh.ConfigError, match="retry must be an sre_harness.RetryPolicy"):
        sh.Agent(model=sh.OpenAI("gpt-4.1", retry={"max_attempts": 2}))  # type: ignore[arg-type]
    with pytest.raises(sh.ConfigError, match="timeout must be a positive number of seconds"):
        sh.Agent(model=sh.OpenAI("gpt-4.1", timeout=-1))

    class NoWindow(sh.Model):
        context_window = 0

    with pytest.raises(sh.ConfigError, match="context_window must be a positive int"):
        sh.Agent(model=NoWindow())


# -- explicit providers against local servers speaking their wire formats ----------------


class Provider:
    """A local HTTP server answering a script of (status, headers, body) in order, and
    keeping each request (path, headers, JSON body)."""

    def __init__(self, answers: List[Tuple[int, Dict[str, str], Dict[str, Any]]]) -> None:
        self.answers = list(answers)
        self.seen: List[Tuple[str, Dict[str, str], Dict[str, Any]]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                owner.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                status, headers, answer = owner.answers.pop(0)
                data = json.dumps(answer).encode()
                self.send_response(status)
                for k, v in {"content-type": "application/json", **headers}.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: List[Provider] = []

    def start(answers: List[Tuple[int, Dict[str, str], Dict[str, Any]]]) -> Provider:
        servers.append(Provider(answers))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def chat(text: str) -> Dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "gpt-4.1",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 50, "completion_tokens": 5, "total_tokens": 55,
                      "prompt_tokens_details": {"cached_tokens": 20}}}


RATE_LIMITED = (429, {"retry-after": "0"}, {"error": {"message": "Rate limit reached", "type": "requests",
                                                       "param": None, "code": "rate_limit_exceeded"}})


def test_an_openai_provider_with_its_key_headers_and_retry_policy(tmp_path: Path, serve: Any) -> None:
    server = serve([RATE_LIMITED, (200, {}, chat("all good"))])
    model = sh.OpenAI("gpt-4.1", api_key="sk-test", base_url=server.url + "/v1",
                      headers={"OpenAI-Organization": "org-1"},
                      retry=sh.RetryPolicy(max_attempts=3, initial_backoff=0.01, max_elapsed=10, jitter=False))
    events: List[Dict[str, Any]] = []
    outcome = sh.Agent(model=model, session_dir=tmp_path).run_sync("status?", on_event=events.append)
    assert outcome.answer == "all good"
    assert [e["kind"]["attempt"] for e in events if e["kind"]["type"] == "model_retry"] == [1]
    path, headers, body = server.seen[-1]
    assert path == "/v1/chat/completions"
    assert headers["authorization"] == "Bearer sk-test" and headers["openai-organization"] == "org-1"
    assert body["model"] == "gpt-4.1" and body["messages"][-1] == {"role": "user", "content": "status?"}
    usage = outcome.usage["agents"]["agent"]["usage"]
    assert (usage["input_tokens"], usage["cache_read_tokens"], usage["output_tokens"]) == (30, 20, 5)


def test_without_retries_a_rate_limit_fails_the_run(tmp_path: Path, serve: Any) -> None:
    server = serve([RATE_LIMITED])
    model = sh.OpenAI("gpt-4.1", base_url=server.url + "/v1", retry=None)
    with pytest.raises(sh.ModelError, match="HTTP 429"):
        sh.Agent(model=model, session_dir=tmp_path).run_sync("status?")
    assert len(server.seen) == 1


def test_an_anthropic_provider_speaks_the_messages_api(tmp_path: Path, serve: Any) -> None:
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
               "content": [{"type": "text", "text": "from claude"}], "stop_reason": "end_turn",
               "usage": {"input_tokens": 12, "output_tokens": 3}}
    server = serve([(200, {}, message)])
    model = sh.Anthropic("claude-sonnet-4-5", api_key="sk-ant-test", base_url=server.url)
    outcome = sh.Agent(model=model, system_prompt="Be brief.", session_dir=tmp_path).run_sync("hi")
    assert outcome.answer == "from claude"
    path, headers, body = server.seen[0]
    assert path == "/v1/messages" and headers["x-api-key"] == "sk-ant-test"
    assert body["model"] == "claude-sonnet-4-5" and "Be brief." in json.dumps(body["system"])


def test_a_loaded_home_runs_on_a_python_model(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "agents").mkdir(parents=True)
    (home / "agents" / "a.yaml").write_text(
        "api_version: azuresre.ai/v2\nkind: ExtendedAgent\nspec:\n  name: a\n  system_prompt: You answer.\n  tools: []\n"
    )

    class Fixed(sh.Model):
        def complete(self, request: Dict[str, Any]) -> str:
            return "answered by " + request["agent"]

    team = sh.load(home, model=Fixed(), workspace=tmp_path / "ws")
    assert team["a"].run_sync("go").answer == "answered by a"


def test_an_azure_deployment_honours_its_timeout(tmp_path: Path) -> None:
    import socket
    import time

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts, never answers
    try:
        model = sh.AzureOpenAI(f"http://127.0.0.1:{silent.getsockname()[1]}", "prod", api_key="k",
                               api_version="2024-10-21", timeout=0.5, retry=None)
        started = time.monotonic()
        with pytest.raises(sh.ModelError, match="timed out"):
            sh.Agent(model=model, session_dir=tmp_path).run_sync("hi")
        assert time.monotonic() - started < 10
        with pytest.raises(sh.ConfigError, match="timeout must be a positive number of seconds"):
            sh.Agent(model=sh.AzureOpenAI("http://127.0.0.1:1", "prod", api_key="k", timeout=-1))
    finally:
        silent.close()


def test_arguments_of_the_wrong_kind_are_config_errors_that_name_them() -> None:
    class Unnamed(sh.Model):
        name = None  # type: ignore[assignment]

    class PricedInText(sh.Model):
        input_per_mtok = "2"  # type: ignore[assignment]

    script = "turns:\n  - final: x\n"
    cases: List[Tuple[Dict[str, Any], str]] = [
        ({"cost_cap_tokens": 10**30}, "cost_cap_tokens must be an int from 1"),
        ({"subagents": 2**40}, "subagents must be an int from 1"),
        ({"max_turns": -1}, "max_turns must be an int from 1"),
        ({"cost_cap_usd": "1"}, "cost_cap_usd must be a number"),
        ({"memory": "mem/"}, "memory must be an sre_harness.Memory"),
        ({"offload": "yes"}, "offload must be True or False"),
        ({"repositories": [("x", "/tmp")]}, "repositories must map names to folders"),
        ({"layers": 5}, "layers must be a list"),
        ({"mcp": [1, 2]}, "mcp must be a configuration dict or a file path"),
        ({"mcp": {"connectors": [object()]}}, "mcp: the configuration must hold only JSON values"),
    ]
    for kwargs, says in cases:
        with pytest.raises(sh.ConfigError, match=says):
            sh.Agent(script=script, **kwargs)
    with pytest.raises(sh.ConfigError, match="Model.name must be a str"):
        sh.Agent(model=Unnamed())
    with pytest.raises(sh.ConfigError, match="Model.input_per_mtok must be a price"):
        sh.Agent(model=PricedInText())
    with pytest.raises(sh.ConfigError, match="headers must map names to values"):
        sh.Agent(model=sh.OpenAI("gpt-4.1", headers=[("a", "b")]))  # type: ignore[arg-type]
    with pytest.raises(sh.ConfigError, match="Memory: give the folder"):
        sh.Memory("")
