//! The grep tool finds exactly what `rg` finds, on a generated tree (`common/tree.rs`):
//! the same bytes on every machine, with nested crates, logs, CRLF and Latin-1 lines,
//! Unicode, a 160 KB line, binary files and every kind of ignore rule.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "common/tree.rs"]
mod tree;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use sre_tools::search::GrepArgs;
use sre_tools::{Grep, GrepLimits, MountMode, Workspace};

fn rg(dir: &Path, args: &[&str]) -> BTreeSet<String> {
    let out = Command::new("rg")
        .current_dir(dir)
        .args(["--no-config", "--no-heading", "--with-filename", "-n", "--color", "never", "--no-messages"])
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("`rg` (ripgrep) is required for the grep parity test but could not run: {e}. Install it (Debian: `apt-get install ripgrep`).")
        });
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "rg {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        // rg notes where it stopped in a binary file; that is not a match.
        .filter(|l| !l.contains(": WARNING: stopped searching binary file"))
        .map(key)
        .collect()
}

/// The whole `path:line:text` line (a trailing CR is not part of the text).
fn key(line: &str) -> String {
    line.trim_end_matches('\r').to_string()
}

#[test]
fn grep_matches_ripgrep_on_a_generated_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let dir: PathBuf = tmp.path().join("tree");
    tree::generate(&dir, tree::Shape::TEST);
    let (files, bytes) = tree::size(&dir);
    println!("generated tree: {files} files, {bytes} bytes");
    let ws = Workspace::builder(&dir)
        .mount(".", MountMode::ReadOnly)
        .build()
        .unwrap();
    let grep = Grep::new(ws).with_limits(GrepLimits {
        default_matches: usize::MAX,
        max_matches: usize::MAX,
        max_bytes: usize::MAX,
        max_line_bytes: usize::MAX,
        threads: 0,
    });
    let cases: Vec<(GrepArgs, Vec<&str>)> = vec![
        (
            GrepArgs {
                pattern: r"fn\s+landlock_\w+".into(),
                ..Default::default()
            },
            vec![r"fn\s+landlock_\w+"],
        ),
        (
            GrepArgs {
                pattern: "unsafe impl Send".into(),
                fixed_strings: true,
                ..Default::default()
            },
            vec!["-F", "unsafe impl Send"],
        ),
        (
            GrepArgs {
                pattern: "deadlock".into(),
                case_insensitive: true,
                ..Default::default()
            },
            vec!["-i", "deadlock"],
        ),
        (
            GrepArgs {
                pattern: r"TODO\(|FIXME:".into(),
                glob: vec!["*.rs".into()],
                ..Default::default()
            },
            vec!["-g", "*.rs", r"TODO\(|FIXME:"],
        ),
        (
            GrepArgs {
                pattern: r"^\s*#\[non_exhaustive\]$".into(),
                ..Default::default()
            },
            vec![r"^\s*#\[non_exhaustive\]$"],
        ),
        (
            GrepArgs {
                pattern: "дедлок".into(),
                case_insensitive: true,
                ..Default::default()
            },
            vec!["-i", "дедлок"],
        ),
        (
            GrepArgs {
                pattern: "latency_ms=2999[0-9]".into(),
                glob: vec!["logs/checkout/**".into(), "!*-1?.log".into()],
                ..Default::default()
            },
            vec![
                "-g",
                "logs/checkout/**",
                "-g",
                "!*-1?.log",
                "latency_ms=2999[0-9]",
            ],
        ),
    ];
    let mut deadlock = BTreeSet::new();
    for (args, rg_args) in cases {
        let expected = rg(&dir, &rg_args);
        let out = grep.search(&args, None).unwrap();
        let got: BTreeSet<String> = out
            .lines()
            .filter(|l| !l.starts_with("["))
            .map(key)
            .collect();
        assert!(
            !expected.is_empty(),
            "pattern {:?} matched nothing in {}; pick another",
            args.pattern,
            dir.display()
        );
        let missing: Vec<_> = expected.difference(&got).take(5).collect();
        let extra: Vec<_> = got.difference(&expected).take(5).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "pattern {:?}: {} rg matches, {} ours; missing {missing:?}, extra {extra:?}",
            args.pattern,
            expected.len(),
            got.len()
        );
        assert!(
            out.contains(&format!("[{} matching lines in", expected.len())),
            "{}",
            out.lines().last().unwrap_or("")
        );
        if args.pattern == "deadlock" {
            deadlock = got;
        }
    }
    // The tree exercises what it claims to: ignored, hidden and early-binary files hold
    // matches that neither tool reports; the rest is found, odd encodings included.
    let paths: BTreeSet<&str> = deadlock
        .iter()
        .map(|l| l.split(':').next().unwrap())
        .collect();
    for hidden in [
        "target/",
        "vendor/",
        ".cache/",
        "/generated/",
        "scratch.tmp",
        "bin/early.bin",
    ] {
        assert!(
            !paths.iter().any(|p| p.contains(hidden)),
            "{hidden} should be skipped"
        );
    }
    for shown in ["bin/late.dat", "data/min.json", "docs/postmortem.md"] {
        assert!(paths.contains(shown), "{shown} should match: {paths:?}");
    }
    assert!(
        deadlock.iter().any(|l| l.contains("caf\u{fffd} deadlock")),
        "Latin-1 line"
    );
    assert!(
        !deadlock
            .iter()
            .any(|l| l.starts_with("bin/late.dat") && l.contains("binary tail")),
        "nothing after the NUL byte"
    );
    assert!(
        deadlock.iter().any(|l| l.len() > 100_000),
        "the long JSON line"
    );
}
