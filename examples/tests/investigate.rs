//! The main job, run as a user runs it: the `investigate` binary, offline.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use examples::sample_service::{LOG, LogFacts};

fn investigate(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_investigate"));
    cmd.args(args)
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("AZURE_OPENAI_ENDPOINT")
        .env_remove("AZURE_OPENAI_API_KEY");
    cmd
}

fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "investigate failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn final_answer(stdout: &str) -> &str {
    let start = stdout.find("══ final answer").expect("a final answer");
    let rest = &stdout[start..];
    let end = rest.find("\nturns: ").unwrap_or(rest.len());
    &rest[..end]
}

#[test]
fn the_offline_investigation_finds_the_root_cause_with_real_tools_and_hooks() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let stdout = ok(&investigate(&["--workspace", ws.to_str().unwrap()])
        .output()
        .unwrap());
    for expected in [
        "offline demo",
        "→ git_live_commit",
        "→ update_investigation_state",
        "Cut RDS cost",
        "✗ shell: Blocked by a PreToolUse hook",
        "[investigator/pool-evidence]",
        "[investigator/reconciler-code]",
        "stop hook rejected the answer (1)",
        "══ final answer (Completed) ══",
        "## Root Cause",
        "## Recommended Actions",
        "investigator/hook:answer-quality: 2 calls",
        "ledger check: this process made 14 model calls",
        ": complete",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    // Every figure the scripted answer states comes from the data it investigated.
    let facts = LogFacts::from_log(&std::fs::read_to_string(ws.join(LOG)).unwrap());
    let answer = final_answer(&stdout);
    for figure in [
        format!("{} `PoolTimeoutError` lines", facts.pool_timeouts),
        format!("{} `POST /payments 503` responses", facts.http_503),
        format!("the first at {}", &facts.first_timeout[11..19]),
        format!("up to {} waiters", facts.max_waiters),
        format!(
            "{} slow ledger calls ({}-{} s)",
            facts.slow_ledger_calls, facts.slow_ledger_range.0, facts.slow_ledger_range.1
        ),
    ] {
        assert!(answer.contains(&figure), "{figure:?} not in\n{answer}");
    }
    // The transcript was persisted and the sample repository is a real git repository.
    assert!(ws.join("scratch/sessions/incident-4711.jsonl").exists());
    let log = Command::new("git")
        .args([
            "-C",
            ws.join("repos/checkout-api").to_str().unwrap(),
            "log",
            "--oneline",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&log.stdout).lines().count(), 4);

    // Running again on the same workspace is a new investigation in a new session.
    let again = ok(
        &investigate(&["--workspace", ws.to_str().unwrap(), "--quiet"])
            .output()
            .unwrap(),
    );
    assert!(again.contains("session: incident-4711-2"), "{again}");
    assert!(again.contains("══ final answer (Completed) ══"), "{again}");
}

#[test]
fn help_prints_usage_and_runs_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = investigate(&["--help"])
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    let stdout = ok(&out);
    assert!(stdout.contains("Usage: investigate"), "{stdout}");
    assert!(stdout.contains("--resume"), "{stdout}");
    assert!(!stdout.contains("turn 1"), "{stdout}");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn without_a_workspace_the_temporary_one_is_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let stdout = ok(&investigate(&["--quiet"])
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap());
    assert!(stdout.contains("temporary workspace removed"), "{stdout}");
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "nothing left behind"
    );
}

#[test]
fn a_configured_provider_is_announced_before_anything_is_sent_and_offline_overrides_it() {
    // A provider that cannot be reached: a closed loopback port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let base = format!("http://127.0.0.1:{port}/v1");
    let online = investigate(&["--workspace", ws.to_str().unwrap(), "--quiet"])
        .env("OPENAI_BASE_URL", &base)
        .env("OPENAI_API_KEY", "sk-test")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&online.stdout);
    assert!(stdout.contains("may be billed"), "{stdout}");
    assert!(stdout.contains("--offline"), "{stdout}");
    assert!(!stdout.contains("sk-test"), "no secret is printed");
    let offline = ok(
        &investigate(&["--workspace", ws.to_str().unwrap(), "--quiet", "--offline"])
            .env("OPENAI_BASE_URL", &base)
            .env("OPENAI_API_KEY", "sk-test")
            .output()
            .unwrap(),
    );
    assert!(offline.contains("offline demo"), "{offline}");
    assert!(
        offline.contains("══ final answer (Completed) ══"),
        "{offline}"
    );
}

fn transcript_lines(path: &Path) -> usize {
    std::fs::read(path)
        .map(|b| b.iter().filter(|c| **c == b'\n').count())
        .unwrap_or(0)
}

/// What the model saw, step by step, in a parent transcript: roles, texts, tool calls and
/// results (the comparable content of a run; command durations, which differ from run to
/// run, are blanked).
fn conversation(path: &Path) -> Vec<String> {
    let durations = regex::Regex::new(r"\| [0-9]+\.[0-9]+s \|").unwrap();
    let text = std::fs::read_to_string(path).unwrap();
    let text = durations.replace_all(&text, "| _s |");
    let mut steps = Vec::new();
    for line in text.lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        match record["record"].as_str() {
            Some("task") | Some("message") => steps.push(record["message"].to_string()),
            Some("finished") => steps.push(record.to_string()),
            _ => {}
        }
    }
    steps
}

#[test]
fn a_run_killed_at_any_point_resumes_to_the_uninterrupted_result() {
    let dir = tempfile::tempdir().unwrap();
    let reference_ws = dir.path().join("reference");
    let reference = ok(
        &investigate(&["--workspace", reference_ws.to_str().unwrap(), "--quiet"])
            .output()
            .unwrap(),
    );
    let reference_answer = final_answer(&reference).to_string();
    let reference_transcript = reference_ws.join("scratch/sessions/incident-4711.jsonl");
    let total_lines = transcript_lines(&reference_transcript);
    let expected = conversation(&reference_transcript);

    let mut kill_points = Vec::new();
    for k in 1..=total_lines {
        let ws = dir.path().join(format!("ws{k}"));
        let mut child = investigate(&["--workspace", ws.to_str().unwrap(), "--quiet"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let transcript = ws.join("scratch/sessions/incident-4711.jsonl");
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut killed_at = None;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success());
                break;
            }
            let lines = transcript_lines(&transcript);
            if lines >= k {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                killed_at = Some(transcript_lines(&transcript));
                break;
            }
            assert!(Instant::now() < deadline, "the run did not progress");
            std::thread::sleep(Duration::from_millis(1));
        }
        let Some(at) = killed_at else { continue };
        kill_points.push(at);
        let resumed =
            ok(
                &investigate(&["--workspace", ws.to_str().unwrap(), "--resume", "--quiet"])
                    .output()
                    .unwrap(),
            );
        assert_eq!(
            final_answer(&resumed),
            reference_answer,
            "killed after {at} transcript lines"
        );
        assert_eq!(
            conversation(&transcript),
            expected,
            "killed after {at} transcript lines: the resumed transcript differs"
        );
    }
    kill_points.sort();
    kill_points.dedup();
    eprintln!(
        "killed at {} distinct points of a {total_lines}-line transcript: {kill_points:?}",
        kill_points.len()
    );
    assert!(
        kill_points.len() >= 10,
        "only {} distinct kill points: {kill_points:?}",
        kill_points.len()
    );
}
