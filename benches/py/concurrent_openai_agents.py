"""Many investigations at once in one asyncio process with openai-agents, the Python peer of
`concurrent` (see run_concurrency_bench.sh): N `Runner.run` of one agent (chat completions
against slow_model, one function tool), all started together. Prints one JSON line: wall
time, runs completed, peak RSS. `--http` picks the openai client's HTTP stack: its default
(httpx2), aiohttp (`openai[aiohttp]`), or httpx 1 (whose pool bookkeeping is O(connections)
per request, the slowest here).

    python concurrent_openai_agents.py --base-url http://127.0.0.1:PORT/v1 --sessions 1000
"""
import argparse
import asyncio
import json
import resource
import sys
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--http", choices=["default", "aiohttp", "httpx1"], default="default",
                    help="the openai client's HTTP stack: its default (httpx2), aiohttp, or httpx 1")
    args = ap.parse_args()

    from agents import (Agent, OpenAIChatCompletionsModel, Runner, function_tool,
                        set_tracing_disabled)
    from openai import AsyncOpenAI

    set_tracing_disabled(True)
    # As many connections as runs, so that no stack queues requests (sre-harness's pool
    # has no cap).
    n = args.sessions + 10
    if args.http == "default":
        from openai import DefaultAsyncHttpxClient
        import httpx2
        http = DefaultAsyncHttpxClient(limits=httpx2.Limits(max_connections=n, max_keepalive_connections=n))
    elif args.http == "aiohttp":
        from openai import DefaultAioHttpClient
        import httpx2
        http = DefaultAioHttpClient(limits=httpx2.Limits(max_connections=n, max_keepalive_connections=n))
    else:
        import httpx
        http = httpx.AsyncClient(limits=httpx.Limits(max_connections=n, max_keepalive_connections=n), timeout=120)
    client = AsyncOpenAI(base_url=args.base_url, api_key="bench-key", http_client=http)

    @function_tool
    def lookup(step: int) -> str:
        """Look up one step of the investigation."""
        return f"step {step}: 12 rows, p99 latency 840 ms"

    agent = Agent(
        name="investigator",
        instructions="You investigate checkout latency. Use lookup, then answer.",
        tools=[lookup],
        model=OpenAIChatCompletionsModel(model="slow-model", openai_client=client),
    )

    async def one(i: int) -> bool:
        try:
            result = await Runner.run(agent, "Checkout p99 latency doubled at 08:00. Why?", max_turns=50)
            return result.final_output == "done"
        except Exception as e:  # noqa: BLE001 - counted as not completed, reported
            print(f"inv-{i}: {e!r}", file=sys.stderr)
            return False

    async def all_runs() -> int:
        done = await asyncio.gather(*(one(i) for i in range(args.sessions)))
        await client.close()
        return sum(done)

    started = time.perf_counter()
    completed = asyncio.run(all_runs())
    wall = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"harness": f"openai-agents ({args.http} HTTP client, memory)", "sessions": args.sessions,
                      "completed": completed, "wall_s": wall, "peak_rss_mb": peak_mb}))


if __name__ == "__main__":
    main()
