//! Every way out of the workspace is refused with a message saying why.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::Fixture;
use serde_json::json;
use sre_tools::{Access, Error, MountMode, Workspace};

#[tokio::test(flavor = "multi_thread")]
async fn parent_components_are_refused() {
    let f = Fixture::new();
    for p in [
        "../etc/passwd",
        "scratch/../../x",
        "scratch/../repos/app/src/main.rs",
        "..",
    ] {
        let m = f.invalid("read_file", json!({"path": p})).await;
        assert!(m.contains("`..` components are not allowed"), "{p}: {m}");
    }
    let m = f
        .invalid(
            "write_file",
            json!({"path": "scratch/../../escape.txt", "content": "x"}),
        )
        .await;
    assert!(m.contains("`..`"), "{m}");
    assert!(!f.root.path().parent().unwrap().join("escape.txt").exists());
    f.assert_outside_untouched();
}

#[tokio::test(flavor = "multi_thread")]
async fn absolute_paths_are_refused_by_default() {
    let f = Fixture::new();
    let m = f.invalid("read_file", json!({"path": "/etc/passwd"})).await;
    assert!(m.contains("relative to the workspace root"), "{m}");
    let host = f.outside.path().join("secret.txt");
    let m = f
        .invalid("read_file", json!({"path": host.to_str().unwrap()}))
        .await;
    assert!(m.contains("absolute path"), "{m}");
    let m = f
        .invalid(
            "write_file",
            json!({"path": f.outside.path().join("new").to_str().unwrap(), "content": "x"}),
        )
        .await;
    assert!(m.contains("absolute path"), "{m}");
    let m = f.invalid("list", json!({"path": "~/"})).await;
    assert!(m.contains("relative to the workspace root"), "{m}");
    f.assert_outside_untouched();
}

#[tokio::test(flavor = "multi_thread")]
async fn rooted_paths_map_slash_to_the_workspace_root() {
    let f = Fixture::with(true);
    let out = f.ok("read_file", json!({"path": "/logs/app.log"})).await;
    assert!(out.contains("ERROR boom"), "{out}");
    let out = f
        .ok(
            "write_file",
            json!({"path": "/scratch/a.txt", "content": "a"}),
        )
        .await;
    assert!(out.contains("scratch/a.txt"), "{out}");
    assert_eq!(
        std::fs::read_to_string(f.path("scratch/a.txt")).unwrap(),
        "a"
    );
    // `/etc/passwd` is now `<root>/etc/passwd`, which does not exist; never the host file.
    let m = f.invalid("read_file", json!({"path": "/etc/passwd"})).await;
    assert!(m.contains("etc/passwd` does not exist"), "{m}");
    let m = f
        .invalid("read_file", json!({"path": "/../etc/passwd"}))
        .await;
    assert!(m.contains("`..`"), "{m}");
    let m = f
        .invalid("read_file", json!({"path": "//../../etc/passwd"}))
        .await;
    assert!(m.contains("`..`"), "{m}");
}

