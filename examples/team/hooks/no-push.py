#!/usr/bin/env python3
"""PreToolUse: a command that runs `git push` does not run. Fixes are left on a local branch
for a person to review (exit 2 + reason: the call is refused)."""
import json
import shlex
import sys

# git's options that take a value before the subcommand (`git -C repo push`).
VALUED = {"-C", "-c", "--git-dir", "--work-tree", "--namespace"}
# Commands that run the command after them.
WRAPPERS = {"sudo", "env", "command", "exec", "time", "nohup", "nice", "xargs", "timeout"}


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
        # The command word: after variable assignments and wrappers (`sudo`, `env`...).
        wrapped = False
        while words and (
            "=" in words[0]
            or words[0].rsplit("/", 1)[-1] in WRAPPERS
            or (wrapped and (words[0].startswith("-") or words[0][:1].isdigit()))
        ):
            wrapped = wrapped or words[0].rsplit("/", 1)[-1] in WRAPPERS
            words = words[1:]
        if not words:
            continue
        name = words[0].rsplit("/", 1)[-1]
        # A command line inside another: `bash -c '...'`, `eval ...`.
        if name in ("sh", "bash") and words[1:2] == ["-c"]:
            if words[2:3] and pushes(words[2]):
                return True
        elif name == "eval":
            if pushes(" ".join(words[1:])):
                return True
        elif name == "git":
            rest = words[1:]
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
