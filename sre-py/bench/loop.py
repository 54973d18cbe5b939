"""Per-turn cost of the agent loop when the model step is in Python (an `sre_harness.Model`)
vs in Rust (ScriptedModel), side by side in one run: the same loop, tool, hooks (none) and
JSONL session store; each turn asks for one call of the same trivial Python tool, the last
turn answers. The difference is what crossing into Python costs per model call.

    python sre-py/bench/loop.py [--turns N] [--runs R]

Prints the median per turn over R runs of N turns each.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import Any, Dict, List

import sre_harness as sh


@sh.tool(description="Add one.")
def inc(x: int) -> dict:
    return {"y": x + 1}


class Counting(sh.Model):
    """Asks for `inc` until `turns` model calls were made, then answers (no clock, no I/O)."""

    name = "bench-python-model"

    def __init__(self, turns: int) -> None:
        self.turns = turns

    def complete(self, request: Dict[str, Any]) -> Dict[str, Any]:
        done = sum(1 for m in request["messages"] if m["role"] == "assistant")
        if done + 1 < self.turns:
            call = {"type": "tool_use", "id": f"c{done}", "name": "inc", "input": {"x": done}}
            return {"content": [call], "usage": {"input_tokens": 1, "output_tokens": 1}}
        return {"content": [{"type": "text", "text": "done"}], "usage": {"input_tokens": 1, "output_tokens": 1}}


def script(turns: int) -> str:
    steps = [f"  - tool_calls:\n      - {{tool: inc, args: {{x: {i}}}}}" for i in range(turns - 1)]
    return "turns:\n" + "\n".join(steps) + "\n  - final: done\n"


def per_turn(make: Any, turns: int, runs: int) -> List[float]:
    out = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            agent = make(tmp)
            t0 = time.perf_counter()
            outcome = agent.run_sync("count")
            out.append((time.perf_counter() - t0) / turns)
            assert outcome.turns == turns and outcome.answer == "done", outcome
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--turns", type=int, default=200)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    rust = per_turn(lambda d: sh.Agent(script=script(a.turns), tools=[inc], session_dir=d, tool_concurrency=1, max_turns=a.turns + 1), a.turns, a.runs)
    python = per_turn(lambda d: sh.Agent(model=Counting(a.turns), tools=[inc], session_dir=d, tool_concurrency=1, max_turns=a.turns + 1), a.turns, a.runs)
    mr, mp = statistics.median(rust), statistics.median(python)
    print(f"{a.turns} turns x {a.runs} runs, median per turn (loop + one Python tool call + JSONL store):")
    print(f"  model step in Rust (ScriptedModel):  {mr * 1e6:8.0f} us")
    print(f"  model step in Python (sh.Model):     {mp * 1e6:8.0f} us")
    print(f"  the Python model step costs          {(mp - mr) * 1e6:8.0f} us more per turn")


if __name__ == "__main__":
    main()
