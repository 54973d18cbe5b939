#!/usr/bin/env bash
# ticketbot, the sample service of the daily LLM-error triage (issue 17c), in WORKSPACE:
#
#   ticketbot-lab.sh init WORKSPACE        repos/ticketbot: its git history (the tools, the
#                                          routes, the config and the nightly digest);
#                                          `origin` is a bare repository in remote/.
#   ticketbot-lab.sh day WORKSPACE DATE    logs/DATE.jsonl: the day's agent sessions as
#                                          ticketbot's code at repos/ticketbot runs them,
#                                          run by the harness against a local provider
#                                          that injects real faults (`sre-lab ticketbot-day`,
#                                          SRE_LAB, else on PATH): the harness's own events.
set -euo pipefail
cmd="${1:-}"; ws="${2:-}"
[ -n "$cmd" ] && [ -n "$ws" ] || { echo "usage: $0 init WORKSPACE | day WORKSPACE DATE" >&2; exit 2; }
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=git-repo.sh
. "$here/git-repo.sh"
src="$here/ticketbot"
lab="${SRE_LAB:-sre-lab}"
case "$cmd" in
init)
  [ ! -e "$ws/repos/ticketbot" ] || { echo "$ws already holds a ticketbot lab" >&2; exit 2; }
  mkdir -p "$ws/repos" "$ws/logs" "$ws/remote"
  ws="$(cd "$ws" && pwd)"
  repo="$ws/repos/ticketbot"
  new_repo "$repo" "Ticketbot Team" "ticketbot@example.com"
  mkdir -p "$repo/ticketbot" "$repo/tests"
  : >"$repo/ticketbot/__init__.py"
  : >"$repo/tests/__init__.py"
  cp "$src/config.py" "$src/routes.py" "$repo/ticketbot/"
  sed -e '/^TAG_TICKET = {/,/^}/d' -e 's/\[LOOKUP_TICKET\] if route == "summarize" else \[LOOKUP_TICKET, TAG_TICKET\]/[LOOKUP_TICKET]/' \
    "$src/tools.py" >"$repo/ticketbot/tools.py"
  printf '# ticketbot\n\nSummarizes and triages support tickets with an LLM agent.\nTests: `python3 -m unittest discover -s tests -t .`\n' >"$repo/README.md"
  commit "$repo" "2026-10-05T09:00:00Z" "Dana Reyes" "ticketbot: ticket summaries for the support console"
  cp "$src/batch.py" "$repo/ticketbot/batch.py"
  commit "$repo" "2026-10-19T14:30:00Z" "Omar Haddad" "Nightly digest of open tickets at 02:00"
  cp "$src/tools.py" "$repo/ticketbot/tools.py"
  cp "$src/test_routes.py" "$repo/tests/test_routes.py"
  commit "$repo" "2026-11-03T11:15:00Z" "Dana Reyes" "Triage route: the agent tags new tickets"
  git init -q --bare -b main "$ws/remote/ticketbot.git"
  git -C "$repo" remote add origin "$ws/remote/ticketbot.git"
  git -C "$repo" push -q origin main
  ;;
day)
  date="${3:?a date}"
  ws="$(cd "$ws" && pwd)"
  plan="$(mktemp)"
  trap 'rm -f "$plan"' EXIT
  python3 "$here/ticketbot_day.py" "$ws/repos/ticketbot" "$date" >"$plan"
  mkdir -p "$ws/logs"
  : >"$ws/logs/$date.jsonl"
  "$lab" ticketbot-day --sessions "$plan" --out "$ws/logs/$date.jsonl"
  ;;
*) echo "unknown command $cmd" >&2; exit 2 ;;
esac
