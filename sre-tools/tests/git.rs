//! Point-in-time git tools on a repository built here with dated commits.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::path::Path;
use std::process::Command;

use common::Fixture;
use pretty_assertions::assert_eq;
use serde_json::json;

fn git(repo: &Path, args: &[&str], date: Option<&str>) -> String {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(repo).args(args);
    cmd.env("GIT_CONFIG_NOSYSTEM", "1").env("HOME", repo);
    cmd.env("GIT_AUTHOR_NAME", "Ann")
        .env("GIT_AUTHOR_EMAIL", "ann@example.com");
    cmd.env("GIT_COMMITTER_NAME", "Ann")
        .env("GIT_COMMITTER_EMAIL", "ann@example.com");
    if let Some(d) = date {
        cmd.env("GIT_AUTHOR_DATE", d).env("GIT_COMMITTER_DATE", d);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

struct Repo {
    f: Fixture,
    shas: Vec<String>,
}

/// repos/svc with three commits on main:
/// c0 2026-01-01T00:00:00Z add config.yaml (timeout: 30) and app.py
/// c1 2026-01-02T00:00:00Z config.yaml timeout: 5
/// c2 2026-01-03T12:00:00Z app.py retry
fn repo() -> Repo {
    let base = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir_in(base.path()).unwrap();
    let outside = tempfile::tempdir_in(base.path()).unwrap();
    std::fs::write(outside.path().join("secret.txt"), "outside secret\n").unwrap();
    let r = root.path().join("repos/svc");
    std::fs::create_dir_all(&r).unwrap();
    git(&r, &["init", "-q", "-b", "main"], None);
    std::fs::write(r.join("config.yaml"), "timeout: 30\n").unwrap();
    std::fs::write(r.join("app.py"), "print('v1')\n").unwrap();
    git(&r, &["add", "."], None);
    git(
        &r,
        &["commit", "-q", "-m", "initial"],
        Some("2026-01-01T00:00:00Z"),
    );
    std::fs::write(r.join("config.yaml"), "timeout: 5\n").unwrap();
    git(
        &r,
        &["commit", "-q", "-am", "lower timeout"],
        Some("2026-01-02T00:00:00Z"),
    );
    std::fs::write(r.join("app.py"), "print('v2 with retry')\n").unwrap();
    git(
        &r,
        &["commit", "-q", "-am", "add retry"],
        Some("2026-01-03T12:00:00Z"),
    );
    let shas: Vec<String> = git(&r, &["rev-list", "--reverse", "HEAD"], None)
        .lines()
        .map(String::from)
        .collect();
    let ws = sre_tools::Workspace::builder(root.path())
        .mount("repos/svc", sre_tools::MountMode::ReadOnly)
        .mount("scratch", sre_tools::MountMode::Writable)
        .build()
        .unwrap();
    let tools = ws.tools().unwrap();
    Repo {
        f: Fixture {
            root,
            outside,
            ws,
            tools,
            base,
        },
        shas,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn live_commit_at_a_time() {
    let Repo { f, shas } = repo();
    let out = f
        .ok(
            "git_live_commit",
            json!({"repo": "repos/svc", "at": "2026-01-02T06:00:00Z"}),
        )
        .await;
    assert_eq!(
        out.lines().next().unwrap(),
        format!("{} 2026-01-02T00:00:00Z Ann: lower timeout", shas[1])
    );
    // Exactly at a commit's time: that commit is live.
    let out = f
        .ok(
            "git_live_commit",
            json!({"repo": "repos/svc", "at": "2026-01-03T12:00:00Z", "ref": "main"}),
        )
        .await;
    assert!(out.starts_with(&shas[2]), "{out}");
    let out = f
        .ok(
            "git_live_commit",
            json!({"repo": "repos/svc", "at": "2026-01-03T11:59:59Z"}),
        )
        .await;
    assert!(out.starts_with(&shas[1]), "{out}");
    let res = f
        .call(
            "git_live_commit",
            json!({"repo": "repos/svc", "at": "2025-12-31"}),
        )
        .await
        .unwrap();
    assert!(
        res.is_error
            && res
                .content
                .contains("no commit on `HEAD` at or before 2025-12-31"),
        "{}",
        res.content
    );
    let m = f
        .invalid(
            "git_live_commit",
            json!({"repo": "repos/svc", "at": "2026-01-02", "ref": "--output=/tmp/x"}),
        )
        .await;
    assert!(m.contains("not a valid revision"), "{m}");
    let m = f
        .invalid(
            "git_live_commit",
            json!({"repo": "scratch", "at": "2026-01-02"}),
        )
        .await;
    assert!(m.contains("not a git repository"), "{m}");
}

#[tokio::test(flavor = "multi_thread")]
async fn log_in_a_window_and_for_a_path() {
    let Repo { f, shas } = repo();
    let out = f.ok("git_log", json!({"repo": "repos/svc", "since": "2026-01-02T00:00:00Z", "until": "2026-01-03T12:00:00Z"})).await;
    assert_eq!(
        out,
        format!(
            "{} 2026-01-03T12:00:00Z Ann: add retry\n{} 2026-01-02T00:00:00Z Ann: lower timeout\n",
            shas[2], shas[1]
        )
    );
    let out = f
        .ok(
            "git_log",
            json!({"repo": "repos/svc", "path": "config.yaml"}),
        )
        .await;
    assert_eq!(
        out,
        format!(
            "{} 2026-01-02T00:00:00Z Ann: lower timeout\n{} 2026-01-01T00:00:00Z Ann: initial\n",
            shas[1], shas[0]
        )
    );
    let out = f.ok("git_log", json!({"repo": "repos/svc", "since": "2026-01-01T00:00:01Z", "until": "2026-01-01T23:59:59Z"})).await;
    assert_eq!(out, "[no commits in that window]");
    let m = f
        .invalid("git_log", json!({"repo": "repos/svc", "path": "../x"}))
        .await;
    assert!(m.contains("without `..`"), "{m}");
}

#[tokio::test(flavor = "multi_thread")]
async fn diff_between_commits() {
    let Repo { f, shas } = repo();
    let out = f
        .ok(
            "git_diff",
            json!({"repo": "repos/svc", "from": shas[0], "to": shas[1]}),
        )
        .await;
    let expected = format!(
        "diff --git a/config.yaml b/config.yaml\nindex {}..{} 100644\n--- a/config.yaml\n+++ b/config.yaml\n@@ -1 +1 @@\n-timeout: 30\n+timeout: 5\n",
        &git(
            &f.path("repos/svc"),
            &[
                "rev-parse",
                "--short=7",
                &format!("{}:config.yaml", shas[0])
            ],
            None
        ),
        &git(
            &f.path("repos/svc"),
            &[
                "rev-parse",
                "--short=7",
                &format!("{}:config.yaml", shas[1])
            ],
            None
        ),
    );
    assert_eq!(out, expected);
    let out = f
        .ok(
            "git_diff",
            json!({"repo": "repos/svc", "from": shas[0], "stat": true, "path": "app.py"}),
        )
        .await;
    assert_eq!(
        out,
        " app.py | 2 +-\n 1 file changed, 1 insertion(+), 1 deletion(-)\n"
    );
    let out = f
        .ok(
            "git_diff",
            json!({"repo": "repos/svc", "from": "HEAD", "to": "main"}),
        )
        .await;
    assert_eq!(out, "[no differences]");
    let m = f
        .invalid("git_diff", json!({"repo": "repos/svc", "from": "nope"}))
        .await;
    assert!(m.contains("git diff failed in `repos/svc`"), "{m}");
}

#[tokio::test(flavor = "multi_thread")]
async fn checkout_a_commit_into_scratch() {
    let Repo { f, shas } = repo();
    let head_before = git(&f.path("repos/svc"), &["rev-parse", "HEAD"], None);
    let out = f
        .ok(
            "git_checkout",
            json!({"repo": "repos/svc", "commit": shas[0]}),
        )
        .await;
    let dest = format!("scratch/checkouts/svc-{}", &shas[0][..12]);
    assert_eq!(
        out,
        format!(
            "checked out {} of `repos/svc` into `{dest}` (2 files); the repository is untouched",
            shas[0]
        )
    );
    assert_eq!(
        std::fs::read_to_string(f.path(&dest).join("config.yaml")).unwrap(),
        "timeout: 30\n"
    );
    assert_eq!(
        std::fs::read_to_string(f.path(&dest).join("app.py")).unwrap(),
        "print('v1')\n"
    );
    // The repository is unchanged.
    assert_eq!(
        git(&f.path("repos/svc"), &["rev-parse", "HEAD"], None),
        head_before
    );
    assert_eq!(
        git(&f.path("repos/svc"), &["status", "--porcelain"], None),
        ""
    );
    assert_eq!(
        std::fs::read_to_string(f.path("repos/svc/config.yaml")).unwrap(),
        "timeout: 5\n"
    );
    // Same destination again is refused; a read-only destination is refused.
    let m = f
        .invalid(
            "git_checkout",
            json!({"repo": "repos/svc", "commit": shas[0]}),
        )
        .await;
    assert!(m.contains("exists and is not empty"), "{m}");
    let m = f
        .invalid(
            "git_checkout",
            json!({"repo": "repos/svc", "commit": "HEAD", "dest": "repos/svc/old"}),
        )
        .await;
    assert!(m.contains("read-only"), "{m}");
    let m = f
        .invalid(
            "git_checkout",
            json!({"repo": "repos/svc", "commit": "HEAD", "dest": "../elsewhere"}),
        )
        .await;
    assert!(m.contains("`..`"), "{m}");
    f.assert_outside_untouched();
}
