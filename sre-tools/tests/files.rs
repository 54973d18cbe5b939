//! read_file, write_file, edit_file, find and list behaviour and messages.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::Fixture;
use pretty_assertions::assert_eq;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn read_file_ranges_and_numbers() {
    let f = Fixture::new();
    let text: String = (1..=10).map(|i| format!("row {i}\n")).collect();
    std::fs::write(f.path("scratch/t.txt"), &text).unwrap();
    let out = f
        .ok(
            "read_file",
            json!({"path": "scratch/t.txt", "offset": 3, "limit": 2}),
        )
        .await;
    assert_eq!(
        out,
        "[scratch/t.txt: lines 3-4 of 10]\n     3\trow 3\n     4\trow 4\n[line limit reached; 6 more lines; continue with offset=5]\n"
    );
    let out = f
        .ok("read_file", json!({"path": "scratch/t.txt", "offset": 9}))
        .await;
    assert_eq!(
        out,
        "[scratch/t.txt: lines 9-10 of 10]\n     9\trow 9\n    10\trow 10\n"
    );
    let out = f
        .ok("read_file", json!({"path": "scratch/t.txt", "offset": 50}))
        .await;
    assert!(out.contains("offset 50 is past the end"), "{out}");
    std::fs::write(f.path("scratch/empty"), "").unwrap();
    assert_eq!(
        f.ok("read_file", json!({"path": "scratch/empty"})).await,
        "[scratch/empty: empty file]\n"
    );
    let m = f
        .invalid("read_file", json!({"path": "scratch/t.txt", "offset": 0}))
        .await;
    assert!(m.contains("invalid arguments"), "{m}");
    let m = f
        .invalid("read_file", json!({"path": "scratch/missing.txt"}))
        .await;
    assert_eq!(m, "`scratch/missing.txt` does not exist");
    let m = f.invalid("read_file", json!({"path": "scratch"})).await;
    assert!(m.contains("is a directory"), "{m}");
}

