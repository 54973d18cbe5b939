"""Context for an agent from Python: layers of your own and the token budget's settings.
(Memory is ``sre_harness.Memory``, from the native module.)"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
from typing import Awaitable, Optional, Tuple, Union

from ._native import ConfigError
from ._runtime import await_owned, describe


class Layer:
    """A block of the system prompt that you write: subclass it and implement
    :meth:`render`. ``dynamic = True`` when its text can change during a session (it is
    then rendered again each turn, after the static layers so the cached prefix holds)."""

    #: Its name in the prompt and in events (``system``, ``repositories``, ``topology``,
    #: ``knowledge-map`` and ``investigation-state`` are taken).
    name: str = "python-layer"
    dynamic: bool = False

    def render(self, session_id: str, agent: str) -> Union[str, Awaitable[str]]:
        """The layer's text for this session (sync, or ``async def``: it then runs on the
        application's loop under ``Agent.run``, else on one loop of the layer's own).
        A render that fails or hangs holds the run up: keep it quick."""
        raise NotImplementedError("implement Layer.render(session_id, agent) -> str")

    def _invoke(self, session_id: str, agent: str) -> Tuple[bool, str]:
        """Called by the harness: ``(True, text)`` or ``(False, why)``; never raises."""
        try:
            text = self.render(session_id, agent)
            if inspect.isawaitable(text):
                text = await_owned(self, text, session_id, f"sre-harness-layer-{self.name}")
            if not isinstance(text, str):
                return False, f"render must return a str, not {type(text).__name__}"
            return True, text
        except Exception as e:  # noqa: BLE001 - every failure becomes the layer's error
            return False, describe(e)


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

    def __post_init__(self) -> None:
        w = self.context_window
        if w is not None and (isinstance(w, bool) or not isinstance(w, int) or w < 1024):
            raise ConfigError(f"Budget: context_window must be an int of at least 1024 tokens, got {w!r}")
        for name in ("prune_at", "prune_target", "compact_at"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not 0 < v <= 1:
                raise ConfigError(f"Budget: {name} must be a fraction in (0, 1], got {v!r}")
        if not self.prune_target < self.prune_at <= self.compact_at:
            raise ConfigError("Budget: expected prune_target < prune_at <= compact_at")

    def _spec(self) -> str:
        return json.dumps(dataclasses.asdict(self))