#[tokio::test(flavor = "multi_thread")]
async fn nul_bytes_and_overlong_paths_are_refused() {
    let f = Fixture::new();
    let m = f
        .invalid("read_file", json!({"path": "logs/app.log\u{0}.txt"}))
        .await;
    assert!(m.contains("NUL byte"), "{m}");
    let m = f
        .invalid(
            "write_file",
            json!({"path": "scratch/a\u{0}b", "content": "x"}),
        )
        .await;
    assert!(m.contains("NUL byte"), "{m}");
    let long = "a/".repeat(2100);
    let m = f.invalid("read_file", json!({"path": long})).await;
    assert!(m.contains("too long"), "{m}");
    let comp = format!("scratch/{}", "x".repeat(300));
    let m = f
        .invalid("write_file", json!({"path": comp, "content": "x"}))
        .await;
    assert!(m.contains("too long"), "{m}");
    assert_eq!(std::fs::read_dir(f.path("scratch")).unwrap().count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn symlinks_pointing_outside_are_refused() {
    let f = Fixture::new();
    let s = f.path("scratch");
    std::os::unix::fs::symlink(f.outside.path(), s.join("out_dir")).unwrap();
    std::os::unix::fs::symlink(f.outside.path().join("secret.txt"), s.join("out_file")).unwrap();
    // A chain: inside -> inside -> outside.
    std::os::unix::fs::symlink("hop2", s.join("hop1")).unwrap();
    std::os::unix::fs::symlink("out_dir", s.join("hop2")).unwrap();
    // /proc/self/root is the host's `/`.
    std::os::unix::fs::symlink("/proc/self/root", s.join("procroot")).unwrap();
    // A relative link climbing out.
    std::os::unix::fs::symlink("../../../../../../../../etc", s.join("climb")).unwrap();
    for p in [
        "scratch/out_dir/secret.txt",
        "scratch/out_file",
        "scratch/hop1/secret.txt",
        "scratch/procroot/etc/passwd",
        "scratch/climb/passwd",
    ] {
        let m = f.invalid("read_file", json!({"path": p})).await;
        assert!(m.contains("outside the workspace"), "{p}: {m}");
    }
    let m = f
        .invalid(
            "grep",
            json!({"pattern": "secret", "path": "scratch/out_dir"}),
        )
        .await;
    assert!(m.contains("outside the workspace"), "{m}");
    let m = f.invalid("list", json!({"path": "scratch/procroot"})).await;
    assert!(m.contains("outside the workspace"), "{m}");
    for p in [
        "scratch/out_dir/new.txt",
        "scratch/out_file",
        "scratch/hop1/x",
    ] {
        let m = f
            .invalid("write_file", json!({"path": p, "content": "pwned"}))
            .await;
        assert!(m.contains("outside the workspace"), "{p}: {m}");
    }
    let m = f
        .invalid(
            "edit_file",
            json!({"path": "scratch/out_file", "old_string": "outside", "new_string": "pwned"}),
        )
        .await;
    assert!(m.contains("outside the workspace"), "{m}");
    // A walk does not follow the link either: no match from the outside file.
    let out = f.ok("grep", json!({"pattern": "outside secret"})).await;
    assert!(out.contains("no matches"), "{out}");
    f.assert_outside_untouched();
}

#[tokio::test(flavor = "multi_thread")]
async fn dangling_and_looping_symlinks_are_refused() {
    let f = Fixture::new();
    let target = f.outside.path().join("created-through-link");
    std::os::unix::fs::symlink(&target, f.path("scratch/dangling")).unwrap();
    std::os::unix::fs::symlink("loop_b", f.path("scratch/loop_a")).unwrap();
    std::os::unix::fs::symlink("loop_a", f.path("scratch/loop_b")).unwrap();
    let m = f
        .invalid(
            "write_file",
            json!({"path": "scratch/dangling", "content": "x"}),
        )
        .await;
    assert!(m.contains("cannot be resolved"), "{m}");
    let m = f
        .invalid("read_file", json!({"path": "scratch/loop_a"}))
        .await;
    assert!(m.contains("cannot be resolved"), "{m}");
    assert!(!target.exists());
    f.assert_outside_untouched();
}

#[tokio::test(flavor = "multi_thread")]
async fn read_only_mounts_and_unmounted_paths_refuse_writes() {
    let f = Fixture::new();
    let before = std::fs::read_to_string(f.path("repos/app/src/main.rs")).unwrap();
    let m = f
        .invalid(
            "write_file",
            json!({"path": "repos/app/src/main.rs", "content": "x"}),
        )
        .await;
    assert!(m.contains("mount `repos/app/` is read-only"), "{m}");
    assert!(m.contains("writable: scratch/"), "{m}");
    let m = f
        .invalid(
            "edit_file",
            json!({"path": "repos/app/src/main.rs", "old_string": "hi", "new_string": "yo"}),
        )
        .await;
    assert!(m.contains("read-only"), "{m}");
    let m = f
        .invalid("write_file", json!({"path": "notes.txt", "content": "x"}))
        .await;
    assert!(m.contains("not inside a writable mount"), "{m}");
    // A symlink in the writable mount into a read-only one does not make it writable.
    std::os::unix::fs::symlink("../repos/app", f.path("scratch/app")).unwrap();
    let m = f
        .invalid(
            "write_file",
            json!({"path": "scratch/app/src/main.rs", "content": "x"}),
        )
        .await;
    assert!(m.contains("read-only"), "{m}");
    // ...but reading through an inside symlink works.
    let out = f
        .ok("read_file", json!({"path": "scratch/app/src/main.rs"}))
        .await;
    assert!(
        out.contains("repos/app/src/main.rs: lines 1-3 of 3"),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(f.path("repos/app/src/main.rs")).unwrap(),
        before
    );
    assert!(!f.path("notes.txt").exists());
}

#[test]
fn resolve_api_and_mount_validation() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("repos/x")).unwrap();
    let ws = Workspace::builder(root.path())
        .mount("repos", MountMode::ReadOnly)
        .mount("repos/x/out", MountMode::Writable)
        .build()
        .unwrap();
    // Innermost mount wins.
    let r = ws.resolve("repos/x/out/f.txt", Access::Write).unwrap();
    assert_eq!(r.rel, "repos/x/out/f.txt");
    assert_eq!(r.mount.unwrap().name, "repos/x/out");
    assert!(matches!(
        ws.resolve("repos/x/f.txt", Access::Write),
        Err(Error::ReadOnlyMount { .. })
    ));
    assert_eq!(ws.resolve("", Access::Read).unwrap().rel, ".");
    assert_eq!(
        ws.resolve("./repos/./x", Access::Read).unwrap().rel,
        "repos/x"
    );
    // Mount names are validated.
    assert!(
        Workspace::builder(root.path())
            .mount("../up", MountMode::Writable)
            .build()
            .is_err()
    );
    assert!(
        Workspace::builder(root.path())
            .mount("missing", MountMode::ReadOnly)
            .build()
            .is_err()
    );
    assert!(
        Workspace::builder(root.path().join("nope"))
            .build()
            .is_err()
    );
}

#[test]
fn hostile_inputs_never_panic_and_never_leave_the_root() {
    let f = Fixture::with(true);
    let long = "x".repeat(10_000);
    let inputs = [
        "",
        "/",
        "//",
        "///..",
        ".",
        "./",
        "..",
        "...",
        "....//",
        "a/./b",
        "\\",
        "..\\..\\etc",
        "~",
        "~root/.ssh",
        "C:\\Windows",
        "-rf",
        "scratch/\u{202e}txt.exe",
        "scratch/é/ü",
        "\u{0}",
        "scratch/\n/x",
        "  ../x  ",
        "/proc/self/root/etc/passwd",
        "scratch//..//..",
        &long,
    ];
    for input in inputs {
        for access in [sre_tools::Access::Read, sre_tools::Access::Write] {
            if let Ok(r) = f.ws.resolve(input, access) {
                assert!(
                    r.host.starts_with(f.ws.root()),
                    "{input:?} -> {}",
                    r.host.display()
                );
                if access == sre_tools::Access::Write {
                    assert!(
                        r.host.starts_with(f.ws.root().join("scratch")),
                        "{input:?} writable at {}",
                        r.host.display()
                    );
                }
            }
        }
    }
}
