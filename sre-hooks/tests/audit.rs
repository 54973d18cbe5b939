//! The audit trail: concurrent writers (tasks and processes) keep a valid chain; tampering
//! is detected at the first broken line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{input, post, pre};
use pretty_assertions::assert_eq;
use sre_core::{Hook, HookContext};
use sre_hooks::{AuditHook, AuditRecord, verify_audit_log};

const CHILD_ENV: &str = "SRE_HOOKS_AUDIT_CHILD_LOG";

async fn write_records(path: &Path, n: usize, tag: &str) {
    let hook = AuditHook::new(path);
    for i in 0..n {
        let mut inp = input(post(&format!("{tag} {i}"), i % 3 != 0), None);
        inp.session_id = tag.to_string();
        let decision = hook.run(&inp, &HookContext::detached()).await.unwrap();
        assert_eq!(decision, sre_core::HookDecision::allow());
    }
}

/// Not a test on its own: when started by `concurrent_tasks_and_processes_keep_a_valid_chain`
/// with the log path in the environment, it writes 50 records from this process.
#[tokio::test]
async fn audit_child_writer() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        write_records(
            Path::new(&path),
            50,
            &format!("proc-{}", std::process::id()),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_tasks_and_processes_keep_a_valid_chain() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| {
            tokio::process::Command::new(&exe)
                .args([
                    "--exact",
                    "audit_child_writer",
                    "--nocapture",
                    "--test-threads",
                    "1",
                ])
                .env(CHILD_ENV, &log)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let log = log.clone();
            tokio::spawn(async move { write_records(&log, 25, &format!("task-{t}")).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    for mut c in children {
        assert!(c.wait().await.unwrap().success());
    }

    let report = verify_audit_log(&log).unwrap();
    assert!(report.is_valid(), "{report:?}");
    assert_eq!(report.lines, 8 * 25 + 2 * 50);
    let text = std::fs::read_to_string(&log).unwrap();
    let records: Vec<AuditRecord> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let pids: BTreeSet<u32> = records.iter().map(|r| r.pid).collect();
    assert_eq!(pids.len(), 3, "three processes wrote: {pids:?}");
    let sessions: BTreeSet<&str> = records.iter().map(|r| r.session.as_str()).collect();
    assert_eq!(sessions.len(), 10);
    let r = &records[0];
    assert_eq!(r.prev, sre_hooks::audit::GENESIS_HASH);
    assert_eq!(
        (r.agent.as_str(), r.tool.as_str(), r.turn),
        ("db-agent", "Bash", 1)
    );
    assert_eq!(r.input_sha256.len(), 64);
    assert!(
        records
            .iter()
            .any(|r| r.decision == "failed" && r.success == Some(false))
    );
}

fn write_log(n: usize) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(write_records(&log, n, "s"));
    (dir, log)
}

fn rewrite(log: &Path, f: impl FnOnce(&mut Vec<String>)) {
    let mut lines: Vec<String> = std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    f(&mut lines);
    std::fs::write(
        log,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
}

#[test]
fn tampering_is_detected_at_the_first_broken_line() {
    let (_d, log) = write_log(5);
    assert!(verify_audit_log(&log).unwrap().is_valid());

    // Edit a field of line 3.
    let (_d, log) = write_log(5);
    rewrite(&log, |l| {
        l[2] = l[2].replace("\"success\":true", "\"success\":false")
    });
    let broken = verify_audit_log(&log).unwrap().first_broken.unwrap();
    assert_eq!(broken.line, 3);
    assert!(
        broken.reason.contains("does not match its hash"),
        "{}",
        broken.reason
    );

    // Edit line 3 and recompute its hash: line 4 no longer chains.
    let (_d, log) = write_log(5);
    rewrite(&log, |l| {
        let body = l[2].replace("\"turn\":1", "\"turn\":9");
        let (body, _) = body.rsplit_once(",\"hash\":\"").unwrap();
        let body = format!("{body}}}");
        use sha2::Digest;
        let hash: String = sha2::Sha256::digest(body.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        l[2] = format!("{},\"hash\":\"{hash}\"}}", &body[..body.len() - 1]);
    });
    assert_eq!(
        verify_audit_log(&log).unwrap().first_broken.unwrap().line,
        4
    );

    // Delete line 2.
    let (_d, log) = write_log(5);
    rewrite(&log, |l| {
        l.remove(1);
    });
    let broken = verify_audit_log(&log).unwrap().first_broken.unwrap();
    assert_eq!(broken.line, 2);
    assert!(broken.reason.contains("prev"), "{}", broken.reason);

    // Swap lines 4 and 5.
    let (_d, log) = write_log(5);
    rewrite(&log, |l| l.swap(3, 4));
    assert_eq!(
        verify_audit_log(&log).unwrap().first_broken.unwrap().line,
        4
    );

    // A torn last line.
    let (_d, log) = write_log(3);
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::write(&log, &text[..text.len() - 10]).unwrap();
    let report = verify_audit_log(&log).unwrap();
    assert_eq!(report.first_broken.unwrap().line, 3);

    // A missing file is an error, not a valid log.
    assert!(verify_audit_log(_d.path().join("nope")).is_err());
}

#[tokio::test]
async fn request_lines_only_with_requests() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.jsonl");
    let plain = AuditHook::new(&log);
    assert!(!plain.handles(&input(pre("ls"), None)));
    assert!(plain.handles(&input(post("ls", false), None)));
    let with = AuditHook::new(&log).with_requests();
    assert!(with.handles(&input(pre("ls"), None)));
    with.run(&input(pre("ls"), None), &HookContext::detached())
        .await
        .unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    let r: AuditRecord = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(
        (r.decision.as_str(), r.success, r.duration_ms),
        ("requested", None, None)
    );
}

#[tokio::test]
async fn an_unwritable_log_follows_the_fail_mode() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("missing-dir/a.jsonl");
    let err = AuditHook::new(&log)
        .run(&input(post("ls", true), None), &HookContext::detached())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("a.jsonl"), "{err}");
    // failMode block: the loop blocks the call the audit could not record.
    let hook = AuditHook::new(&log)
        .with_requests()
        .fail_mode(sre_hooks::FailMode::Block);
    assert_eq!(sre_core::Hook::fail_mode(&hook), sre_hooks::FailMode::Block);
    let (ran, refusals, failures) =
        common::run_bash_once(std::sync::Arc::new(hook), None, "ls").await;
    assert!(ran.is_empty(), "an unauditable call does not run");
    assert!(
        refusals.iter().any(|r| r.contains("failMode: block")),
        "{refusals:?}"
    );
    assert!(
        failures.iter().any(|(_, e)| e.contains("a.jsonl")),
        "{failures:?}"
    );
}
