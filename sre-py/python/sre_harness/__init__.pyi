"""Type stubs of `sre_harness`."""

import os
from dataclasses import dataclass
from typing import (
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    Dict,
    Generator,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    Union,
    overload,
)

from ._native import (
    Memory as Memory,
    Cancelled as Cancelled,
    ConfigError as ConfigError,
    HookError as HookError,
    ModelError as ModelError,
    SessionError as SessionError,
    SreHarnessError as SreHarnessError,
    ToolError as ToolError,
    __version__ as __version__,
    flush_telemetry as flush_telemetry,
)

_PathLike = Union[str, "os.PathLike[str]"]
Event = Dict[str, Any]
ParameterSpec = Union[str, Dict[str, Any]]
HookContext = Dict[str, Any]
HookResult = Optional[Union[Dict[str, Any], str]]

DEFAULT_TIMEOUT: float

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

class ArgumentError(Exception): ...

class ToolResult:
    content: str
    is_error: bool
    def __init__(self, content: str, is_error: bool) -> None: ...
    def json(self) -> Any: ...

class Tool:
    fn: Callable[..., Any]
    name: str
    description: str
    timeout: Optional[float]
    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool
    input_schema: Dict[str, Any]
    schema_json: str
    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        *,
        name: Optional[str] = None,
        description: Optional[str] = None,
        parameters: Optional[Sequence[ParameterSpec]] = None,
        timeout: Optional[float] = ...,
        read_only: bool = False,
        destructive: bool = True,
        idempotent: bool = False,
        open_world: bool = True,
    ) -> Tool: ...
    @classmethod
    def from_source(
        cls,
        *,
        name: str,
        description: str,
        code: str,
        parameters: Optional[Sequence[ParameterSpec]] = None,
        entrypoint: str = "main",
        timeout: Optional[float] = ...,
        read_only: bool = False,
        destructive: bool = True,
        idempotent: bool = False,
        open_world: bool = True,
    ) -> Tool: ...
    def call(self, arguments: Optional[Dict[str, Any]] = None, /, **kwargs: Any) -> ToolResult: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...
    @property
    def spec(self) -> Dict[str, Any]: ...

@overload
def tool(fn: Callable[..., Any], /) -> Tool: ...
@overload
def tool(
    *,
    name: Optional[str] = None,
    description: Optional[str] = None,
    parameters: Optional[Sequence[ParameterSpec]] = None,
    timeout: Optional[float] = ...,
    read_only: bool = False,
        destructive: bool = True,
        idempotent: bool = False,
        open_world: bool = True,
) -> Callable[[Callable[..., Any]], Tool]: ...

class Hook:
    fn: Callable[[HookContext], Union[HookResult, Awaitable[HookResult]]]
    name: str
    events: List[str]
    matcher: Optional[str]
    timeout: Optional[float]
    fail_closed: bool
    def __init__(
        self,
        fn: Callable[[HookContext], Union[HookResult, Awaitable[HookResult]]],
        *,
        event: Union[str, Sequence[str]] = "PreToolUse",
        matcher: Optional[str] = None,
        name: Optional[str] = None,
        timeout: Optional[float] = 60.0,
        fail_closed: bool = False,
    ) -> None: ...
    def __call__(self, context: HookContext) -> Any: ...

def hook(
    event: Union[str, Sequence[str]] = "PreToolUse",
    *,
    matcher: Optional[str] = None,
    name: Optional[str] = None,
    timeout: Optional[float] = 60.0,
    fail_closed: bool = False,
) -> Callable[[Callable[[HookContext], Any]], Hook]: ...

class Approver:
    fn: Callable[[HookContext, str], Union[bool, Awaitable[bool]]]
    timeout: Optional[float]
    def __init__(
        self, fn: Callable[[HookContext, str], Union[bool, Awaitable[bool]]], *, timeout: Optional[float] = None
    ) -> None: ...

class Outcome:
    session_id: str
    answer: Optional[str]
    cause: str
    cause_detail: Dict[str, Any]
    turns: int
    stop_rejections: List[str]
    usage: Dict[str, Any]
    transcript_path: Optional[str]

