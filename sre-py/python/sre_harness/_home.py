"""Agent homes from Python: ``sre_harness.load(DIR)`` loads a directory of declarative
agents, skills, Python tools, MCP connectors and hooks (the same loader as the ``sre``
command) and returns its agents as :class:`Agent` objects."""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Union

from . import _native
from ._agent import Agent, PathLike, _Scratch
from ._hooks import Approver
from ._model import Model, Provider, _model_args


class Home:
    """The agents of a loaded agent home, by name (``home["tls-monitor"]``).

    Each agent runs with the methods of :class:`Agent` (``run``, ``run_sync``, ``stream``,
    ``resume``...). An agent that hands the thread off ends its run with
    ``outcome.cause == "handoff"`` and ``outcome.cause_detail == {"to": ..., "note": ...}``;
    :meth:`run_thread_sync` follows the handoffs.
    """

    def __init__(
        self, agents: Dict[str, Agent], warnings: List[str], workspace: str, session_dir: str, team: Any
    ) -> None:
        #: The agents, by name.
        self.agents = agents
        #: What loading and assembly noticed (fields not honoured, connectors that did not connect...).
        self.warnings = warnings
        #: The workspace the agents work in.
        self.workspace = workspace
        #: Where their transcripts are.
        self.session_dir = session_dir
        self._team = team
        self._scratch: Optional[_Scratch] = None

    @property
    def on_demand_hooks(self) -> List[str]:
        """The home's on-demand hooks (``activation: on-demand``), sorted."""
        return list(self._team.on_demand_hooks())

    def enable_hook(self, session_id: str, hook: str) -> None:
        """Turn the on-demand hook ``hook`` on for the thread ``session_id`` and the sessions
        it spawns (handoff hops, agents used as tools), as ``sre run --enable-hook`` does.
        An unknown name raises ``ConfigError`` naming the known ones."""
        self._team.enable_hook(session_id, hook)

    def __getitem__(self, name: str) -> Agent:
        try:
            return self.agents[name]
        except KeyError:
            raise KeyError(f"no agent {name!r} in the home (agents: {sorted(self.agents)})") from None

    def __contains__(self, name: object) -> bool:
        return name in self.agents

    def __iter__(self) -> Iterator[str]:
        return iter(self.agents)

    def __len__(self) -> int:
        return len(self.agents)

    def run_thread_sync(self, agent: str, prompt: str, *, session_id: Optional[str] = None, max_handoffs: int = 8) -> List[Any]:
        """Run ``prompt`` with ``agent`` and follow its handoffs, each hop in its own session
        (``<thread>--handoff<N>-<agent>``, as ``sre run`` names them). Returns every hop's
        :class:`Outcome`; the last one holds the answer."""
        from ._agent import _new_session_id

        thread = session_id or _new_session_id()
        hops = []
        name, sid, task = agent, thread, prompt
        while True:
            outcome = self[name].run_sync(task, session_id=sid)
            hops.append(outcome)
            if outcome.cause != "handoff":
                return hops
            if len(hops) > max_handoffs:
                raise _native.SreHarnessError(f"thread {thread!r} handed off more than {max_handoffs} times")
            target, note = outcome.cause_detail.get("to"), outcome.cause_detail.get("note", "")
            # The same task text and hop names as `sre run` (one implementation, in Rust).
            task = _native.TeamHandle.handed_task(name, str(note), prompt)
            name, sid = str(target), _native.TeamHandle.hop_session_id(thread, len(hops), str(target))

    def __repr__(self) -> str:
        return f"Home(agents={sorted(self.agents)!r}, workspace={self.workspace!r})"


def load(
    dir: PathLike,
    *,
    model: Union[None, str, Provider, Model] = None,
    script: Optional[str] = None,
    script_path: Optional[PathLike] = None,
    workspace: Optional[PathLike] = None,
    approver: Optional[Union[Approver, Callable[[Dict[str, Any], str], Any]]] = None,
    cache_dir: Optional[PathLike] = None,
    only: Optional[Sequence[str]] = None,
) -> Home:
    """Load the agent home ``dir`` and assemble its agents.

    The model is exactly one of ``script`` / ``script_path`` (a ScriptedModel script,
    offline), ``model="env"`` (a provider from the environment; an agent's
    ``llm_model_name`` picks its model), a provider configured here
    (``sre_harness.OpenAI(...)``, ``Anthropic``, ``AzureOpenAI``) or a
    :class:`sre_harness.Model` of your own, for every agent. ``workspace`` defaults to a new temporary
    directory; repositories are cloned there, memory and transcripts live there.
    ``approver`` answers approval requests (``Review`` agents, ``ask`` hooks); without one
    they are denied. ``only`` assembles just these agents (and those they hand off to or
    use as tools). Every error of the files is raised at once as a ``ConfigError`` naming
    file:line:column and the field.
    """
    model_args = _model_args(model)
    # A temporary workspace unless told where: removed once neither the home nor any of its
    # agents is held any more.
    scratch = None
    if workspace is None:
        scratch = _Scratch("sre-harness-workspace-")
        workspace = scratch.path
    if approver is not None and not isinstance(approver, Approver):
        approver = Approver(approver)
    natives, warnings, session_dir, team = _native.load_home(
        os.fspath(dir),
        workspace=os.fspath(workspace),
        script=script,
        script_path=os.fspath(script_path) if script_path is not None else None,
        approver=approver,
        **model_args,
        cache_dir=os.fspath(cache_dir) if cache_dir is not None else None,
        only=list(only) if only is not None else None,
    )
    agents = {n.name: Agent._from_native(n) for n in natives}
    for agent in agents.values():
        agent._scratch = scratch
    home = Home(agents, list(warnings), os.fspath(workspace), os.fspath(session_dir), team)
    home._scratch = scratch
    return home
