#!/usr/bin/env bash
# Builds the case's git repository in the workspace (run there before the agent).
set -e
mkdir -p gateway && cd gateway
git init -q -b main
git config user.email dev@example.com && git config user.name dev
printf 'SECTIONS = ["instructions", "tools", "examples", "request"]\n' > prompt.py
git add -A && git commit -qm "prompt builder"
printf 'timeout = 30\n' > settings.py && git add -A && git commit -qm "settings: timeout"
printf 'SECTIONS = ["request", "instructions", "tools", "examples"]\n' > prompt.py
git add -A && git commit -qm "reorder prompt sections"