class RunStream:
    session_id: str
    outcome: Optional[Outcome]
    def __aiter__(self) -> RunStream: ...
    async def __anext__(self) -> Event: ...
    async def cancel(self) -> None: ...
    async def __aenter__(self) -> RunStream: ...
    async def __aexit__(self, *exc: Any) -> None: ...

@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    initial_backoff: float
    max_backoff: float
    max_elapsed: float
    jitter: bool
    def __init__(
        self,
        max_attempts: int = 5,
        initial_backoff: float = 0.5,
        max_backoff: float = 30.0,
        max_elapsed: float = 120.0,
        jitter: bool = True,
    ) -> None: ...

@dataclass(frozen=True)
class OpenAI:
    model: str
    api_key: Optional[str]
    base_url: str
    responses: bool
    headers: Optional[Mapping[str, str]]
    timeout: Optional[float]
    connect_timeout: Optional[float]
    prompt_cache_key: Optional[str]
    retry: Optional[RetryPolicy]
    def __init__(
        self,
        model: str,
        api_key: Optional[str] = None,
        base_url: str = "https://api.openai.com/v1",
        responses: bool = False,
        headers: Optional[Mapping[str, str]] = None,
        timeout: Optional[float] = None,
        connect_timeout: Optional[float] = None,
        prompt_cache_key: Optional[str] = None,
        retry: Optional[RetryPolicy] = ...,
    ) -> None: ...

@dataclass(frozen=True)
class Anthropic:
    model: str
    api_key: str
    base_url: str
    headers: Optional[Mapping[str, str]]
    timeout: Optional[float]
    connect_timeout: Optional[float]
    retry: Optional[RetryPolicy]
    def __init__(
        self,
        model: str,
        api_key: str,
        base_url: str = "https://api.anthropic.com",
        headers: Optional[Mapping[str, str]] = None,
        timeout: Optional[float] = None,
        connect_timeout: Optional[float] = None,
        retry: Optional[RetryPolicy] = ...,
    ) -> None: ...

@dataclass(frozen=True)
class AzureOpenAI:
    endpoint: str
    deployment: str
    api_key: str
    api_version: Optional[str]
    model: Optional[str]
    responses: bool
    timeout: Optional[float]
    retry: Optional[RetryPolicy]
    def __init__(
        self,
        endpoint: str,
        deployment: str,
        api_key: str,
        api_version: Optional[str] = None,
        model: Optional[str] = None,
        responses: bool = False,
        timeout: Optional[float] = None,
        retry: Optional[RetryPolicy] = ...,
    ) -> None: ...

class ProviderError(Exception):
    status: int
    retry_after: Optional[float]
    def __init__(self, status: int, message: str, retry_after: Optional[float] = None) -> None: ...

class Model:
    name: str
    context_window: int
    provider: str
    input_per_mtok: float
    output_per_mtok: float
    cache_read_per_mtok: float
    cache_write_per_mtok: float
    max_output_tokens: int
    retry: Optional[RetryPolicy]
    def complete(self, request: Dict[str, Any]) -> Union[Dict[str, Any], str, Awaitable[Union[Dict[str, Any], str]]]: ...

ModelChoice = Union[None, str, OpenAI, Anthropic, AzureOpenAI, Model]

class Layer:
    name: str
    dynamic: bool
    def render(self, session_id: str, agent: str) -> Union[str, Awaitable[str]]: ...

@dataclass(frozen=True)
class Budget:
    context_window: Optional[int]
    prune_at: float
    prune_target: float
    compact_at: float
    def __init__(
        self,
        context_window: Optional[int] = None,
        prune_at: float = 0.6,
        prune_target: float = 0.4,
        compact_at: float = 0.8,
    ) -> None: ...

class SessionStore:
    def load(self, session_id: str) -> Union[List[Dict[str, Any]], Awaitable[List[Dict[str, Any]]]]: ...
    def append(self, session_id: str, records: List[Dict[str, Any]]) -> Union[None, Awaitable[None]]: ...

