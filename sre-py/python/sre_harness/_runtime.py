"""Running a coroutine returned by a tool or hook from a harness worker thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import traceback
from typing import Any, Awaitable, Dict, Optional

# Event loop of each session run from asyncio (`Agent.run` / `Agent.stream`): coroutine
# tools and hooks of that session run on it, so they can share the application's loop
# objects (clients, locks). Sessions run with `run_sync` get a private loop per call.
_LOOPS: Dict[str, asyncio.AbstractEventLoop] = {}
_LOCK = threading.Lock()


def register_loop(session_id: str, loop: asyncio.AbstractEventLoop) -> None:
    with _LOCK:
        _LOOPS[session_id] = loop


def unregister_loop(session_id: str, loop: asyncio.AbstractEventLoop) -> None:
    with _LOCK:
        if _LOOPS.get(session_id) is loop:
            del _LOOPS[session_id]


def run_awaitable(aw: Awaitable[Any], session_id: Optional[str], timeout: Optional[float], what: str) -> Any:
    """Run `aw` to completion from a non-event-loop thread, within `timeout` seconds."""
    loop = None
    if session_id is not None:
        with _LOCK:
            loop = _LOOPS.get(session_id)
    if loop is not None and loop.is_running() and not loop.is_closed():
        async def _wrapped() -> Any:
            return await aw

        fut = asyncio.run_coroutine_threadsafe(_wrapped(), loop)
        try:
            return fut.result(timeout)
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise TimeoutError(f"{what} did not finish within {timeout:.3f} s") from None

    async def _bounded() -> Any:
        if timeout is None:
            return await aw
        try:
            return await asyncio.wait_for(aw, timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"{what} did not finish within {timeout:.3f} s") from None

    return asyncio.run(_bounded())


class LoopThread:
    """An event loop of its own on a daemon thread, for an object's coroutines when no
    application loop runs the session (``run_sync``): the same loop call after call, so a
    client holding connections keeps working across calls."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._lock = threading.Lock()

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name=self._name, daemon=True).start()
                self._loop = loop
            return self._loop


def run_owned(aw: Awaitable[Any], session_id: Optional[str], owner: LoopThread) -> Any:
    """Run `aw` on the session's application loop when it has one (``Agent.run``), else on
    `owner`'s own loop; from a non-event-loop thread."""
    loop = None
    if session_id is not None:
        with _LOCK:
            loop = _LOOPS.get(session_id)
    if loop is None or not loop.is_running() or loop.is_closed():
        loop = owner.loop()

    async def _wrapped() -> Any:
        return await aw

    return asyncio.run_coroutine_threadsafe(_wrapped(), loop).result()


def await_owned(owner: Any, aw: Awaitable[Any], session_id: Optional[str], name: str) -> Any:
    """:func:`run_owned` with `owner`'s own loop, made on first use (subclasses of the
    package's base classes need not call ``super().__init__``)."""
    loop = owner.__dict__.get("_sre_loop")
    if loop is None:
        loop = owner.__dict__["_sre_loop"] = LoopThread(name)
    return run_owned(aw, session_id, loop)


def describe(e: BaseException) -> str:
    """An exception as a callback's error says it: type, message, where it was raised."""
    tb = traceback.extract_tb(e.__traceback__)
    where = f" (at {tb[-1].filename}:{tb[-1].lineno})" if tb else ""
    return f"{type(e).__name__}: {e}{where}"
