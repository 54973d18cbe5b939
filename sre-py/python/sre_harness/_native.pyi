"""Type stubs of the native module `sre_harness._native` (built from the sre-py crate)."""

from os import PathLike
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

__version__: str

class SreHarnessError(Exception): ...
class ConfigError(SreHarnessError): ...
class ModelError(SreHarnessError): ...
class ToolError(SreHarnessError): ...
class SessionError(SreHarnessError): ...
class HookError(SreHarnessError): ...
class Cancelled(SreHarnessError): ...

class Memory:
    """Markdown memory (sre-memory) in a folder: topic files with provenance and
    timestamps, the index the agent sees, staleness review and snapshots."""

    def __init__(self, dir: Union[str, PathLike[str]]) -> None: ...
    def remember(self, fact: str, topic: Optional[str] = None, source: str = "user") -> str: ...
    def forget(self, selector: str, source: str = "user") -> List[str]: ...
    def retrieve(self, query: str, limit: int = 5) -> List[Tuple[str, str, str, Optional[str]]]: ...
    def index(self) -> str: ...
    def review(self) -> str: ...
    def snapshot(self) -> Tuple[str, str, int, int]: ...

class RunHandle:
    @property
    def session_id(self) -> str: ...
    def cancel(self) -> None: ...
    def cancelled(self) -> bool: ...
    def wait(self, timeout: Optional[float] = None) -> bool: ...
    def _queued(self) -> int: ...
    def drain_events(self) -> List[str]: ...
    def done(self) -> bool: ...
    def result(self) -> str: ...

class Agent:
    def __init__(
        self,
        *,
        session_dir: Union[str, PathLike[str]],
        name: str = "agent",
        system_prompt: str = "",
        script: Optional[str] = None,
        script_path: Optional[Union[str, PathLike[str]]] = None,
        model_from_env: bool = False,
        model_spec: Optional[str] = None,
        py_model: Optional[Any] = None,
        cost_cap_usd: Optional[float] = None,
        cost_cap_tokens: Optional[int] = None,
        py_store: Optional[Any] = None,
        memory: Optional[Memory] = None,
        pinned_state: bool = False,
        budget: Optional[str] = None,
        repositories: Sequence[Tuple[str, str]] = ...,
        topology: Optional[Union[str, PathLike[str]]] = None,
        layers: Sequence[Any] = ...,
        offload: bool = False,
        subagent_turns: Optional[int] = None,
        skills: Optional[Union[str, PathLike[str]]] = None,
        mcp_config: Optional[str] = None,
        mcp_path: Optional[Union[str, PathLike[str]]] = None,
        workspace: Optional[Union[str, PathLike[str]]] = None,
        mounts: Sequence[Tuple[str, bool]] = ...,
        workspace_tools: bool = True,
        tools: Sequence[Any] = ...,
        hooks: Sequence[Any] = ...,
        max_turns: int = 50,
        tool_concurrency: int = 8,
        hook_timeout: Optional[float] = None,
        streaming: bool = False,
        approver: Optional[Any] = None,
        hook_config: Optional[Union[str, PathLike[str]]] = None,
    ) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def session_dir(self) -> Path: ...
    def close(self) -> None: ...
    def tool_specs_json(self) -> str: ...
    def start(
        self,
        prompt: Optional[str],
        session_id: str,
        waker: Optional[Callable[[], Any]] = None,
        full_outputs: bool = False,
        keep: Any = None,
    ) -> RunHandle: ...

def load_home(
    dir: Union[str, PathLike[str]],
    *,
    workspace: Union[str, PathLike[str]],
    script: Optional[str] = None,
    script_path: Optional[Union[str, PathLike[str]]] = None,
    model_from_env: bool = False,
    model_spec: Optional[str] = None,
    py_model: Optional[Any] = None,
    approver: Optional[Any] = None,
    cache_dir: Optional[Union[str, PathLike[str]]] = None,
    only: Optional[List[str]] = None,
) -> Tuple[List[Agent], List[str], Path, TeamHandle]: ...

class TeamHandle:
    def on_demand_hooks(self) -> List[str]: ...
    def enable_hook(self, thread: str, hook: str) -> None: ...
    @staticmethod
    def hop_session_id(thread: str, n: int, agent: str) -> str: ...
    @staticmethod
    def handed_task(from_: str, note: str, task: str, /) -> str: ...
def call_tool(tool: Any, args_json: str) -> Tuple[bool, str]: ...
def flush_telemetry() -> None: ...
def record(
    home: str,
    agent: str,
    task: str,
    *,
    cassette: str,
    workspace: str,
    session_id: str,
    script_path: Optional[str] = None,
) -> Optional[str]: ...
def replay(
    cassette: str,
    *,
    home: Optional[str] = None,
    workspace: Optional[str] = None,
    model: Optional[str] = None,
    script_path: Optional[str] = None,
    live_tools: bool = False,
) -> str: ...
def evaluate(
    suite: str,
    *,
    script: Optional[str] = None,
    model: Optional[str] = None,
    judge: str = "lexical",
    home: Optional[str] = None,
    agent: Optional[str] = None,
    repeat: int = 1,
    jobs: int = 1,
    only: Optional[List[str]] = None,
    timeout_secs: int = 600,
) -> str: ...
