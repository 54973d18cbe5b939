#!/usr/bin/env python3
"""PreToolUse on the command tools: a command or Python code that might run `git push`
does not run. Fixes stay on a local branch for a person to review (exit 2 + reason: the
call is refused).

It fails closed: a shell line is refused when it names git (any word holding "git") and
holds a `push` or `send-pack` word, or an alias to push; a word that is itself a command
line or code (`bash -lc '...'`, `python3 -c '...'`) is refused when it names both git and
push; so is Python code (ExecutePythonCode); a line that cannot be parsed is refused. So
`git stash push` or an `echo` mentioning a push is refused too: rephrase it."""
import json
import re
import shlex
import sys

PUSH_WORDS = {"push", "send-pack"}


def words(line: str) -> list[str]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    return list(lexer)


def pushes(line: str, depth: int = 0) -> bool:
    if depth > 4:
        return True
    try:
        ws = words(line)
    except ValueError:
        return True  # cannot tell: refuse
    names_git = any("git" in w.lower() for w in ws)
    if names_git and any(w in PUSH_WORDS or w.endswith("=push") for w in ws):
        return True
    # A word that is a command line or code of its own (`bash -lc '...'`, `python -c`).
    nested = [w for w in ws if w != line and re.search(r"\w", w) and re.search(r"\s|[;&|(]", w)]
    return any(code_pushes(w) or pushes(w, depth + 1) for w in nested)


def code_pushes(code: str) -> bool:
    return bool(re.search(r"git", code, re.I) and re.search(r"push|send-pack", code, re.I))


context = json.load(sys.stdin)
args = context.get("tool_input") or {}
command, code = args.get("command"), args.get("code")
if (isinstance(command, str) and pushes(command)) or (isinstance(code, str) and code_pushes(code)):
    print("blocked: this may run `git push`; pushing is not allowed, leave the branch for review",
          file=sys.stderr)
    sys.exit(2)
sys.exit(0)
