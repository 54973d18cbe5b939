"""Per-call overhead of a trivial Python tool: through the harness (in process) vs. the same
function run as a subprocess per call (`python -c`, the way a command tool would run it).

    python sre-py/bench/overhead.py [--calls N] [--subprocess-calls M]

Prints one line per figure (mean per call). The harness figures:

* `harness Tool.call path`: the Rust `Tool::call` of a Python tool (tokio blocking thread,
  GIL, JSON arguments -> conversion -> function -> JSON result), N calls in sequence;
* `agent loop, per tool call`: a ScriptedModel agent making N calls in one turn, end to
  end (model step, hooks, events, transcript), divided by N.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time

import sre_harness as sh
from sre_harness import _native

CODE = '''
def main(x: int, label: str = "n") -> dict:
    return {"label": label, "y": x + 1}
'''


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--subprocess-calls", type=int, default=30)
    args = ap.parse_args()

    tool = sh.Tool.from_source(name="inc", description="Add one.", code=CODE)
    args_json = json.dumps({"x": "41", "label": "bench"})

    # Plain Python call (the floor).
    t0 = time.perf_counter()
    for _ in range(args.calls):
        tool.fn(x=41, label="bench")
    plain = (time.perf_counter() - t0) / args.calls

    # Python-side wrapper only (conversion + JSON), no Rust.
    t0 = time.perf_counter()
    for _ in range(args.calls):
        tool._invoke(args_json, None, None)
    wrapper = (time.perf_counter() - t0) / args.calls

    # Through the harness's Tool path.
    _native._bench_tool(tool, args_json, 50)  # warm up the runtime and blocking pool
    harness = _native._bench_tool(tool, args_json, args.calls) / args.calls

    # Through an agent loop: one turn with N tool calls (bounded concurrency 8), end to end.
    n_agent = min(args.calls, 500)
    calls = "\n".join(f"      - tool: inc\n        args: {{x: {i}}}" for i in range(n_agent))
    script = f"turns:\n  - tool_calls:\n{calls}\n  - final: done\n"
    with tempfile.TemporaryDirectory() as d:
        agent = sh.Agent(script=script, tools=[tool], session_dir=d)
        t0 = time.perf_counter()
        outcome = agent.run_sync("bench")
        agent_per_call = (time.perf_counter() - t0) / n_agent
        assert outcome.answer == "done"

    # A subprocess per call: `python -c` importing nothing but json.
    runner = CODE + "\nimport json, sys\nprint(json.dumps(main(**json.loads(sys.argv[1]))))\n"
    t0 = time.perf_counter()
    for _ in range(args.subprocess_calls):
        out = subprocess.run([sys.executable, "-c", runner, json.dumps({"x": 41, "label": "bench"})],
                             capture_output=True, text=True, check=True)
        assert json.loads(out.stdout)["y"] == 42
    sub = (time.perf_counter() - t0) / args.subprocess_calls

    # Same, with `-S -I` (no site, isolated): the cheapest interpreter start-up.
    t0 = time.perf_counter()
    for _ in range(args.subprocess_calls):
        subprocess.run([sys.executable, "-S", "-I", "-c", runner, json.dumps({"x": 41})],
                       capture_output=True, text=True, check=True)
    sub_min = (time.perf_counter() - t0) / args.subprocess_calls

    def us(s: float) -> str:
        return f"{s * 1e6:10.1f} us"

    print(f"python {sys.version.split()[0]}, {args.calls} in-process calls, {args.subprocess_calls} subprocess calls")
    print(f"plain function call                : {us(plain)}")
    print(f"python wrapper (convert + JSON)    : {us(wrapper)}")
    print(f"harness Tool.call path (in process): {us(harness)}")
    print(f"agent loop, per tool call          : {us(agent_per_call)}  ({n_agent} calls in one turn)")
    print(f"subprocess per call (python -c)    : {us(sub)}")
    print(f"subprocess per call (python -S -I) : {us(sub_min)}")
    print(f"subprocess / harness               : {sub / harness:10.0f} x")


if __name__ == "__main__":
    main()
