"""Session stores implemented in Python: transcripts wherever you keep them."""

from __future__ import annotations

import inspect
import json
from typing import Any, Dict, List, Optional

from ._runtime import await_owned, describe

Record = Dict[str, Any]


class SessionStore:
    """Where an agent's transcripts live. Subclass it and implement :meth:`load` and
    :meth:`append` (sync or ``async def``); pass an instance as ``Agent(session_store=...)``.

    A record is a dict (``{"record": "start" | "task" | "message" | "tool_result" | ...,
    ...}``) to keep as given and give back in the same order. ``append`` must be durable
    when it returns (commit, fsync): a run resumed after a crash (``agent.resume_sync``)
    continues from what ``load`` returns, and a tool call recorded as started but not
    finished is not run again unless it is safe to repeat. One run writes a session at a
    time in this process (across every agent given the same store); a store shared by
    processes must keep their writers apart. Calls come on Python threads, not always the
    same one: open a connection per call, or make it thread-safe (``sqlite3.connect(...,
    check_same_thread=False)`` behind a lock). ``async def`` methods run on the
    application's loop under ``Agent.run``, else on one loop of the store's own.
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
                result = await_owned(self, result, session_id, "sre-harness-store")
            if op == "load":
                if not isinstance(result, list) or not all(isinstance(r, dict) for r in result):
                    raise TypeError("SessionStore.load must return a list of dicts")
                return json.dumps({"records": result})
            return json.dumps({"ok": True})
        except Exception as e:  # noqa: BLE001 - every failure becomes the call's error
            return json.dumps({"error": describe(e)})

