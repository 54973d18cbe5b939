#!/usr/bin/env python3
"""The published walkthrough's PostToolUse allowlist: only these command prefixes are
accepted; anything else is reported back to the agent as blocked (exit 2 + reason)."""
import json
import shlex
import sys

ALLOWED = [
    ["psql", "-c"],
    ["pg_isready"],
    ["psql", "--version"],
    ["scripts/terminate-idle-in-transaction.sh"],
]

context = json.load(sys.stdin)
command = (context.get("tool_input") or {}).get("command", "")
try:
    words = shlex.split(command)
except ValueError:
    print(f"blocked: cannot parse {command!r}", file=sys.stderr)
    sys.exit(2)
for prefix in ALLOWED:
    if words[: len(prefix)] == prefix:
        print(f"allowed: {' '.join(prefix)}", file=sys.stderr)
        sys.exit(0)
print(f"blocked: `{command}` is not on the allowlist", file=sys.stderr)
sys.exit(2)
