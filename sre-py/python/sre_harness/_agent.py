"""Agents from Python: build, run (asyncio or plain), stream events, cancel."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import json
import os
import shutil
import tempfile
import time
import uuid
import weakref
from typing import Any, Callable, Deque, Dict, Generator, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from . import _native
from ._hooks import Approver, Hook
from ._model import Model, Provider, _model_args
from ._store import SessionStore
from ._parts import Budget, Layer
from ._native import Cancelled, ConfigError
from ._runtime import register_loop, unregister_loop
from ._tools import Tool

# How long a cancelled run may take to wind down before we stop waiting for it.
_CANCEL_GRACE_S = 30.0

Event = Dict[str, Any]
PathLike = Union[str, "os.PathLike[str]"]


@dataclasses.dataclass
class Outcome:
    """How a run ended."""

    session_id: str
    #: The final answer, if the model gave one.
    answer: Optional[str]
    #: ``completed``, ``max_turns``, ``max_rejections``, ``stopped_by_hook``,
    #: ``prompt_blocked``, ``memory_command`` or ``cancelled``.
    cause: str
    #: The cause with its details (``reason``, ``last_reason``), as a dict.
    cause_detail: Dict[str, Any]
    #: Model calls made in the session so far.
    turns: int
    #: Reasons Stop hooks gave, in order.
    stop_rejections: List[str]
    #: Usage ledger of the agent tree, as a dict (per agent: tokens, calls, cost).
    usage: Dict[str, Any]
    #: Path of the persisted transcript (JSON lines).
    transcript_path: Optional[str]

    @classmethod
    def _from_json(cls, text: str) -> "Outcome":
        raw = json.loads(text)
        cause = raw.get("cause") or {}
        return cls(
            session_id=raw.get("session_id", ""),
            answer=raw.get("answer"),
            cause=cause.get("cause", "unknown") if isinstance(cause, dict) else str(cause),
            cause_detail=cause if isinstance(cause, dict) else {"cause": cause},
            turns=int(raw.get("turns", 0)),
            stop_rejections=list(raw.get("stop_rejections") or []),
            usage=raw.get("usage") or {},
            transcript_path=raw.get("transcript_path"),
        )


def _mounts(mounts: Union[None, Mapping[str, Any], Iterable[Any]]) -> List[Tuple[str, bool]]:
    out: List[Tuple[str, bool]] = []
    if mounts is None:
        return out
    items: Iterable[Any] = mounts.items() if isinstance(mounts, Mapping) else mounts
    for item in items:
        if isinstance(item, str):
            name, mode = item, "ro"
        else:
            name, mode = item
        if isinstance(mode, bool):
            writable = mode
        elif str(mode).lower() in ("rw", "writable", "write", "w"):
            writable = True
        elif str(mode).lower() in ("ro", "readonly", "read-only", "read_only", "r"):
            writable = False
        else:
            raise ConfigError(f"mount {name!r}: mode must be 'ro' or 'rw', got {mode!r}")
        out.append((str(name), writable))
    return out


def _mcp_json(config: Mapping[str, Any]) -> str:
    try:
        return json.dumps(config, default=os.fspath)
    except TypeError as e:
        raise ConfigError(f"mcp: the configuration must hold only JSON values and paths: {e}") from None


class Agent:
    """An agent: a model, a system prompt, tools (workspace and Python), hooks, and a
    session store (JSON-lines transcripts in `session_dir`, default a new temp dir).

    ``hook_config`` loads configured hooks (a YAML agent definition or a Claude Code
    settings ``.json``: command, script and prompt hooks) that run before the Python hooks.

    The model is exactly one of: ``script`` (ScriptedModel YAML/JSON text),
    ``script_path`` (a script file), ``model="env"`` (a provider chosen from the
    environment: ``ANTHROPIC_API_KEY`` / ``OPENAI_API_KEY`` ...), a provider configured
    here (:class:`OpenAI`, :class:`Anthropic`, :class:`AzureOpenAI`, each with its
    :class:`RetryPolicy`), or a :class:`Model` implemented in Python.

    ``session_store`` (a :class:`SessionStore`) keeps the transcripts instead of
    ``session_dir``'s JSON-lines files.

    Context: ``memory`` (an :class:`sre_harness.Memory`: the ``remember`` tool,
    ``#remember`` commands and the knowledge map in the prompt), ``pinned_state`` (the
    ``update_investigation_state`` tool and its layer, kept through compaction), ``budget``
    (a :class:`Budget`: pruning and compaction), ``repositories`` (name -> folder, with
    their ``AGENTS.md``), ``topology`` (a topology file), ``layers`` (:class:`Layer`\ s of
    your own), ``offload`` (large tool outputs to files in the workspace) and
    ``subagents`` (offer the ``spawn_subagents`` tool, each subagent at most that many turns).

    ``skills``: a folder of skills (``<folder>/SKILL.md`` each, Claude Code's format): their
    catalog in the prompt and the ``activate_skill`` tool that loads one's instructions.

    ``mcp``: MCP connectors (sre-mcp's configuration, ``{"connectors": [...]}``, or a
    YAML/JSON file of it), connected when the agent is built; their tools are
    ``mcp__<connector>__<tool>``, and the prompt lists the connectors. A connector that does
    not come up is an error.

    ``cost_cap_usd`` / ``cost_cap_tokens`` stop a run (cause ``cost_cap_reached``) once the
    agent and its subagents have spent that much; the outcome's ``usage`` is the ledger.
    """

    def __init__(
        self,
        *,
        model: Union[None, str, Provider, Model] = None,
        script: Optional[str] = None,
        script_path: Optional[PathLike] = None,
        system_prompt: str = "",
        name: str = "agent",
        workspace: Optional[PathLike] = None,
        mounts: Union[None, Mapping[str, Any], Iterable[Any]] = None,
        workspace_tools: bool = True,
        tools: Sequence[Union[Tool, Callable[..., Any]]] = (),
        hooks: Sequence[Hook] = (),
        session_dir: Optional[PathLike] = None,
        max_turns: int = 50,
        tool_concurrency: int = 8,
        hook_timeout: Optional[float] = None,
        streaming: bool = False,
        approver: Optional[Union[Approver, Callable[[Dict[str, Any], str], Any]]] = None,
        hook_config: Optional[PathLike] = None,
        full_outputs: bool = False,
        cost_cap_usd: Optional[float] = None,
        cost_cap_tokens: Optional[int] = None,
        session_store: Optional[SessionStore] = None,
        memory: Optional["_native.Memory"] = None,
        pinned_state: bool = False,
        budget: Optional[Budget] = None,
        repositories: Optional[Mapping[str, PathLike]] = None,
        topology: Optional[PathLike] = None,
        layers: Sequence[Layer] = (),
        offload: bool = False,
        subagents: Optional[int] = None,
        skills: Optional[PathLike] = None,
        mcp: Union[None, PathLike, Mapping[str, Any]] = None,
    ) -> None:
        model_args = _model_args(model)
        for field, value, most in (("cost_cap_tokens", cost_cap_tokens, 2**63 - 1), ("subagents", subagents, 10_000),
                                   ("max_turns", max_turns, 100_000), ("tool_concurrency", tool_concurrency, 1024)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most):
                raise ConfigError(f"{field} must be an int from 1 to {most}, got {value!r}")
        if cost_cap_usd is not None and (isinstance(cost_cap_usd, bool) or not isinstance(cost_cap_usd, (int, float))):
            raise ConfigError(f"cost_cap_usd must be a number of dollars, got {cost_cap_usd!r}")
        for field, value, kind in (("budget", budget, Budget), ("memory", memory, _native.Memory)):
            if value is not None and not isinstance(value, kind):
                raise ConfigError(f"{field} must be an sre_harness.{kind.__name__}, got {value!r}")
        for field, flag in (("pinned_state", pinned_state), ("offload", offload), ("workspace_tools", workspace_tools)):
            if not isinstance(flag, bool):
                raise ConfigError(f"{field} must be True or False, got {flag!r}")
        if repositories is not None and not isinstance(repositories, Mapping):
            raise ConfigError(f"repositories must map names to folders, got {repositories!r}")
        if mcp is not None and not isinstance(mcp, (Mapping, str, os.PathLike)):
            raise ConfigError(f"mcp must be a configuration dict or a file path, got {mcp!r}")
        if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence):
            raise ConfigError(f"layers must be a list of sre_harness.Layer objects, got {layers!r}")
        for layer in layers:
            if not isinstance(layer, Layer):
                raise ConfigError(f"layers must be sre_harness.Layer objects, got {layer!r}")
            if not isinstance(layer.name, str) or not isinstance(layer.dynamic, bool):
                raise ConfigError(f"a layer's name must be a str and dynamic a bool, got {layer.name!r}, {layer.dynamic!r}")
        if session_store is not None and not isinstance(session_store, SessionStore):
            raise ConfigError(f"session_store must be an sre_harness.SessionStore, got {session_store!r}")
        self.tools: List[Tool] = [t if isinstance(t, Tool) else Tool.from_function(t) for t in tools]
        for h in hooks:
            if not isinstance(h, Hook):
                raise ConfigError(f"hooks must be sre_harness.Hook objects, got {h!r}")
        self.hooks: List[Hook] = list(hooks)
        #: Whether ``tool_finished`` events carry a tool's whole output even when the model
        #: saw less (offloaded, withheld); otherwise ``output`` is ``None`` there and
        #: ``output_bytes`` gives its size, so large outputs are not copied unasked.
        self.full_outputs = full_outputs
        # Transcripts in a temporary folder unless told where: removed with the agent.
        self._scratch: Optional[_Scratch] = None
        if session_dir is None:
            self._scratch = _Scratch("sre-harness-sessions-")
            session_dir = self._scratch.path
        self.session_dir = os.fspath(session_dir)
        os.makedirs(self.session_dir, exist_ok=True)
        self._native = _native.Agent(
            session_dir=self.session_dir,
            name=name,
            system_prompt=system_prompt,
            script=script,
            script_path=os.fspath(script_path) if script_path is not None else None,
            workspace=os.fspath(workspace) if workspace is not None else None,
            mounts=_mounts(mounts),
            workspace_tools=workspace_tools,
            tools=self.tools,
            hooks=self.hooks,
            max_turns=max_turns,
            tool_concurrency=tool_concurrency,
            hook_timeout=hook_timeout,
            streaming=streaming,
            approver=None if approver is None else approver if isinstance(approver, Approver) else Approver(approver),
            hook_config=os.fspath(hook_config) if hook_config is not None else None,
            cost_cap_usd=cost_cap_usd,
            cost_cap_tokens=cost_cap_tokens,
            py_store=session_store,
            memory=memory,
            pinned_state=pinned_state,
            budget=budget._spec() if budget is not None else None,
            repositories=[(str(k), os.fspath(v)) for k, v in (repositories or {}).items()],
            topology=os.fspath(topology) if topology is not None else None,
            layers=list(layers),
            offload=offload,
            subagent_turns=subagents,
            skills=os.fspath(skills) if skills is not None else None,
            mcp_config=_mcp_json(mcp) if isinstance(mcp, Mapping) else None,
            mcp_path=os.fspath(mcp) if mcp is not None and not isinstance(mcp, Mapping) else None,
            **model_args,
        )

    @classmethod
    def _from_native(cls, native: Any) -> "Agent":
        """An agent assembled by the native side (a loaded agent home)."""
        agent = cls.__new__(cls)
        agent.tools = []
        agent.hooks = []
        agent.session_dir = os.fspath(native.session_dir)
        agent._native = native
        agent._scratch = None
        agent.full_outputs = False
        return agent

    @property
    def name(self) -> str:
        return str(self._native.name)

    def close(self) -> None:
        """Shut down what the agent connected (its MCP connectors' processes and sessions;
        for an agent of a loaded home, the home's). Also done by ``with Agent(...) as a:``.
        Without it they end when the agent is collected, or with the process."""
        self._native.close()

    def __enter__(self) -> "Agent":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def tool_specs(self) -> List[Dict[str, Any]]:
        """Tools offered to the model: ``[{"name", "description", "input_schema"}]``, by name."""
        return list(json.loads(self._native.tool_specs_json()))

    # -- asyncio --------------------------------------------------------------------------

    def stream(self, prompt: str, *, session_id: Optional[str] = None) -> "RunStream":
        """``async for event in agent.stream(prompt)``: the run's events as they happen
        (dicts: ``{"agent", "session_id", "kind": {"type": ..., ...}}``); afterwards
        ``stream.outcome`` holds the :class:`Outcome`."""
        return RunStream(self, prompt, session_id or _new_session_id())

    async def run(
        self,
        prompt: str,
        *,
        session_id: Optional[str] = None,
        on_event: Optional[Callable[[Event], Any]] = None,
    ) -> Outcome:
        """Run `prompt` to the end. Reusing a `session_id` continues that conversation.
        Cancelling the awaiting task cancels the run (then ``asyncio.CancelledError``)."""
        # `async with`: an exception from `on_event` cancels the run instead of leaving it
        # running in the background.
        async with self.stream(prompt, session_id=session_id) as stream:
            async for event in stream:
                if on_event is not None:
                    on_event(event)
        assert stream.outcome is not None
        return stream.outcome

    # -- plain scripts --------------------------------------------------------------------

    def run_sync(
        self,
        prompt: str,
        *,
        session_id: Optional[str] = None,
        on_event: Optional[Callable[[Event], Any]] = None,
    ) -> Outcome:
        """Run `prompt` to the end, blocking. Ctrl-C (KeyboardInterrupt) cancels the run
        cleanly and is re-raised."""
        events = self._iter_sync(prompt, session_id, on_event)
        while True:
            try:
                next(events)
            except StopIteration as stop:
                outcome: Outcome = stop.value
                return outcome

    def stream_sync(self, prompt: str, *, session_id: Optional[str] = None) -> Generator[Event, None, Outcome]:
        """The run's events as a plain (blocking) generator; its return value (the
        ``StopIteration.value``) is the :class:`Outcome`. Closing it early cancels the run."""
        return self._iter_sync(prompt, session_id, None)

    def _iter_sync(
        self, prompt: Optional[str], session_id: Optional[str], on_event: Optional[Callable[[Event], Any]]
    ) -> Generator[Event, None, Outcome]:
        handle = self._native.start(prompt, session_id or _new_session_id(), None, self.full_outputs, self._scratch)
        try:
            while True:
                handle.wait(0.1)
                for text in handle.drain_events():
                    event = json.loads(text)
                    if on_event is not None:
                        on_event(event)
                    yield event
                if handle.done():
                    for text in handle.drain_events():
                        event = json.loads(text)
                        if on_event is not None:
                            on_event(event)
                        yield event
                    break
        except BaseException:
            # KeyboardInterrupt, an exception from on_event, or the generator being closed.
            handle.cancel()
            deadline = time.monotonic() + _CANCEL_GRACE_S
            while not handle.done() and time.monotonic() < deadline:
                handle.wait(0.1)
                handle.drain_events()
            raise
        return Outcome._from_json(handle.result())

    # -- resuming -------------------------------------------------------------------------

    async def resume(self, session_id: str, *, on_event: Optional[Callable[[Event], Any]] = None) -> Outcome:
        """Continue the unfinished run of `session_id` (e.g. after a crash) from its transcript."""
        async with RunStream(self, None, session_id) as stream:
            async for event in stream:
                if on_event is not None:
                    on_event(event)
        assert stream.outcome is not None
        return stream.outcome

    def resume_sync(self, session_id: str, *, on_event: Optional[Callable[[Event], Any]] = None) -> Outcome:
        """Blocking :meth:`resume`."""
        events = self._iter_sync(None, session_id, on_event)
        while True:
            try:
                next(events)
            except StopIteration as stop:
                outcome: Outcome = stop.value
                return outcome

    def __repr__(self) -> str:
        return f"Agent(name={self.name!r}, tools={[s['name'] for s in self.tool_specs]!r})"


class _Scratch:
    """A temporary folder, removed once nothing holds it any more (or at exit)."""

    def __init__(self, prefix: str) -> None:
        self.path = tempfile.mkdtemp(prefix=prefix)
        self._remove = weakref.finalize(self, shutil.rmtree, self.path, ignore_errors=True)


def _new_session_id() -> str:
    return "py-" + uuid.uuid4().hex[:16]


class RunStream:
    """An asynchronous iterator over one run's events; see :meth:`Agent.stream`."""

    def __init__(self, agent: Agent, prompt: Optional[str], session_id: str) -> None:
        self._agent = agent
        self._prompt = prompt
        self.session_id = session_id
        self._handle: Any = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._wake: Optional[asyncio.Event] = None
        self._pending: Deque[Event] = collections.deque()
        self._finished = False
        #: The outcome, once the iteration ended.
        self.outcome: Optional[Outcome] = None

    def __aiter__(self) -> "RunStream":
        return self

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        self._loop, self._wake = loop, wake

        def waker() -> None:
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:  # the loop is closed: nobody waits any more
                pass

        register_loop(self.session_id, loop)
        self._handle = self._agent._native.start(
            self._prompt, self.session_id, waker, self._agent.full_outputs, self._agent._scratch
        )

    def _take(self) -> None:
        for text in self._handle.drain_events():
            self._pending.append(json.loads(text))

    def _end(self) -> None:
        self._finished = True
        assert self._loop is not None
        unregister_loop(self.session_id, self._loop)

    async def __anext__(self) -> Event:
        if self._handle is None:
            if self._finished:
                raise StopAsyncIteration
            self._start()
        assert self._wake is not None
        while True:
            if self._pending:
                return self._pending.popleft()
            if self._finished:
                raise StopAsyncIteration
            self._wake.clear()
            self._take()
            if self._pending:
                continue
            if self._handle.done():
                self._take()
                if self._pending:
                    continue
                self._end()
                self.outcome = Outcome._from_json(self._handle.result())  # raises the run's error
                raise StopAsyncIteration
            try:
                # (Bounded: should a wake-up ever not come, the state is looked at again.)
                await asyncio.wait_for(self._wake.wait(), 1.0)
            except asyncio.TimeoutError:
                pass
            except asyncio.CancelledError:
                await self._cancel_and_wait()
                raise

    async def _cancel_and_wait(self) -> None:
        """Cancel the run and wait (bounded) for it to wind down, transcript written."""
        if self._handle is None or self._finished:
            return
        self._handle.cancel()
        assert self._wake is not None
        deadline = time.monotonic() + _CANCEL_GRACE_S
        while not self._handle.done() and time.monotonic() < deadline:
            self._wake.clear()
            if self._handle.done():
                break
            try:
                await asyncio.wait_for(self._wake.wait(), 0.5)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                pass
        self._handle.drain_events()
        self._end()

    async def cancel(self) -> None:
        """Stop the run (e.g. after breaking out of the loop early) and wait for it to end."""
        await self._cancel_and_wait()

    def __del__(self) -> None:
        # A stream dropped before its end (e.g. `break` without `cancel()`) must not leave
        # the run going on in the background.
        handle = getattr(self, "_handle", None)
        if handle is not None and not self._finished:
            try:
                handle.cancel()
                if self._loop is not None:
                    unregister_loop(self.session_id, self._loop)
            except Exception:
                pass

    async def __aenter__(self) -> "RunStream":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if not self._finished:
            await self._cancel_and_wait()


__all__ = ["Agent", "Outcome", "RunStream", "Cancelled"]
