//! The audit trail: concurrent writers (tasks and processes) keep a valid keyed chain; every
//! tampering the key and the anchor can reveal is detected, and the one they cannot
//! (rolling both files back together) is shown as such.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{input, post, pre};
use pretty_assertions::assert_eq;
use sre_core::{Hook, HookContext};
use sre_hooks::audit::GENESIS_MAC;
use sre_hooks::{AuditHook, AuditKey, AuditProblem, AuditRecord, verify_audit_log};

const SRE_AUDIT: &str = env!("CARGO_BIN_EXE_sre-audit");

/// A log, its anchor and key file in a temp dir.
struct Trail {
    dir: tempfile::TempDir,
    key: AuditKey,
}

impl Trail {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = AuditKey::create_file(dir.path().join("audit.key")).unwrap();
        Trail { dir, key }
    }
    fn log(&self) -> PathBuf {
        self.dir.path().join("audit.jsonl")
    }
    fn anchor(&self) -> PathBuf {
        self.dir.path().join("audit.anchor")
    }
    fn key_file(&self) -> PathBuf {
        self.dir.path().join("audit.key")
    }
    fn hook(&self) -> AuditHook {
        AuditHook::new(self.log(), self.key.clone(), self.anchor())
    }
    fn verify(&self) -> sre_hooks::AuditReport {
        verify_audit_log(self.log(), &self.key, self.anchor()).unwrap()
    }
    fn problem(&self) -> AuditProblem {
        let report = self.verify();
        match report.problem {
            Some(p) => p,
            None => panic!("tampering not detected: {report:?}"),
        }
    }
    /// A trail with `n` records written through the hook.
    fn with_records(n: usize) -> Self {
        let t = Trail::new();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(write_records(&t.hook(), n, "s"));
        t
    }
    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(self.log())
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }
    fn rewrite(&self, f: impl FnOnce(&mut Vec<String>)) {
        let mut lines = self.lines();
        f(&mut lines);
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(self.log(), text).unwrap();
    }
}

async fn write_records(hook: &AuditHook, n: usize, tag: &str) {
    for i in 0..n {
        let mut inp = input(post(&format!("{tag} {i}"), i % 3 != 0), None);
        inp.session_id = tag.to_string();
        let decision = hook.run(&inp, &HookContext::detached()).await.unwrap();
        assert_eq!(decision, sre_core::HookDecision::allow());
    }
}

fn line_problem(p: &AuditProblem) -> (usize, &str) {
    match p {
        AuditProblem::Line { line, reason } => (*line, reason.as_str()),
        other => panic!("expected a line problem, got {other:?}"),
    }
}

/// What an attacker without the key can do: rebuild the chain with their own "key" (here:
/// plain SHA-256 as the old unkeyed chain used, then an HMAC under a guessed key).
fn forge_line(body_without_mac: &str, fake_key: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut m = <Hmac<sha2::Sha256> as Mac>::new_from_slice(fake_key).unwrap();
    m.update(b"sre-audit/record/v1\0");
    m.update(body_without_mac.as_bytes());
    let mac: String = m
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "{},\"mac\":\"{mac}\"}}",
        &body_without_mac[..body_without_mac.len() - 1]
    )
}

