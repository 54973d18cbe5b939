"""Measuring investigations from Python: record a run, replay it (identically, after a
change, with another model), and evaluate the starter suite with right and wrong models."""

from __future__ import annotations

from pathlib import Path

import pytest

import sre_harness as sh

REPO = Path(__file__).resolve().parents[2]
STARTER = REPO / "examples" / "evals" / "starter"


def _home(tmp: Path) -> Path:
    home = tmp / "home"
    (home / "agents").mkdir(parents=True)
    (home / "agents" / "lead.yaml").write_text(
        "kind: ExtendedAgent\nspec:\n  name: lead\n  system_prompt: You lead.\n  tools: [Bash]\n"
    )
    (tmp / "script.yaml").write_text(
        "turns:\n"
        "  - tool_calls:\n      - {tool: shell, args: {command: 'cat notes.txt'}}\n"
        "  - expect: {last_message_contains: ['v2 at 14:02']}\n    final: v2 shipped at 14:02\n"
    )
    (tmp / "ws").mkdir()
    (tmp / "ws" / "notes.txt").write_text("deploy v2 at 14:02\n")
    return home


def test_a_recorded_run_replays_identically_and_a_change_is_reported(tmp_path: Path) -> None:
    home = _home(tmp_path)
    cassette = tmp_path / "run.jsonl"
    answer = sh.record(
        home, "lead", "what shipped?", cassette=cassette, workspace=tmp_path / "ws",
        session_id="py-1", script=tmp_path / "script.yaml",
    )
    assert answer == "v2 shipped at 14:02"
    report = sh.replay(cassette)
    assert report["reproduced"], report
    assert (report["model_calls"], report["tool_calls"]) == (2, 1)
    # The file changed since: replayed tools still say what was recorded, live ones do not.
    (tmp_path / "ws" / "notes.txt").write_text("deploy v3 at 15:00\n")
    assert sh.replay(cassette)["reproduced"]
    live = sh.replay(cassette, live_tools=True)
    assert not live["reproduced"]
    assert "tool output differs" in live["divergences"][0]
    # Another model, answered from the cassette.
    other = tmp_path / "other.yaml"
    other.write_text("turns:\n  - tool_calls:\n      - {tool: shell, args: {command: 'cat notes.txt'}}\n  - final: it was v2\n")
    report = sh.replay(cassette, script=other)
    assert report["other_model"] and report["answer"] == "it was v2"
    assert report["recorded_answer"] == "v2 shipped at 14:02"


def test_a_missing_cassette_raises(tmp_path: Path) -> None:
    with pytest.raises(sh.SreHarnessError, match="nope.jsonl"):
        sh.replay(tmp_path / "nope.jsonl")


def test_the_starter_suite_scores_right_and_wrong_models_apart() -> None:
    only = ["01_pool", "08_dependency", "18_crashloop"]
    right = sh.evaluate(STARTER, script="right", only=only, jobs=2)
    assert right["summary"]["pass_rate"] == 1.0, [r["reasons"] for r in right["runs"]]
    assert {r["case"] for r in right["runs"]} == {
        "01_pool_exhaustion", "08_dependency_outage", "18_crashloop_missing_env",
    }
    wrong = sh.evaluate(STARTER, script="wrong", only=only)
    assert wrong["summary"]["passed"] == 0
    assert all(r["reasons"] for r in wrong["runs"])
    with pytest.raises(sh.ConfigError, match="lexical, env"):
        sh.evaluate(STARTER, script="right", judge="oracle")
