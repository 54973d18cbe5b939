#!/usr/bin/env python3
"""PreToolUse: a command that runs `git push` does not run. Fixes are left on a local branch
for a person to review (exit 2 + reason: the call is refused)."""
import json
import shlex
import sys

# git's options that take a value before the subcommand (`git -C repo push`).
VALUED = {"-C", "-c", "--git-dir", "--work-tree", "--namespace"}


def commands(command: str) -> list[list[str]]:
    """The simple commands of a shell line: words split at `;`, `&&`, `||`, `|`, `&`."""
    lexer = shlex.shlex(command.replace("\n", ";"), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    out: list[list[str]] = [[]]
    for token in lexer:
        if token and set(token) <= set(";&|()"):
            out.append([])
        else:
            out[-1].append(token)
    return out


def pushes(command: str) -> bool:
    try:
        parts = commands(command)
    except ValueError:
        return True  # cannot tell: refuse
    for words in parts:
        for i, w in enumerate(words):
            name = w.rsplit("/", 1)[-1]
            # A command line inside another: `bash -c '...'`, `eval ...`.
            if name in ("sh", "bash") and words[i + 1:i + 2] == ["-c"]:
                inner = words[i + 2:i + 3]
            else:
                inner = words[i + 1:] if name == "eval" else []
            if inner and pushes(" ".join(inner)):
                return True
            if name != "git":
                continue
            rest = words[i + 1:]
            while rest and rest[0].startswith("-"):
                rest = rest[2:] if rest[0] in VALUED else rest[1:]
            if rest and rest[0] == "push":
                return True
    return False


context = json.load(sys.stdin)
if pushes((context.get("tool_input") or {}).get("command", "")):
    print("blocked: pushing is not allowed; leave the branch for review", file=sys.stderr)
    sys.exit(2)
sys.exit(0)
