#!/usr/bin/env bash
# Install the real MCP peers sre-mcp's tests run against. Idempotent.
#   - npm: @modelcontextprotocol/server-everything, @modelcontextprotocol/conformance, node@22
#     (from tests/peers/package-lock.json, into tests/peers/node_modules)
#   - PyPI: mcp (pinned, tests/peers/requirements.txt) into tests/peers/.venv
# Only the npm and PyPI registries are contacted.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
peers="$here/peers"

# npm: reinstall only when the lockfile changed since the last install.
stamp="$peers/node_modules/.sre-mcp-lock.sha"
want="$(sha256sum "$peers/package-lock.json" | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" || ! -x "$peers/node_modules/node/bin/node" ]]; then
  # `node@22` installs its binary with an install script; allow it explicitly.
  npm ci --prefix "$peers" --no-audit --no-fund --foreground-scripts
  echo "$want" > "$stamp"
fi
"$peers/node_modules/node/bin/node" --version >/dev/null

# Python venv with PyPI's `mcp` (needs python3 >= 3.10).
py="${PYTHON:-python3}"
if [[ ! -x "$peers/.venv/bin/python" ]]; then
  "$py" -m venv "$peers/.venv"
fi
pstamp="$peers/.venv/.sre-mcp-req.sha"
pwant="$(sha256sum "$peers/requirements.txt" | cut -d' ' -f1)"
if [[ ! -f "$pstamp" || "$(cat "$pstamp")" != "$pwant" ]]; then
  "$peers/.venv/bin/pip" install --quiet --disable-pip-version-check -r "$peers/requirements.txt"
  echo "$pwant" > "$pstamp"
fi
"$peers/.venv/bin/python" -c "import mcp.server.mcpserver, mcp.client.client" 

echo "sre-mcp peers ready in $peers"