fn body(line: &str) -> String {
    let (body, _) = line.rsplit_once(",\"mac\":\"").unwrap();
    format!("{body}}}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_tasks_and_processes_keep_a_valid_chain() {
    let t = Trail::new();
    let children: Vec<_> = (0..2)
        .map(|i| {
            tokio::process::Command::new(SRE_AUDIT)
                .arg("append-test-records")
                .arg(t.log())
                .arg("--key-file")
                .arg(t.key_file())
                .arg("--anchor")
                .arg(t.anchor())
                .args(["--count", "50", "--session", &format!("proc-{i}")])
                .spawn()
                .unwrap()
        })
        .collect();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let hook = t.hook();
            tokio::spawn(async move { write_records(&hook, 25, &format!("task-{i}")).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    for mut c in children {
        assert!(c.wait().await.unwrap().success());
    }

    let report = t.verify();
    assert!(report.is_valid(), "{report:?}");
    assert_eq!(report.records, 8 * 25 + 2 * 50);
    assert_eq!(report.anchor_seq, Some(300), "the anchor follows the head");
    let records: Vec<AuditRecord> = t
        .lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seqs: Vec<u64> = records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=300).collect::<Vec<u64>>());
    let pids: BTreeSet<u32> = records.iter().map(|r| r.pid).collect();
    assert_eq!(pids.len(), 3, "three processes wrote: {pids:?}");
    let sessions: BTreeSet<&str> = records.iter().map(|r| r.session.as_str()).collect();
    assert_eq!(sessions.len(), 10);
    let r = &records[0];
    assert_eq!(r.prev, GENESIS_MAC);
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

#[test]
fn truncating_the_tail_is_detected_by_the_anchor() {
    let t = Trail::with_records(5);
    assert!(t.verify().is_valid());
    t.rewrite(|l| l.truncate(3));
    assert_eq!(
        t.problem(),
        AuditProblem::Truncated {
            last_seq: 3,
            anchor_seq: 5
        }
    );
    // Emptying the log is a truncation too.
    std::fs::write(t.log(), "").unwrap();
    assert!(matches!(
        t.problem(),
        AuditProblem::Truncated { last_seq: 0, .. }
    ));
}

#[test]
fn a_log_rewritten_whole_without_the_key_is_detected() {
    let t = Trail::with_records(4);
    // The attacker rebuilds a consistent chain with a key of their own, and an anchor to
    // match it: every record is well formed and chained, but not under the real key.
    let fake_key = b"attacker-does-not-have-the-real-key!!";
    let mut prev = GENESIS_MAC.to_string();
    let mut forged = Vec::new();
    for (i, line) in t.lines().iter().enumerate() {
        let mut record: serde_json::Value = serde_json::from_str(line).unwrap();
        record.as_object_mut().unwrap().remove("mac");
        record["prev"] = prev.clone().into();
        record["success"] = true.into(); // the edit the rewrite was for
        let line = forge_line(&serde_json::to_string(&record).unwrap(), fake_key);
        prev = serde_json::from_str::<serde_json::Value>(&line).unwrap()["mac"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(record["seq"], (i + 1) as u64);
        forged.push(line);
    }
    t.rewrite(|l| *l = forged);
    let p = t.problem();
    let (line, reason) = line_problem(&p);
    assert_eq!(line, 1, "{reason}");
    assert!(reason.contains("MAC does not match"), "{reason}");
}

#[test]
fn a_modified_record_is_detected_at_its_line() {
    let t = Trail::with_records(5);
    t.rewrite(|l| l[2] = l[2].replace("\"success\":true", "\"success\":false"));
    let p = t.problem();
    assert_eq!(line_problem(&p).0, 3, "{p}");

    // Edited and re-MAC'd without the key: still line 3.
    let t = Trail::with_records(5);
    t.rewrite(|l| l[2] = forge_line(&body(&l[2]).replace("\"turn\":1", "\"turn\":9"), b"guess"));
    let p = t.problem();
    assert_eq!(
        line_problem(&p),
        (
            3,
            "MAC does not match: the record was edited, or written without this key"
        )
    );
}

#[test]
fn deleted_reordered_and_torn_records_are_detected() {
    // A middle record deleted: the sequence jumps.
    let t = Trail::with_records(5);
    t.rewrite(|l| {
        l.remove(1);
    });
    let p = t.problem();
    let (line, reason) = line_problem(&p);
    assert_eq!(line, 2);
    assert!(
        reason.contains("jumps from 1 to 3: 1 record(s) missing"),
        "{reason}"
    );

    // Two records swapped.
    let t = Trail::with_records(5);
    t.rewrite(|l| l.swap(3, 4));
    assert_eq!(line_problem(&t.problem()).0, 4);

    // A record duplicated (replayed).
    let t = Trail::with_records(3);
    t.rewrite(|l| {
        let again = l[1].clone();
        l.insert(2, again);
    });
    let p = t.problem();
    assert_eq!(line_problem(&p).0, 3, "{p}");

    // A torn last line.
    let t = Trail::with_records(3);
    let text = std::fs::read_to_string(t.log()).unwrap();
    std::fs::write(t.log(), &text[..text.len() - 10]).unwrap();
    assert_eq!(line_problem(&t.problem()).0, 3);

    // A missing log is an error, not a valid log.
    assert!(verify_audit_log(t.dir.path().join("nope"), &t.key, t.anchor()).is_err());
}

#[test]
fn a_replaced_or_deleted_anchor_is_detected() {
    // Cut the tail and write an anchor for the new head, without the key.
    let t = Trail::with_records(5);
    t.rewrite(|l| l.truncate(3));
    let head: serde_json::Value = serde_json::from_str(&t.lines()[2]).unwrap();
    let forged = serde_json::json!({"seq": 3, "mac": head["mac"], "anchor_mac": GENESIS_MAC});
    std::fs::write(t.anchor(), forged.to_string()).unwrap();
    let p = t.problem();
    assert!(
        matches!(&p, AuditProblem::Anchor { reason } if reason.contains("MAC does not match")),
        "{p}"
    );

    // Delete the anchor instead.
    let t = Trail::with_records(5);
    t.rewrite(|l| l.truncate(3));
    std::fs::remove_file(t.anchor()).unwrap();
    let p = t.problem();
    assert!(
        matches!(&p, AuditProblem::Anchor { reason } if reason.contains("missing")),
        "{p}"
    );

    // The anchor of another log under the same key.
    let t = Trail::with_records(3);
    let other = tempfile::tempdir().unwrap();
    let other_log = sre_hooks::AuditLog::new(
        other.path().join("log"),
        t.key.clone(),
        other.path().join("anchor"),
    );
    for i in 0..2 {
        other_log
            .append_input(&input(post(&format!("other {i}"), true), None))
            .unwrap();
    }
    std::fs::copy(other.path().join("anchor"), t.anchor()).unwrap();
    let p = t.problem();
    assert!(
        matches!(&p, AuditProblem::Anchor { reason } if reason.contains("record 2 with another MAC")),
        "{p}"
    );
}

/// What the design does NOT detect (documented in the README): someone who saved a copy of
/// the log and its anchor can put both back later; the older pair is consistent. Shipping
/// the anchor to an external store is the mitigation.
#[test]
fn rolling_back_both_files_to_an_older_pair_is_not_detected() {
    let t = Trail::with_records(3);
    let old_log = std::fs::read(t.log()).unwrap();
    let old_anchor = std::fs::read(t.anchor()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(write_records(&t.hook(), 2, "later"));
    assert_eq!(t.verify().records, 5);
    std::fs::write(t.log(), old_log).unwrap();
    std::fs::write(t.anchor(), old_anchor).unwrap();
    let report = t.verify();
    assert!(
        report.is_valid(),
        "a consistent older pair verifies: {report:?}"
    );
    assert_eq!(report.records, 3);
}

#[test]
fn a_crash_between_record_and_anchor_leaves_a_valid_log() {
    let t = Trail::with_records(3);
    let anchor_before = std::fs::read(t.anchor()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(write_records(&t.hook(), 1, "crash"));
    std::fs::write(t.anchor(), anchor_before).unwrap(); // as if the anchor write never happened
    let report = t.verify();
    assert!(report.is_valid(), "{report:?}");
    assert_eq!((report.records, report.unanchored()), (4, 1));
    rt.block_on(write_records(&t.hook(), 1, "after"));
    let report = t.verify();
    assert!(report.is_valid(), "{report:?}");
    assert_eq!((report.records, report.unanchored()), (5, 0));
}

#[test]
fn the_key_must_be_private_and_long_enough() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k");
    AuditKey::create_file(&path).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(AuditKey::from_file(&path).is_ok());
    assert!(AuditKey::create_file(&path).is_err(), "never overwritten");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = AuditKey::from_file(&path).unwrap_err().to_string();
    assert!(err.contains("mode 0644"), "{err}");
    let short = dir.path().join("short");
    std::fs::write(&short, "abc\n").unwrap();
    std::fs::set_permissions(&short, std::fs::Permissions::from_mode(0o600)).unwrap();
    let err = AuditKey::from_file(&short).unwrap_err().to_string();
    assert!(err.contains("at least 32 bytes"), "{err}");
    // Another key does not verify the log.
    let t = Trail::with_records(2);
    let other = AuditKey::from_bytes(vec![9u8; 32]).unwrap();
    let report = verify_audit_log(t.log(), &other, t.anchor()).unwrap();
    assert!(!report.is_valid());
}

fn cli(args: &[&std::ffi::OsStr]) -> (i32, String) {
    let out = Command::new(SRE_AUDIT).args(args).output().unwrap();
    (
        out.status.code().unwrap(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn sre_audit_cli_verifies_and_reports_tampering() {
    let t = Trail::with_records(4);
    let verify = |t: &Trail| {
        cli(&[
            "verify".as_ref(),
            t.log().as_os_str(),
            "--key-file".as_ref(),
            t.key_file().as_os_str(),
            "--anchor".as_ref(),
            t.anchor().as_os_str(),
        ])
    };
    let (code, out) = verify(&t);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("ok: 4 records, last seq 4, anchored at 4"),
        "{out}"
    );
    t.rewrite(|l| l.truncate(2));
    let (code, out) = verify(&t);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("TAMPERED: truncated"), "{out}");

    let (code, out) = cli(&["verify".as_ref(), t.log().as_os_str()]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("--key-file is required"), "{out}");
    let key = t.dir.path().join("new.key");
    assert_eq!(cli(&["keygen".as_ref(), key.as_os_str()]).0, 0);
    assert_eq!(
        cli(&["keygen".as_ref(), key.as_os_str()]).0,
        2,
        "no overwrite"
    );
    assert_eq!(cli(&["--help".as_ref()]).0, 0);
}

#[tokio::test]
async fn request_lines_only_with_requests() {
    let t = Trail::new();
    let plain = t.hook();
    assert!(!plain.handles(&input(pre("ls"), None)));
    assert!(plain.handles(&input(post("ls", false), None)));
    let with = t.hook().with_requests();
    assert!(with.handles(&input(pre("ls"), None)));
    with.run(&input(pre("ls"), None), &HookContext::detached())
        .await
        .unwrap();
    let r: AuditRecord = serde_json::from_str(&t.lines()[0]).unwrap();
    assert_eq!(
        (r.decision.as_str(), r.success, r.duration_ms, r.seq),
        ("requested", None, None, 1)
    );
}

#[tokio::test]
async fn an_unwritable_log_follows_the_fail_mode() {
    let t = Trail::new();
    let log = t.dir.path().join("missing-dir/a.jsonl");
    let hook = |log: &Path| AuditHook::new(log, t.key.clone(), t.anchor());
    let err = hook(&log)
        .run(&input(post("ls", true), None), &HookContext::detached())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("a.jsonl"), "{err}");
    // failMode block: the loop blocks the call the audit could not record.
    let blocking = hook(&log)
        .with_requests()
        .fail_mode(sre_hooks::FailMode::Block);
    assert_eq!(
        sre_core::Hook::fail_mode(&blocking),
        sre_hooks::FailMode::Block
    );
    let (ran, refusals, failures) =
        common::run_bash_once(std::sync::Arc::new(blocking), None, "ls").await;
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

#[tokio::test]
async fn audit_hook_in_the_loop_records_a_valid_chain() {
    use sre_core::{Agent, AgentLoop, HookDecision, HookEvent, ScriptedModel, Session};
    let t = Trail::new();
    let shell = common::RecordingShell::default();
    let script = r#"
turns:
  - tool_calls:
      - tool: Bash
        args: {command: uptime}
      - tool: Bash
        args: {command: "sudo reboot"}
  - final: done
"#;
    let deny_sudo = sre_hooks::FnHook::new(
        "no-sudo",
        [HookEvent::PreToolUse],
        "*",
        |input| async move {
            let cmd = input.to_json()["tool_input"]["command"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            Ok(if cmd.contains("sudo") {
                HookDecision::block("no sudo")
            } else {
                HookDecision::allow()
            })
        },
    )
    .unwrap();
    let agent = AgentLoop::builder(std::sync::Arc::new(
        ScriptedModel::from_yaml(script).unwrap(),
    ))
    .tool(shell.tool())
    .hook(std::sync::Arc::new(t.hook().with_requests().durable(true)))
    .hook(deny_sudo.into_arc())
    .build()
    .unwrap();
    agent.run(&Session::new("s-chain"), "go").await.unwrap();
    let report = t.verify();
    assert!(report.is_valid(), "{report:?}");
    // 2 requests + 1 completed call: the blocked one has a request and no result.
    assert_eq!((report.records, report.anchor_seq), (3, Some(3)));
    let text = std::fs::read_to_string(t.log()).unwrap();
    assert_eq!(text.matches("\"decision\":\"requested\"").count(), 2);
    assert_eq!(text.matches("\"decision\":\"completed\"").count(), 1);
}
