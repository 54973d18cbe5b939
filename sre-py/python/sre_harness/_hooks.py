"""Python hooks: a callable with the command-hook protocol (JSON context in, decision out)."""

from __future__ import annotations

import inspect
import json
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from ._native import ConfigError
from ._runtime import run_awaitable

EVENTS = (
    "PreToolUse",
    "PostToolUse",
    "PostToolUseFailure",
    "UserPromptSubmit",
    "Stop",
    "SubagentStop",
    "SessionStart",
    "PreCompact",
)


class Hook:
    """A hook backed by a Python callable (sync or ``async def``).

    The callable receives the dict command hooks receive on stdin (``session_id``,
    ``hook_event_name``, ``tool_name``, ``tool_input``, ``agent_name``, ...) and returns
    what a command hook would print: ``None`` (allow), ``{"decision": "block", "reason": ...}``,
    ``{"hookSpecificOutput": {"permissionDecision": "deny", ...}}``, ``{"continue": False,
    "stopReason": ...}``, ``{"hookSpecificOutput": {"additionalContext": ...}}`` ...

    An exception (or an invalid decision) is a hook failure: reported as a ``hook_failed``
    event and ignored, or, with ``fail_closed=True``, a block.
    """

    def __init__(
        self,
        fn: Callable[[Dict[str, Any]], Any],
        *,
        event: Union[str, Sequence[str]] = "PreToolUse",
        matcher: Optional[str] = None,
        name: Optional[str] = None,
        timeout: Optional[float] = 60.0,
        fail_closed: bool = False,
    ) -> None:
        if not callable(fn):
            raise ConfigError(f"a hook needs a callable, got {fn!r}")
        events: List[str] = [event] if isinstance(event, str) else list(event)
        for e in events:
            if e not in EVENTS:
                raise ConfigError(f"unknown hook event {e!r} (one of {', '.join(EVENTS)})")
        self.fn = fn
        self.events = events
        self.matcher = matcher
        self.name = name or getattr(fn, "__name__", "python-hook")
        self.timeout = None if timeout is None else float(timeout)
        self.fail_closed = bool(fail_closed)

    def _invoke(self, context_json: str, timeout: Optional[float]) -> Optional[str]:
        """Called by the harness on a worker thread: the decision JSON, or None to allow."""
        context = json.loads(context_json)
        result = self.fn(context)
        if inspect.isawaitable(result):
            result = run_awaitable(result, context.get("session_id"), timeout, f"hook `{self.name}`")
        if result is None:
            return None
        if isinstance(result, str):
            return result
        if isinstance(result, dict):
            return json.dumps(result)
        raise TypeError(f"hook `{self.name}` returned {type(result).__name__}; return None or a dict")

    def __call__(self, context: Dict[str, Any]) -> Any:
        return self.fn(context)

    def __repr__(self) -> str:
        return f"Hook(name={self.name!r}, events={self.events!r}, matcher={self.matcher!r})"


class Approver:
    """Decides on tool calls a hook marked ``ask`` (``permissionDecision: "ask"``).

    Wraps ``fn(context: dict, reason: str) -> bool`` (sync or ``async def``); `context` is
    the hook context of the call. An exception or a non-bool answer denies the call.
    """

    def __init__(self, fn: Callable[[Dict[str, Any], str], Any], *, timeout: Optional[float] = None) -> None:
        if not callable(fn):
            raise ConfigError(f"an approver needs a callable, got {fn!r}")
        self.fn = fn
        self.timeout = timeout

    def _invoke(self, context_json: str, reason: str) -> bool:
        context = json.loads(context_json)
        result = self.fn(context, reason)
        if inspect.isawaitable(result):
            result = run_awaitable(result, context.get("session_id"), self.timeout, "approver")
        return result is True


def hook(
    event: Union[str, Sequence[str]] = "PreToolUse",
    *,
    matcher: Optional[str] = None,
    name: Optional[str] = None,
    timeout: Optional[float] = 60.0,
    fail_closed: bool = False,
) -> Callable[[Callable[[Dict[str, Any]], Any]], Hook]:
    """Decorator: ``@hook("PreToolUse", matcher="shell")`` turns a function into a :class:`Hook`."""

    def wrap(fn: Callable[[Dict[str, Any]], Any]) -> Hook:
        return Hook(fn, event=event, matcher=matcher, name=name, timeout=timeout, fail_closed=fail_closed)

    return wrap
