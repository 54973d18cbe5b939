#!/bin/bash
# One audit line per tool call, on stderr; never blocks.
input=$(cat)
field() { printf '%s' "$input" | jq -r "if .$1 == null then \"?\" else .$1 end"; }
echo "audit: agent=$(field agent_name) tool=$(field tool_name) succeeded=$(field tool_succeeded)" >&2
exit 0
