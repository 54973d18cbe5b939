#!/usr/bin/env bash
# Issue 18's figures, in one run, with the release `sre`:
#   1. replay fidelity: one recorded investigation (a subagent, a refused write, a
#      compaction, real tool calls) replayed N times (default 100): how many reproduce it
#      identically (every request byte, every tool call, the answer), and the time a replay
#      takes;
#   2. the eval runner: the 21-case starter suite with the scripted right model, --jobs 1
#      and --jobs 4 (wall time of the suite, and per case), then the wrong model (the
#      table that proves the scoring discriminates).
# Usage: benches/run_eval_bench.sh [--replays N]
set -euo pipefail
cd "$(dirname "$0")/.."
REPLAYS=100
while [ $# -gt 0 ]; do
  case "$1" in
    --replays) REPLAYS="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
cargo build -q --release -p sre-host --bin sre
SRE="$PWD/target/release/sre"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# 1. Replay fidelity.
H="$OUT/home"; mkdir -p "$H/agents" "$OUT/ws"
printf 'kind: ExtendedAgent\nspec:\n  name: lead\n  system_prompt: You lead.\n  agents_as_tools: [reader]\n  tools: [Bash]\n' > "$H/agents/lead.yaml"
printf 'kind: ExtendedAgent\nspec:\n  name: reader\n  system_prompt: You read.\n  agent_type: ReadOnly\n' > "$H/agents/reader.yaml"
printf "kind: HookConfiguration\nspec:\n  hooks:\n    - name: no-writes\n      event: PreToolUse\n      type: command\n      matcher: shell\n      command: 'if grep -q \">\"; then echo no writes >&2; exit 2; fi'\n" > "$H/hooks.yaml"
LONG=$(seq -f 'line%g' 0 1499 | tr '\n' ' ')
cat > "$OUT/script.yaml" <<YAML
model: {context_window: 6000}
agents:
  lead:
    - tool_calls:
        - {tool: shell, args: {command: 'cat notes.txt'}}
    - tool_calls:
        - {tool: ask_reader, args: {task: 'what files are there?'}}
    - tool_calls:
        - {tool: shell, args: {command: 'echo x > scratch/x.txt'}}
    - final: done
  ask_reader:
    - final: 'only notes.md: $LONG'
  compactor:
    - final: 'The reader found only notes.md.'
YAML
echo "deploy v2 at 14:02" > "$OUT/ws/notes.txt"
"$SRE" run --agent lead --approve none --session rec-1 --script "$OUT/script.yaml" \
  --workspace "$OUT/ws" --record "$OUT/rec.jsonl" "$H" "look around" >/dev/null 2>&1
same=0
start=$(date +%s.%N)
for _ in $(seq "$REPLAYS"); do
  if "$SRE" replay "$OUT/rec.jsonl" 2>"$OUT/replay.err"; then
    grep -q '^reproduced:' "$OUT/replay.err" && same=$((same + 1))
  fi
done
end=$(date +%s.%N)
echo "replay fidelity: $same of $REPLAYS replays identical to the recording ($(grep -c '"kind":"model"' "$OUT/rec.jsonl") model calls, $(grep -c '"kind":"tool"' "$OUT/rec.jsonl") tool calls each); $(echo "($end - $start) * 1000 / $REPLAYS" | bc) ms per replay (process start included)"

# 2. The eval runner.
suite_ms() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['wall_ms'])" "$1/results.json"; }
for jobs in 1 4; do
  "$SRE" eval examples/evals/starter --script right --jobs "$jobs" --out "$OUT/right-$jobs" >"$OUT/right-$jobs.txt"
  ms=$(suite_ms "$OUT/right-$jobs")
  echo "starter suite, scripted right model, --jobs $jobs: $(tail -2 "$OUT/right-$jobs.txt" | head -1 | cut -d';' -f1); suite ${ms} ms, $(echo "$ms / 21" | bc) ms per case"
done
"$SRE" eval examples/evals/starter --script wrong --jobs 4 --out "$OUT/wrong" >"$OUT/wrong.txt" || true
echo "starter suite, scripted wrong model: $(tail -2 "$OUT/wrong.txt" | head -1 | cut -d';' -f1)"
"$SRE" eval compare "$OUT/wrong" "$OUT/right-4" | tail -1
