"""Models from Python: explicitly configured providers, and models implemented in Python.

    model = sh.OpenAI("gpt-4.1", api_key=os.environ["OPENAI_API_KEY"],
                      retry=sh.RetryPolicy(max_attempts=3))
    agent = sh.Agent(model=model, system_prompt="...")

    class MyModel(sh.Model):                 # your own client
        name = "my-model"
        def complete(self, request):         # or `async def`
            return {"content": [{"type": "text", "text": "..."}], "stop_reason": "end_turn"}
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import os
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from ._native import ConfigError
from ._runtime import await_owned, describe

# Token counts a Python model may report (beyond, a float would lose them anyway).
_MAX_TOKENS = 2**53

Request = Dict[str, Any]
Response = Dict[str, Any]


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How a provider's failed calls are retried (408, 409, 429, 5xx including 529, and
    transport errors), with exponential backoff that honours the provider's
    ``retry-after``. A retried call may be billed twice."""

    #: Attempts in all, the first included.
    max_attempts: int = 5
    #: Backoff before the second attempt, in seconds; doubles each time.
    initial_backoff: float = 0.5
    #: Backoff cap (also caps a provider's ``retry-after``), in seconds.
    max_backoff: float = 30.0
    #: No retry starts after this many seconds since the first attempt.
    max_elapsed: float = 120.0
    #: Randomise each backoff to 50-100 % of its value.
    jitter: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) or not 1 <= self.max_attempts <= 100:
            raise ConfigError(f"RetryPolicy: max_attempts must be an int from 1 to 100, got {self.max_attempts!r}")
        for name in ("initial_backoff", "max_backoff", "max_elapsed"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise ConfigError(f"RetryPolicy: {name} must be a positive number of seconds, got {v!r}")

    def _spec(self) -> Dict[str, Any]:
        return {
            "max_attempts": self.max_attempts,
            "initial_backoff_s": self.initial_backoff,
            "max_backoff_s": self.max_backoff,
            "max_elapsed_s": self.max_elapsed,
            "jitter": self.jitter,
        }


def _retry(retry: Any) -> Optional[Dict[str, Any]]:
    if retry is None:
        return None
    if not isinstance(retry, RetryPolicy):
        raise ConfigError(f"retry must be an sre_harness.RetryPolicy or None, got {retry!r}")
    return retry._spec()


def _headers(headers: Optional[Mapping[str, str]]) -> List[Tuple[str, str]]:
    if headers is not None and not isinstance(headers, Mapping):
        raise ConfigError(f"headers must map names to values, got {headers!r}")
    return [(str(k), str(v)) for k, v in (headers or {}).items()]


@dataclasses.dataclass(frozen=True)
class _Provider:
    """Fields every provider shares."""

    def _spec(self) -> str:
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class OpenAI(_Provider):
    """An OpenAI-compatible endpoint (OpenAI, vLLM, llama.cpp, Ollama...): Chat Completions,
    or the Responses API with ``responses=True``. Without ``api_key``, OpenAI's own
    endpoint takes ``OPENAI_API_KEY`` from the environment; others are sent no key."""

    model: str
    api_key: Optional[str] = dataclasses.field(default=None, repr=False)
    base_url: str = "https://api.openai.com/v1"
    responses: bool = False
    #: Sent with every request (e.g. an organisation header).
    headers: Optional[Mapping[str, str]] = None
    #: Longest silence while reading a response, in seconds.
    timeout: Optional[float] = None
    connect_timeout: Optional[float] = None
    #: ``prompt_cache_key``: routes requests sharing a prefix to the same cache.
    prompt_cache_key: Optional[str] = None
    #: ``None`` for no retry layer.
    retry: Optional[RetryPolicy] = RetryPolicy()

    def _spec(self) -> str:
        key = self.api_key
        if key is None and self.base_url == "https://api.openai.com/v1":
            key = os.environ.get("OPENAI_API_KEY")
        return json.dumps({
            "kind": "openai", "model": self.model, "api_key": key, "base_url": self.base_url,
            "responses": self.responses, "headers": _headers(self.headers), "timeout_s": self.timeout,
            "connect_timeout_s": self.connect_timeout, "prompt_cache_key": self.prompt_cache_key,
            "retry": _retry(self.retry),
        })


@dataclasses.dataclass(frozen=True)
class Anthropic(_Provider):
    """The Anthropic Messages API (prompt-caching breakpoints placed for you)."""

    model: str
    api_key: str = dataclasses.field(repr=False)
    base_url: str = "https://api.anthropic.com"
    headers: Optional[Mapping[str, str]] = None
    timeout: Optional[float] = None
    connect_timeout: Optional[float] = None
    retry: Optional[RetryPolicy] = RetryPolicy()

    def _spec(self) -> str:
        return json.dumps({
            "kind": "anthropic", "model": self.model, "api_key": self.api_key, "base_url": self.base_url,
            "headers": _headers(self.headers), "timeout_s": self.timeout,
            "connect_timeout_s": self.connect_timeout, "retry": _retry(self.retry),
        })


@dataclasses.dataclass(frozen=True)
class AzureOpenAI(_Provider):
    """An Azure OpenAI deployment: ``api_version`` for the classic routes, ``None`` for the
    v1 API; ``responses=True`` for the Responses API."""

    endpoint: str
    deployment: str
    api_key: str = dataclasses.field(repr=False)
    api_version: Optional[str] = None
    #: The model the deployment runs (for its window and prices); default its name.
    model: Optional[str] = None
    responses: bool = False
    timeout: Optional[float] = None
    retry: Optional[RetryPolicy] = RetryPolicy()

    def _spec(self) -> str:
        return json.dumps({
            "kind": "azure", "endpoint": self.endpoint, "deployment": self.deployment,
            "api_key": self.api_key, "api_version": self.api_version, "model": self.model,
            "responses": self.responses, "timeout_s": self.timeout,
            "retry": _retry(self.retry),
        })


class ProviderError(Exception):
    """Raise from :meth:`Model.complete` for an error the provider answered: its HTTP
    ``status`` decides whether the call is retried (429, 5xx...) by a retry layer."""

    def __init__(self, status: int, message: str, retry_after: Optional[float] = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class Model:
    """A model implemented in Python. Subclass it and implement :meth:`complete`.

    The request is a dict: ``tools`` (``[{name, description, input_schema}]``), ``system``
    (``[{name, text}]``: the system prompt, then each context layer), ``messages``
    (``[{role, content: [blocks]}]``; blocks are ``{"type": "text", "text"}``,
    ``{"type": "tool_use", "id", "name", "input"}`` and ``{"type": "tool_result",
    "tool_use_id", "content", "is_error"}``), ``max_output_tokens``, ``temperature``,
    ``agent`` and ``session_id`` (``temperature`` only when the agent sets one). The answer is a dict: ``content`` (text and ``tool_use``
    blocks), ``stop_reason`` (``end_turn``, ``tool_use``, ``max_tokens``; default from the
    content) and optionally ``usage`` (``input_tokens``, ``output_tokens``,
    ``cache_read_tokens``, ``cache_write_tokens``; ``input_tokens`` counts the uncached
    ones only) and ``request_id``; or just a string. Any other key is an error.

    ``complete`` runs on a Python thread (not always the same one, and calls of
    subagents may overlap), so a blocking client is fine if it is thread-safe. An ``async
    def complete`` runs on the application's event loop under ``Agent.run``, else on one
    loop of the model's own, so an async client keeps its connections across calls. An exception fails the call; raise
    :class:`ProviderError` with the provider's status, and set ``retry`` to a
    :class:`RetryPolicy`, to have sre-core's retry layer retry it.
    """

    #: Shown in events and telemetry.
    name: str = "python-model"
    #: Tokens the model accepts (the context budget works from it).
    context_window: int = 200_000
    #: ``gen_ai.provider.name`` in telemetry (``openai``, ``anthropic``...).
    provider: str = ""
    #: Prices in US dollars per million tokens, for the usage ledger and the cost cap.
    input_per_mtok: float = 0.0
    output_per_mtok: float = 0.0
    cache_read_per_mtok: float = 0.0
    cache_write_per_mtok: float = 0.0
    #: The most tokens one answer may hold (the request's ``max_output_tokens``).
    max_output_tokens: int = 8192
    #: Retry calls that raise :class:`ProviderError` with a retryable status (429, 5xx...)
    #: through sre-core's retry layer; ``None``: no retry.
    retry: Optional[RetryPolicy] = None

    def _retry_spec(self) -> Optional[str]:
        spec = _retry(self.retry)
        return None if spec is None else json.dumps(spec)

    def complete(self, request: Request) -> Union[Response, str, Any]:
        raise NotImplementedError("implement Model.complete(request) -> response dict")

    def _invoke(self, request_json: str) -> str:
        """Called by the harness: the request as JSON in, ``{"response"}`` or ``{"error"}``
        out. Never raises."""
        try:
            request = json.loads(request_json)
            result = self.complete(request)
            if inspect.isawaitable(result):
                result = await_owned(self, result, request.get("session_id"), f"sre-harness-model-{self.name}")
            return json.dumps({"response": _response(result)})
        except ProviderError as e:
            status = e.status if isinstance(e.status, int) and 100 <= e.status <= 599 else 500
            wait = e.retry_after
            retry_ms = None
            if isinstance(wait, (int, float)) and math.isfinite(wait):
                retry_ms = int(min(max(0.0, wait), 3600.0) * 1000)
            return json.dumps({"error": str(e), "status": status, "retry_after_ms": retry_ms})
        except (ConnectionError, TimeoutError) as e:
            # The connection failed or timed out: a transport error, retried by the layer.
            return json.dumps({"error": f"{type(e).__name__}: {e}", "transport": True})
        except Exception as e:  # noqa: BLE001 - every failure becomes the call's error
            return json.dumps({"error": describe(e)})


def _response(result: Any) -> Response:
    """A complete response in sre-core's shape, from what ``complete`` returned."""
    if isinstance(result, str):
        result = {"content": [{"type": "text", "text": result}]}
    if not isinstance(result, Mapping):
        raise TypeError(f"Model.complete must return a dict or a str, not {type(result).__name__}")
    unknown = set(result) - {"content", "stop_reason", "usage", "request_id"}
    if unknown:
        raise TypeError(f"the response has keys it should not: {sorted(unknown)} (content, stop_reason, usage, request_id)")
    content = result.get("content")
    if not isinstance(content, list):
        raise TypeError("the response's `content` must be a list of blocks")
    for i, block in enumerate(content):
        kind = block.get("type") if isinstance(block, Mapping) else None
        if kind not in ("text", "tool_use"):
            raise TypeError(f"content[{i}] must be a text or tool_use block, got {block!r}")
    stop = result.get("stop_reason")
    if stop is None:
        stop = "tool_use" if any(b["type"] == "tool_use" for b in content) else "end_turn"
    usage = {"input_tokens": 0, "output_tokens": 0, "cache_read_tokens": 0, "cache_write_tokens": 0}
    for k, v in (result.get("usage") or {}).items():
        if k not in usage or isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= _MAX_TOKENS:
            raise TypeError(f"usage.{k}: expected a count of tokens from 0 to 2**53 (keys: {sorted(usage)})")
        usage[k] = v
    known = ("end_turn", "tool_use", "max_tokens", "stop_sequence")
    return {
        "content": list(content),
        "stop_reason": stop if stop in known else {"other": str(stop)},
        "usage": usage,
        "request_id": result.get("request_id"),
    }


Provider = Union[OpenAI, Anthropic, AzureOpenAI]


def _model_args(model: Any) -> Dict[str, Any]:
    """The native arguments for ``model=`` ("env", a provider, or a :class:`Model`)."""
    if model is None:
        return {}
    if model == "env":
        return {"model_from_env": True}
    if isinstance(model, _Provider):
        return {"model_spec": model._spec()}
    if isinstance(model, Model):
        for attr in ("name", "provider"):
            if not isinstance(getattr(model, attr), str):
                raise ConfigError(f"Model.{attr} must be a str, got {getattr(model, attr)!r}")
        for attr in ("input_per_mtok", "output_per_mtok", "cache_read_per_mtok", "cache_write_per_mtok"):
            v = getattr(model, attr)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ConfigError(f"Model.{attr} must be a price in dollars per million tokens, got {v!r}")
        for attr in ("context_window", "max_output_tokens"):
            v = getattr(model, attr)
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v < 2**63:
                raise ConfigError(f"Model.{attr} must be a positive int, got {v!r}")
        return {"py_model": model}
    raise ConfigError(
        "model must be 'env', a provider (sre_harness.OpenAI, Anthropic, AzureOpenAI) or an "
        f"sre_harness.Model, got {model!r} (use script= / script_path= for a scripted model)"
    )
