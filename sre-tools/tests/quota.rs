//! The workspace quota: the file tools refuse a write that would cross it (nothing written),
//! a command may write no file beyond what is left (at the quota: none, while `rm` still
//! works), and says when it crossed it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use sre_tools::files::{WriteFile, WriteFileArgs};
use sre_tools::quota::{Quota, usage};
use sre_tools::{ExecConfig, ExecRequest, Executor, MountMode, Workspace};
use tokio_util::sync::CancellationToken;

const KB: u64 = 1024;

fn workspace(dir: &std::path::Path, quota: Quota) -> Workspace {
    Workspace::builder(dir)
        .mount("scratch", MountMode::Writable)
        .quota(quota)
        .build()
        .unwrap()
}

fn write(ws: &Workspace, path: &str, len: usize) -> Result<String, String> {
    WriteFile::new(ws.clone())
        .write(&WriteFileArgs {
            path: path.into(),
            content: "x".repeat(len),
        })
        .map_err(|e| e.to_string())
}

async fn shell(exec: &Executor, ws: &Workspace, script: &str) -> String {
    let req = ExecRequest::new(
        "bash",
        vec!["-c".into(), script.into()],
        ws.root().to_path_buf(),
    );
    match exec.run(req, &CancellationToken::new()).await {
        Ok(out) => out.render(),
        Err(e) => format!("refused: {e}"),
    }
}

#[test]
fn file_tools_refuse_a_write_that_would_cross_the_quota() {
    let dir = tempfile::tempdir().unwrap();
    let ws = workspace(
        dir.path(),
        Quota {
            bytes: 1000 * KB,
            files: 100,
        },
    );
    write(&ws, "scratch/a.txt", 600 * KB as usize).unwrap();
    let err = write(&ws, "scratch/b.txt", 600 * KB as usize).unwrap_err();
    assert!(
        err.contains("workspace quota exceeded") && err.contains("scratch/b.txt"),
        "{err}"
    );
    assert!(
        !dir.path().join("scratch/b.txt").exists(),
        "a refused write left a file"
    );
    // Growing a file counts only what it grows by.
    write(&ws, "scratch/a.txt", 900 * KB as usize).unwrap();
    assert_eq!(usage(&ws).bytes, 900 * KB);
    // Files count too.
    let few = workspace(
        dir.path(),
        Quota {
            bytes: 10_000 * KB,
            files: 2,
        },
    );
    write(&few, "scratch/c.txt", 1).unwrap();
    let err = write(&few, "scratch/d.txt", 1).unwrap_err();
    assert!(
        err.contains("quota: ") && err.contains(", 2 files and folders"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_stop_at_what_is_left_and_can_free_space_at_the_quota() {
    let dir = tempfile::tempdir().unwrap();
    let ws = workspace(
        dir.path(),
        Quota {
            bytes: 1000 * KB,
            files: 100,
        },
    );
    // The executor's private temp dir is in the mount; create it before measuring.
    let exec = Executor::new(ws.clone(), ExecConfig::default());
    write(&ws, "scratch/a.txt", 700 * KB as usize).unwrap();
    let before = usage(&ws).bytes;
    let out = shell(&exec, &ws, "head -c 5000000 /dev/zero > scratch/big").await;
    let big = std::fs::metadata(dir.path().join("scratch/big"))
        .unwrap()
        .len();
    assert!(
        big <= 1000 * KB - before,
        "a {big}-byte file got past the quota:\n{out}"
    );
    assert!(big > 0, "{out}");
    // At the quota: commands still run, but grow no file...
    let out = shell(&exec, &ws, "echo more > scratch/ran; echo rc=$?").await;
    assert!(!out.contains("rc=0"), "{out}");
    assert_eq!(
        std::fs::metadata(dir.path().join("scratch/ran"))
            .map(|m| m.len())
            .unwrap_or(0),
        0
    );
    // ... and the agent can free space itself, for its next commands.
    let out = shell(&exec, &ws, "rm scratch/big; echo rc=$?").await;
    assert!(out.contains("rc=0"), "{out}");
    let out = shell(&exec, &ws, "echo ok > scratch/after && cat scratch/after").await;
    assert!(out.contains("ok"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_that_crosses_the_file_quota_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let ws = workspace(
        dir.path(),
        Quota {
            bytes: 10_000 * KB,
            files: 20,
        },
    );
    let exec = Executor::new(ws.clone(), ExecConfig::default());
    let out = shell(
        &exec,
        &ws,
        "for i in $(seq 1 50); do : > scratch/f$i; done; echo made",
    )
    .await;
    assert!(out.contains("made"), "{out}");
    assert!(out.contains("[workspace quota exceeded: `bash`"), "{out}");
    let err = write(&ws, "scratch/more.txt", 1).unwrap_err();
    assert!(err.contains("workspace quota exceeded"), "{err}");
    // Over the quota, a write that does not grow the mounts still goes through.
    write(&ws, "scratch/f1", 0).unwrap();
}
