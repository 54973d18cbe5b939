"""Measuring investigations: record a run as a cassette, replay it, evaluate a suite.

The same functions as ``sre run --record``, ``sre replay`` and ``sre eval``::

    import sre_harness as sh

    sh.record("examples/team", "tls-monitor", "Audit api.example.com",
              cassette="run.jsonl", workspace="ws", session_id="t-1", script="script.yaml")
    report = sh.replay("run.jsonl")              # deterministic: same requests, same answer
    assert report["reproduced"], report["divergences"][:1]

    results = sh.evaluate("examples/evals/starter", script="right", jobs=4)
    print(results["summary"]["pass_rate"])
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional, Union

from . import _native

PathLike = Union[str, "os.PathLike[str]"]


def record(
    home: PathLike,
    agent: str,
    task: str,
    *,
    cassette: PathLike,
    workspace: PathLike,
    session_id: str,
    script: Optional[PathLike] = None,
) -> Optional[str]:
    """Run ``agent`` of the agent home ``home`` on ``task`` over ``workspace`` and record
    every model call, tool call and event into ``cassette`` (secrets of the environment
    redacted). The model answers from ``script`` (offline), else from the provider the
    environment configures. Returns the answer."""
    return _native.record(
        os.fspath(home),
        agent,
        task,
        cassette=os.fspath(cassette),
        workspace=os.fspath(workspace),
        session_id=session_id,
        script_path=None if script is None else os.fspath(script),
    )


def replay(
    cassette: PathLike,
    *,
    home: Optional[PathLike] = None,
    workspace: Optional[PathLike] = None,
    model: Optional[str] = None,
    script: Optional[PathLike] = None,
    live_tools: bool = False,
) -> Dict[str, Any]:
    """Replay ``cassette``. Without ``model``/``script`` the model answers from the
    cassette and every request is compared with the recorded one; the tools answer from it
    too, or run for real with ``live_tools`` (outputs compared). With another model, its
    tool calls are answered from the cassette. Returns the report: ``reproduced``,
    ``divergences`` (the first says where the runs parted), ``model_calls``,
    ``tool_calls``, ``answer``, ``recorded_answer``, ``error``."""
    text = _native.replay(
        os.fspath(cassette),
        home=None if home is None else os.fspath(home),
        workspace=None if workspace is None else os.fspath(workspace),
        model=model,
        script_path=None if script is None else os.fspath(script),
        live_tools=live_tools,
    )
    report: Dict[str, Any] = json.loads(text)
    return report


def evaluate(
    suite: PathLike,
    *,
    script: Optional[str] = None,
    model: Optional[str] = None,
    judge: str = "lexical",
    home: Optional[PathLike] = None,
    agent: Optional[str] = None,
    repeat: int = 1,
    jobs: int = 1,
    only: Optional[List[str]] = None,
    timeout_secs: int = 600,
) -> Dict[str, Any]:
    """Run the eval suite ``suite`` (HolmesGPT's case format and ours) and return its
    results: ``runs`` (per case and run: ``status``, ``reasons``, ``answer``, ``verdict``,
    tokens, cost, time) plus ``summary`` (``runs``, ``passed``, ``pass_rate``,
    ``cost_usd``). ``script`` names a scripted model (a file, or ``scripts/NAME.yaml`` of
    each case); ``judge`` is ``lexical``, ``env``, ``env:MODEL`` or ``script:FILE``."""
    text = _native.evaluate(
        os.fspath(suite),
        script=script,
        model=model,
        judge=judge,
        home=None if home is None else os.fspath(home),
        agent=agent,
        repeat=repeat,
        jobs=jobs,
        only=only,
        timeout_secs=timeout_secs,
    )
    results: Dict[str, Any] = json.loads(text)
    scored = [r for r in results["runs"] if r["status"] != "skipped"]
    passed = sum(1 for r in scored if r["status"] == "passed")
    results["summary"] = {
        "runs": len(scored),
        "passed": passed,
        "pass_rate": passed / len(scored) if scored else 0.0,
        "cost_usd": sum(r["cost_usd"] for r in scored),
    }
    return results
