"""Session stores implemented in Python: transcripts wherever you keep them."""

from __future__ import annotations

import asyncio
import inspect
import json
import traceback
from typing import Any, Dict, List, Optional

Record = Dict[str, Any]


class SessionStore:
    """Where an agent's transcripts live. Subclass it and implement :meth:`load` and
    :meth:`append` (sync or ``async def``); pass an instance as ``Agent(session_store=...)``.

    A record is a dict (``{"record": "start" | "task" | "message" | "tool_result" | ...,
    ...}``) to keep as given and give back in the same order. ``append`` must be durable
    when it returns (commit, fsync): a run resumed after a crash (``agent.resume_sync``)
    continues from what ``load`` returns, and a tool call recorded as started but not
    finished is not run again unless it is safe to repeat. One run writes a session at a
    time in this process; a store shared by processes must keep their writers apart.
    """

    def load(self, session_id: str) -> List[Record]:
        """Every record of the session, in order (``[]`` for a new one)."""
        raise NotImplementedError("implement SessionStore.load(session_id) -> list of records")

    def append(self, session_id: str, records: List[Record]) -> None:
        """Add records at the end, durably, all or nothing."""
        raise NotImplementedError("implement SessionStore.append(session_id, records)")

    def _invoke(self, op: str, session_id: str, records_json: Optional[str]) -> str:
        """Called by the harness; never raises."""
        try:
            if op == "load":
                result = self.load(session_id)
            else:
                result = self.append(session_id, json.loads(records_json or "[]"))
            if inspect.isawaitable(result):
                result = asyncio.run(_awaited(result))
            if op == "load":
                if not isinstance(result, list):
                    raise TypeError(f"SessionStore.load must return a list, not {type(result).__name__}")
                return json.dumps({"records": result})
            return json.dumps({"ok": True})
        except Exception as e:  # noqa: BLE001 - every failure becomes the call's error
            tb = traceback.extract_tb(e.__traceback__)
            where = f" (at {tb[-1].filename}:{tb[-1].lineno})" if tb else ""
            return json.dumps({"error": f"{type(e).__name__}: {e}{where}"})


async def _awaited(result: Any) -> Any:
    return await result
