"""Running a coroutine returned by a tool or hook from a harness worker thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
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