#[tokio::test(flavor = "multi_thread")]
async fn read_file_byte_cap_binary_and_invalid_utf8() {
    let f = Fixture::new();
    let big: String = (1..=50_000)
        .map(|i| format!("log line number {i} with some padding text\n"))
        .collect();
    std::fs::write(f.path("scratch/big.log"), &big).unwrap();
    let out = f
        .ok(
            "read_file",
            json!({"path": "scratch/big.log", "limit": 50000}),
        )
        .await;
    assert!(out.len() <= 100 * 1024 + 400, "{}", out.len());
    assert!(
        out.contains("output capped at 102400 bytes"),
        "{}",
        &out[out.len() - 300..]
    );
    assert!(out.contains("of 50000]"));
    let bin = [b'E', b'L', b'F', 0, 1, 2, 3];
    std::fs::write(f.path("scratch/bin"), bin).unwrap();
    let m = f.invalid("read_file", json!({"path": "scratch/bin"})).await;
    assert!(m.contains("looks like a binary file (7 bytes"), "{m}");
    std::fs::write(f.path("scratch/latin1"), b"caf\xe9 ok\nplain\n").unwrap();
    let out = f.ok("read_file", json!({"path": "scratch/latin1"})).await;
    assert!(out.contains("not valid UTF-8"), "{out}");
    assert!(out.contains("caf\u{fffd} ok"), "{out}");
    let long = format!("{}\n", "z".repeat(5000));
    std::fs::write(f.path("scratch/long"), long).unwrap();
    let out = f.ok("read_file", json!({"path": "scratch/long"})).await;
    assert!(out.contains("[... line cut, 5000 bytes]"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn write_file_creates_and_overwrites() {
    let f = Fixture::new();
    let out = f
        .ok(
            "write_file",
            json!({"path": "scratch/a/b/c.txt", "content": "one\ntwo\n"}),
        )
        .await;
    assert_eq!(out, "created `scratch/a/b/c.txt` (8 bytes, 2 lines)");
    let out = f
        .ok(
            "write_file",
            json!({"path": "scratch/a/b/c.txt", "content": "3"}),
        )
        .await;
    assert_eq!(out, "overwrote `scratch/a/b/c.txt` (1 bytes, 1 lines)");
    assert_eq!(
        std::fs::read_to_string(f.path("scratch/a/b/c.txt")).unwrap(),
        "3"
    );
    let m = f
        .invalid("write_file", json!({"path": "scratch/a", "content": "x"}))
        .await;
    assert!(m.contains("is a directory"), "{m}");
    // No temp files left behind.
    assert_eq!(std::fs::read_dir(f.path("scratch/a/b")).unwrap().count(), 1);
}

/// Writes and edits replace files atomically (`beneath::replace_in`): the replaced file keeps
/// its permissions and no temporary file is left.
#[tokio::test(flavor = "multi_thread")]
async fn writes_are_atomic_replaces_that_keep_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::new();
    let script = f.path("scratch/run.sh");
    std::fs::write(&script, "echo old\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o750)).unwrap();
    f.ok(
        "write_file",
        json!({"path": "scratch/run.sh", "content": "echo new\n"}),
    )
    .await;
    f.ok(
        "edit_file",
        json!({"path": "scratch/run.sh", "old_string": "new", "new_string": "newer"}),
    )
    .await;
    let meta = std::fs::metadata(&script).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o750);
    assert_eq!(std::fs::read_to_string(&script).unwrap(), "echo newer\n");
    let leftovers: Vec<_> = std::fs::read_dir(f.path("scratch"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') && n != ".tmp")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn edit_file_exact_unique_and_replace_all() {
    let f = Fixture::new();
    std::fs::write(f.path("scratch/c.yaml"), "a: 1\nb: 1\nc: 2\n").unwrap();
    let m = f
        .invalid(
            "edit_file",
            json!({"path": "scratch/c.yaml", "old_string": ": 1", "new_string": ": 9"}),
        )
        .await;
    assert!(m.contains("matches 2 times"), "{m}");
    let m = f
        .invalid(
            "edit_file",
            json!({"path": "scratch/c.yaml", "old_string": "d: 4", "new_string": "d: 5"}),
        )
        .await;
    assert!(m.contains("not found") && m.contains("(0 matches)"), "{m}");
    let m = f
        .invalid(
            "edit_file",
            json!({"path": "scratch/c.yaml", "old_string": "", "new_string": "x"}),
        )
        .await;
    assert!(m.contains("old_string is empty"), "{m}");
    assert_eq!(
        std::fs::read_to_string(f.path("scratch/c.yaml")).unwrap(),
        "a: 1\nb: 1\nc: 2\n"
    );
    let out = f
        .ok(
            "edit_file",
            json!({"path": "scratch/c.yaml", "old_string": "c: 2", "new_string": "c: 3"}),
        )
        .await;
    assert_eq!(
        out,
        "replaced 1 occurrence in `scratch/c.yaml` (first at line 3)"
    );
    let out = f.ok("edit_file", json!({"path": "scratch/c.yaml", "old_string": ": 1", "new_string": ": 0", "replace_all": true})).await;
    assert_eq!(
        out,
        "replaced 2 occurrences in `scratch/c.yaml` (first at line 1)"
    );
    assert_eq!(
        std::fs::read_to_string(f.path("scratch/c.yaml")).unwrap(),
        "a: 0\nb: 0\nc: 3\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn find_by_glob_type_size_and_time() {
    let f = Fixture::new();
    std::fs::create_dir_all(f.path("scratch/d/e")).unwrap();
    std::fs::write(f.path("scratch/d/small.log"), "x").unwrap();
    std::fs::write(f.path("scratch/d/e/big.log"), vec![b'y'; 20_000]).unwrap();
    std::fs::write(f.path("scratch/d/e/notes.md"), "n").unwrap();
    let old = std::fs::File::options()
        .write(true)
        .open(f.path("scratch/d/small.log"))
        .unwrap();
    old.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000))
        .unwrap();
    drop(old);
    let names = |out: &str| -> Vec<String> {
        out.lines()
            .filter(|l| !l.starts_with('['))
            .map(|l| l.split('\t').next().unwrap().to_string())
            .collect()
    };
    let out = f.ok("find", json!({"glob": ["*.log"]})).await;
    assert_eq!(
        names(&out),
        vec!["logs/app.log", "scratch/d/e/big.log", "scratch/d/small.log"]
    );
    assert!(
        out.contains("scratch/d/small.log\t1 B\t2023-11-14 22:13:20Z"),
        "{out}"
    );
    let out = f
        .ok(
            "find",
            json!({"glob": ["*.log"], "path": "scratch", "min_size": "10k"}),
        )
        .await;
    assert_eq!(names(&out), vec!["scratch/d/e/big.log"]);
    let out = f
        .ok("find", json!({"path": "scratch", "newer_than": "1h"}))
        .await;
    assert_eq!(
        names(&out),
        vec!["scratch/d/e/big.log", "scratch/d/e/notes.md"]
    );
    let out = f
        .ok(
            "find",
            json!({"path": "scratch", "older_than": "2024-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(names(&out), vec!["scratch/d/small.log"]);
    let out = f
        .ok("find", json!({"path": "scratch", "type": "dir"}))
        .await;
    assert_eq!(names(&out), vec!["scratch/d/", "scratch/d/e/"]);
    let out = f
        .ok("find", json!({"glob": ["d/e/*"], "path": "scratch"}))
        .await;
    assert_eq!(
        names(&out),
        vec!["scratch/d/e/big.log", "scratch/d/e/notes.md"]
    );
    let out = f.ok("find", json!({"glob": ["*.nothing"]})).await;
    assert!(out.contains("nothing matched"), "{out}");
    let m = f
        .invalid("find", json!({"newer_than": "last tuesday"}))
        .await;
    assert!(m.contains("cannot parse time"), "{m}");
    let m = f.invalid("find", json!({"glob": ["a[b"]})).await;
    assert!(m.contains("invalid glob"), "{m}");
}

#[tokio::test(flavor = "multi_thread")]
async fn find_respects_gitignore_in_git_repos() {
    let f = Fixture::new();
    let repo = f.path("scratch/r");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    std::fs::write(repo.join(".gitignore"), "target/\n").unwrap();
    std::fs::create_dir_all(repo.join("target")).unwrap();
    std::fs::write(repo.join("target/out.o"), "o").unwrap();
    std::fs::write(repo.join("lib.rs"), "l").unwrap();
    let out = f.ok("find", json!({"path": "scratch/r"})).await;
    assert!(
        out.contains("scratch/r/lib.rs") && !out.contains("out.o"),
        "{out}"
    );
    let out = f
        .ok("find", json!({"path": "scratch/r", "no_ignore": true}))
        .await;
    assert!(out.contains("scratch/r/target/out.o"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn list_tree_with_caps() {
    let f = Fixture::new();
    for i in 0..5 {
        std::fs::write(f.path(&format!("scratch/f{i}.txt")), "abc").unwrap();
    }
    std::os::unix::fs::symlink("../logs", f.path("scratch/link")).unwrap();
    let out = f.ok("list", json!({"depth": 1})).await;
    assert_eq!(
        out,
        "./\n  logs/  (1 entries)  [read-only mount]\n  repos/  (1 entries)\n  scratch/  (6 entries)  [writable mount]\n"
    );
    let out = f
        .ok("list", json!({"path": "scratch", "max_entries": 3}))
        .await;
    assert_eq!(
        out,
        "scratch/  [writable mount]\n  f0.txt  3 B\n  f1.txt  3 B\n  f2.txt  3 B\n  [... 3 more entries not shown; raise max_entries or list a subdirectory]\n"
    );
    let out = f
        .ok("list", json!({"path": "scratch", "max_entries": 10}))
        .await;
    assert!(out.contains("  link -> ../logs\n"), "{out}");
    let m = f.invalid("list", json!({"path": "logs/app.log"})).await;
    assert!(m.contains("is a file"), "{m}");
}

#[tokio::test(flavor = "multi_thread")]
async fn grep_basic_options() {
    let f = Fixture::new();
    std::fs::write(f.path("scratch/a.txt"), "alpha\nBeta\ngamma\nbeta.max\n").unwrap();
    let out = f
        .ok("grep", json!({"pattern": "beta", "path": "scratch"}))
        .await;
    assert_eq!(
        out,
        "scratch/a.txt:4:beta.max\n[1 matching lines in 1 files]\n"
    );
    let out = f
        .ok(
            "grep",
            json!({"pattern": "beta", "path": "scratch", "case_insensitive": true}),
        )
        .await;
    assert_eq!(
        out,
        "scratch/a.txt:2:Beta\nscratch/a.txt:4:beta.max\n[2 matching lines in 1 files]\n"
    );
    let out = f
        .ok(
            "grep",
            json!({"pattern": "a.m", "path": "scratch", "fixed_strings": true}),
        )
        .await;
    assert_eq!(
        out,
        "scratch/a.txt:4:beta.max\n[1 matching lines in 1 files]\n"
    );
    let out = f
        .ok("grep", json!({"pattern": "a.m", "path": "scratch"}))
        .await;
    assert_eq!(
        out,
        "scratch/a.txt:3:gamma\nscratch/a.txt:4:beta.max\n[2 matching lines in 1 files]\n"
    );
    let out = f
        .ok("grep", json!({"pattern": "zzz", "path": "scratch"}))
        .await;
    assert_eq!(out, "[no matches for `zzz` in scratch]\n");
    let out = f
        .ok(
            "grep",
            json!({"pattern": "gamma", "path": "scratch", "context": 1}),
        )
        .await;
    assert_eq!(
        out,
        "scratch/a.txt-2-Beta\nscratch/a.txt:3:gamma\nscratch/a.txt-4-beta.max\n[1 matching lines in 1 files]\n"
    );
    let out = f
        .ok("grep", json!({"pattern": "ERROR|main", "glob": ["*.log"]}))
        .await;
    assert_eq!(
        out,
        "logs/app.log:2:ERROR boom\n[1 matching lines in 1 files]\n"
    );
    let out = f
        .ok(
            "grep",
            json!({"pattern": "a", "path": "scratch", "max_matches": 2}),
        )
        .await;
    assert!(out.contains("stopped at max_matches=2"), "{out}");
    let out = f
        .ok(
            "grep",
            json!({"pattern": "main|ERROR", "files_with_matches": true}),
        )
        .await;
    assert_eq!(
        out,
        "logs/app.log\nrepos/app/src/main.rs\n[2 matching lines in 2 files]\n"
    );
    let m = f.invalid("grep", json!({"pattern": "a(b"})).await;
    assert!(m.contains("invalid pattern"), "{m}");
}
