#!/usr/bin/env bash
# Many investigations at once, and `sre serve` under load (issue 15's figures), in one run:
#   1. N concurrent investigations (10 model calls each, the model answering after 500 ms)
#      for N = 10, 100, 1000: sre-harness in one process (transcripts in memory, and
#      JSONL fsynced), openai-agents in one asyncio process (in memory), and the whole
#      `sre serve` (triggers over HTTP, SQLite, JSONL sessions) - all against the same
#      slow_model server;
#   2. a burst of 1000 webhooks to `sre serve`: stored, acknowledged, latency;
#   3. 100 parked approvals across a kill -9: time until all are resumable.
# Usage: benches/run_concurrency_bench.sh [--sizes "10 100 1000"] [--no-python]
# The Python peer runs from $PEERS_VENV (default /tmp/peers-venv; created if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES="10 100 1000"
PYTHON_PEER=1
while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) SIZES="$2"; shift 2 ;;
    --no-python) PYTHON_PEER=0; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
VENV="${PEERS_VENV:-/tmp/peers-venv}"
if [ "$PYTHON_PEER" = 1 ] && ! "$VENV/bin/python" -c "import agents, aiohttp, httpx_aiohttp" 2>/dev/null; then
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q openai-agents==0.24.0 'openai[aiohttp]'
fi
cargo build -q --release -p benches --bin slow_model --bin concurrent --bin serve_load -p sre-host --bin sre
R=target/release
OUT=$(mktemp -d)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; rm -rf "$OUT"' EXIT
model() { # name, slow_model args...: started in the background, its URL in $OUT/name.url
  local name=$1; shift
  "$R/slow_model" --port-file "$OUT/$name.port" "$@" > /dev/null & PIDS+=($!)
  for _ in $(seq 50); do [ -s "$OUT/$name.port" ] && break; sleep 0.1; done
  echo "http://127.0.0.1:$(cat "$OUT/$name.port")/v1" > "$OUT/$name.url"
}
model slow --delay-ms 500 --calls 10 --tool lookup --args '{"step": 1}'
model slow_read --delay-ms 500 --calls 10 --tool read_file --args '{"path": "notes.txt"}'
model instant --delay-ms 0 --calls 1
model write --delay-ms 0 --calls 2 --tool shell --args '{"command": "echo fixed >> scratch/fix.txt"}'
SLOW=$(cat "$OUT/slow.url"); SLOW_READ=$(cat "$OUT/slow_read.url")
INSTANT=$(cat "$OUT/instant.url"); WRITE=$(cat "$OUT/write.url")
for n in $SIZES; do
  "$R/concurrent" --base-url "$SLOW" --sessions "$n" --store memory >> "$OUT/concurrency.jsonl"
  "$R/concurrent" --base-url "$SLOW" --sessions "$n" --store jsonl >> "$OUT/concurrency.jsonl"
  "$R/serve_load" --mode investigations --n "$n" --model-url "$SLOW_READ" >> "$OUT/concurrency.jsonl"
  if [ "$PYTHON_PEER" = 1 ]; then
    for http in default aiohttp; do
      "$VENV/bin/python" benches/py/concurrent_openai_agents.py --base-url "$SLOW" --sessions "$n" \
        --http "$http" >> "$OUT/concurrency.jsonl"
    done
  fi
done
"$R/serve_load" --mode burst --n 1000 --model-url "$INSTANT" >> "$OUT/serve.jsonl"
"$R/serve_load" --mode burst --n 1000 --routed --model-url "$INSTANT" >> "$OUT/serve.jsonl"
"$R/serve_load" --mode restart --n 100 --model-url "$WRITE" >> "$OUT/serve.jsonl"
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
rows = [json.loads(l) for l in open(f"{out}/concurrency.jsonl")]
print("## Concurrent investigations (10 model calls each, 500 ms per call: ideal wall 5.0 s)\n")
print("| harness | sessions | completed | wall s | wall / ideal | peak RSS MB |")
print("|---|---|---|---|---|---|")
for r in rows:
    name = r.get("harness")
    print(f"| {name} | {r['sessions']} | {r['completed']} | {r['wall_s']:.2f} | {r['wall_s']/5.0:.2f}x | {r['peak_rss_mb']:.0f} |")
print("\n## sre serve\n")
for l in open(f"{out}/serve.jsonl"):
    r = json.loads(l)
    if r["mode"] == "burst":
        print(f"- burst of {r['deliveries']} webhooks ({r['config']}): {r['acknowledged_202']} acknowledged 202, "
              f"{r['stored']} stored, errors {r['errors']}; ack p50 {r['ack_ms_p50']:.0f} ms, p99 {r['ack_ms_p99']:.0f} ms, "
              f"max {r['ack_ms_max']:.0f} ms; all in {r['wall_s']:.2f} s; server peak RSS {r['server_peak_rss_mb']:.0f} MB")
    else:
        print(f"- restart with {r['parked']} parked approvals (kill -9): listening after {r['restart_listening_s']*1000:.0f} ms, "
              f"all {r['parked']} listed pending after {r['restart_all_resumable_s']*1000:.0f} ms; {r['approved']} approved, "
              f"all completed {r['approve_to_all_completed_s']:.2f} s later; the write ran {r['writes_done']} times")
PY