class Agent:
    tools: List[Tool]
    hooks: List[Hook]
    session_dir: str
    full_outputs: bool
    def __init__(
        self,
        *,
        model: ModelChoice = None,
        script: Optional[str] = None,
        script_path: Optional[_PathLike] = None,
        system_prompt: str = "",
        name: str = "agent",
        workspace: Optional[_PathLike] = None,
        mounts: Union[None, Mapping[str, Any], Iterable[Any]] = None,
        workspace_tools: bool = True,
        tools: Sequence[Union[Tool, Callable[..., Any]]] = (),
        hooks: Sequence[Hook] = (),
        session_dir: Optional[_PathLike] = None,
        max_turns: int = 50,
        tool_concurrency: int = 8,
        hook_timeout: Optional[float] = None,
        streaming: bool = False,
        approver: Optional[Union[Approver, Callable[[HookContext, str], Union[bool, Awaitable[bool]]]]] = None,
        hook_config: Optional[_PathLike] = None,
        full_outputs: bool = False,
        cost_cap_usd: Optional[float] = None,
        cost_cap_tokens: Optional[int] = None,
        session_store: Optional[SessionStore] = None,
        memory: Optional[Memory] = None,
        pinned_state: bool = False,
        budget: Optional[Budget] = None,
        repositories: Optional[Mapping[str, _PathLike]] = None,
        topology: Optional[_PathLike] = None,
        layers: Sequence[Layer] = (),
        offload: bool = False,
        subagents: Optional[int] = None,
        skills: Optional[_PathLike] = None,
        mcp: Union[None, _PathLike, Mapping[str, Any]] = None,
    ) -> None: ...
    @property
    def name(self) -> str: ...
    def close(self) -> None: ...
    def __enter__(self) -> Agent: ...
    def __exit__(self, *exc: Any) -> None: ...
    @property
    def tool_specs(self) -> List[Dict[str, Any]]: ...
    def stream(self, prompt: str, *, session_id: Optional[str] = None) -> RunStream: ...
    async def run(
        self, prompt: str, *, session_id: Optional[str] = None, on_event: Optional[Callable[[Event], Any]] = None
    ) -> Outcome: ...
    def run_sync(
        self, prompt: str, *, session_id: Optional[str] = None, on_event: Optional[Callable[[Event], Any]] = None
    ) -> Outcome: ...
    def stream_sync(self, prompt: str, *, session_id: Optional[str] = None) -> Generator[Event, None, Outcome]: ...
    async def resume(self, session_id: str, *, on_event: Optional[Callable[[Event], Any]] = None) -> Outcome: ...
    def resume_sync(self, session_id: str, *, on_event: Optional[Callable[[Event], Any]] = None) -> Outcome: ...

class Home:
    agents: Dict[str, Agent]
    warnings: List[str]
    workspace: str
    session_dir: str
    def __getitem__(self, name: str) -> Agent: ...
    def __contains__(self, name: object) -> bool: ...
    def __iter__(self) -> Iterator[str]: ...
    def __len__(self) -> int: ...
    @property
    def on_demand_hooks(self) -> List[str]: ...
    def enable_hook(self, session_id: str, hook: str) -> None: ...
    def run_thread_sync(
        self, agent: str, prompt: str, *, session_id: Optional[str] = None, max_handoffs: int = 8
    ) -> List[Outcome]: ...

def load(
    dir: _PathLike,
    *,
    model: ModelChoice = None,
    script: Optional[str] = None,
    script_path: Optional[_PathLike] = None,
    workspace: Optional[_PathLike] = None,
    approver: Optional[Union[Approver, Callable[[HookContext, str], Union[bool, Awaitable[bool]]]]] = None,
    cache_dir: Optional[_PathLike] = None,
    only: Optional[Sequence[str]] = None,
) -> Home: ...

def record(
    home: _PathLike,
    agent: str,
    task: str,
    *,
    cassette: _PathLike,
    workspace: _PathLike,
    session_id: str,
    script: Optional[_PathLike] = None,
) -> Optional[str]: ...
def replay(
    cassette: _PathLike,
    *,
    home: Optional[_PathLike] = None,
    workspace: Optional[_PathLike] = None,
    model: Optional[str] = None,
    script: Optional[_PathLike] = None,
    live_tools: bool = False,
) -> Dict[str, Any]: ...
def evaluate(
    suite: _PathLike,
    *,
    script: Optional[str] = None,
    model: Optional[str] = None,
    judge: str = "lexical",
    home: Optional[_PathLike] = None,
    agent: Optional[str] = None,
    repeat: int = 1,
    jobs: int = 1,
    only: Optional[List[str]] = None,
    timeout_secs: int = 600,
) -> Dict[str, Any]: ...
