//! Which shell command lines only read: the `shell` tool's per-call annotations.
//!
//! A line is read-only when every simple command it would run (pipelines, lists,
//! substitutions included; parsed by `sre_core::shell`) is a program of a short list of
//! readers, called without the flags that make some of them write or run other programs,
//! and no redirection writes a file. Anything else (an unknown program, a variable as the
//! program, a line the parser does not model) is not read-only: the classification only
//! ever errs towards "may change the world". The loop uses it to re-run a read-only call
//! after a crash instead of reporting its outcome as unknown; hooks and approvers see it as
//! `tool_annotations`.

use sre_core::ToolAnnotations;
use sre_core::shell::{self, SimpleCommand};

/// Programs that only read their inputs and write to stdout, with the flags (by prefix)
/// that would make them write a file or run a program.
const READERS: &[(&str, &[&str])] = &[
    ("cat", &[]),
    ("head", &[]),
    ("tail", &[]),
    ("grep", &[]),
    ("egrep", &[]),
    ("fgrep", &[]),
    ("rg", &["--pre"]),
    ("wc", &["--files0-from"]),
    ("cut", &[]),
    (
        "sort",
        &[
            "-o",
            "--output",
            "--compress-program",
            "-T",
            "--temporary-directory",
        ],
    ),
    ("uniq", &[]),
    ("tr", &[]),
    ("nl", &[]),
    ("column", &[]),
    ("comm", &[]),
    ("paste", &[]),
    ("fold", &[]),
    ("rev", &[]),
    ("tac", &[]),
    ("seq", &[]),
    ("ls", &[]),
    ("stat", &[]),
    ("du", &[]),
    ("df", &[]),
    ("file", &[]),
    ("date", &["-s", "--set"]),
    ("echo", &[]),
    ("printf", &[]),
    ("true", &[]),
    ("false", &[]),
    ("basename", &[]),
    ("dirname", &[]),
    ("realpath", &[]),
    ("readlink", &[]),
    ("jq", &[]),
    ("sha256sum", &[]),
    ("md5sum", &[]),
    ("base64", &[]),
    ("zcat", &[]),
];

/// The annotations of a `shell` call running `command`.
pub(crate) fn shell_call_annotations(command: &str) -> ToolAnnotations {
    if is_read_only(command) {
        ToolAnnotations::read_only()
    } else {
        ToolAnnotations::unrestricted()
    }
}

/// Whether `command` only reads (see the module documentation).
pub fn is_read_only(command: &str) -> bool {
    match shell::parse(command) {
        Ok(commands) => !commands.is_empty() && commands.iter().all(reads_only),
        Err(_) => false,
    }
}

fn reads_only(cmd: &SimpleCommand) -> bool {
    if !cmd.assignments.is_empty() || cmd.redirects.iter().any(|r| r.writes_file()) {
        return false;
    }
    let Some((program, args)) = cmd.words.split_first() else {
        // A line of only redirections (`< file`) runs nothing.
        return true;
    };
    if !program.literal {
        return false;
    }
    let Some((_, refused)) = READERS.iter().find(|(name, _)| *name == program.value) else {
        return false;
    };
    args.iter().all(|a| {
        // A flag's value may depend on the run (`-o "$X"`): judge the written text too.
        let text = if a.literal { &a.value } else { &a.raw };
        !refused.iter().any(|flag| text.starts_with(flag))
    })
}

#[cfg(test)]
mod tests {
    use super::is_read_only;

    #[test]
    fn readers_are_read_only_and_anything_else_is_not() {
        for line in [
            "grep -c PoolTimeoutError logs/checkout-api.log",
            "grep -o 'waiters=[0-9]*' logs/app.log | cut -d= -f2 | sort -n | tail -1",
            "grep -c x a; grep -c y b && wc -l c",
            "cat deploy/history.log 2>/dev/null | head -5",
            "echo $(grep -c x log)",
            "jq '.items[] | .name' data.json",
        ] {
            assert!(is_read_only(line), "{line}");
        }
        for line in [
            "kubectl delete pod x",
            "rm -rf scratch",
            "grep x log > scratch/out.txt",
            "grep x log | tee scratch/out.txt",
            "sort -o out.txt in.txt",
            "sort --compress-program=sh in.txt",
            "python3 -c 'print(1)'",
            "$CMD logs",
            "X=1 grep x log",
            "grep x log; curl -X POST http://example.com",
            "for f in *; do cat $f; done",
            "",
        ] {
            assert!(!is_read_only(line), "{line}");
        }
    }
}
