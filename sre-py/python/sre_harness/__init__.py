"""sre_harness: embeddable LLM SRE agents (Rust core) with Python tools and hooks.

    import sre_harness as sh

    @sh.tool(description="Days until the TLS certificate of a host expires.")
    def check_cert(domain: str, port: int = 443) -> dict: ...

    agent = sh.Agent(model="env", system_prompt="You are an SRE agent.", tools=[check_cert])
    outcome = agent.run_sync("Is example.com's certificate about to expire?")
    print(outcome.answer)

    team = sh.load("examples/team", model="env")   # agents declared in files
    print(team["tls-monitor"].run_sync("Audit api.example.com").answer)
"""

from ._native import (
    Cancelled,
    ConfigError,
    HookError,
    ModelError,
    SessionError,
    SreHarnessError,
    ToolError,
    __version__,
)
from ._agent import Agent, Outcome, RunStream
from ._hooks import Approver, Hook, hook
from ._home import Home, load
from ._model import Anthropic, AzureOpenAI, Model, OpenAI, ProviderError, RetryPolicy
from ._quality import evaluate, record, replay
from ._store import SessionStore
from ._schema import ArgumentError
from ._tools import DEFAULT_TIMEOUT, Tool, ToolResult, tool
from ._native import Memory, flush_telemetry
from ._parts import Budget, Layer

import atexit as _atexit

# With OTEL_EXPORTER_OTLP_ENDPOINT set, runs export OpenTelemetry GenAI spans and metrics;
# what the SDK still holds leaves before the interpreter does.
_atexit.register(flush_telemetry)

__all__ = [
    "Agent",
    "Anthropic",
    "AzureOpenAI",
    "Approver",
    "Budget",
    "ArgumentError",
    "Cancelled",
    "ConfigError",
    "DEFAULT_TIMEOUT",
    "Hook",
    "Home",
    "HookError",
    "Layer",
    "Memory",
    "Model",
    "ModelError",
    "OpenAI",
    "Outcome",
    "ProviderError",
    "RetryPolicy",
    "RunStream",
    "SessionError",
    "SessionStore",
    "SreHarnessError",
    "Tool",
    "ToolError",
    "ToolResult",
    "__version__",
    "evaluate",
    "flush_telemetry",
    "hook",
    "load",
    "record",
    "replay",
    "tool",
]
