//! The grep tool finds exactly what `rg` finds on a real source tree.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use sre_tools::search::GrepArgs;
use sre_tools::{Grep, GrepLimits, MountMode, Workspace};

/// The tree: the cargo registry sources if present (large, real), else this workspace's crates.
fn tree() -> PathBuf {
    let registry = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|c| c.join("registry/src"));
    if let Some(reg) = registry
        && let Ok(mut rd) = std::fs::read_dir(&reg)
        && let Some(Ok(index)) = rd.next()
    {
        return index.path();
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rg(dir: &PathBuf, args: &[&str]) -> BTreeSet<String> {
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
        "rg failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(key)
        .collect()
}

/// The whole `path:line:text` line (a trailing CR is not part of the text).
fn key(line: &str) -> String {
    line.trim_end_matches('\r').to_string()
}

#[test]
fn grep_matches_ripgrep_on_a_real_tree() {
    let dir = tree();
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
    ];
    for (args, rg_args) in cases {
        // Other builds may unpack crates into the registry meanwhile: compare against an rg
        // run that saw the same tree before and after ours.
        let mut attempt = 0;
        let (expected, out) = loop {
            attempt += 1;
            let before = rg(&dir, &rg_args);
            let out = grep.search(&args, None).unwrap();
            let after = rg(&dir, &rg_args);
            if before == after || attempt == 3 {
                break (after, out);
            }
        };
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
    }
}
