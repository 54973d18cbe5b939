"""Context for an agent from Python: layers of your own and the token budget's settings.
(Memory is ``sre_harness.Memory``, from the native module.)"""

from __future__ import annotations

import dataclasses
import json
import traceback
from typing import Optional, Tuple


class Layer:
    """A block of the system prompt that you write: subclass it and implement
    :meth:`render`. ``dynamic = True`` when its text can change during a session (it is
    then rendered again each turn, after the static layers so the cached prefix holds)."""

    #: Its name in the prompt and in events (``repositories``, ``topology``... are taken).
    name: str = "python-layer"
    dynamic: bool = False

    def render(self, session_id: str, agent: str) -> str:
        raise NotImplementedError("implement Layer.render(session_id, agent) -> str")

    def _invoke(self, session_id: str, agent: str) -> Tuple[bool, str]:
        """Called by the harness: ``(True, text)`` or ``(False, why)``; never raises."""
        try:
            text = self.render(session_id, agent)
            if not isinstance(text, str):
                return False, f"render must return a str, not {type(text).__name__}"
            return True, text
        except Exception as e:  # noqa: BLE001 - every failure becomes the layer's error
            tb = traceback.extract_tb(e.__traceback__)
            where = f" (at {tb[-1].filename}:{tb[-1].lineno})" if tb else ""
            return False, f"{type(e).__name__}: {e}{where}"


@dataclasses.dataclass(frozen=True)
class Budget:
    """The token budget: provider-reported usage plus estimates; past ``prune_at`` of the
    usable window old tool outputs are pruned down to ``prune_target``, past
    ``compact_at`` the transcript is summarised (the pinned state kept)."""

    #: Window to assume instead of the model's (e.g. to stay under a cheaper tier).
    context_window: Optional[int] = None
    prune_at: float = 0.6
    prune_target: float = 0.4
    compact_at: float = 0.8

    def _spec(self) -> str:
        return json.dumps(dataclasses.asdict(self))
