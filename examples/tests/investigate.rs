//! The main job, run as a user runs it: the `investigate` binary, offline.

use std::process::Command;

#[test]
fn the_offline_investigation_finds_the_root_cause_with_real_tools_and_hooks() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let out = Command::new(env!("CARGO_BIN_EXE_investigate"))
        .args(["--workspace", ws.to_str().unwrap()])
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "investigate failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "offline demo",
        "→ git_live_commit",
        "→ update_investigation_state",
        "Cut RDS cost",
        "✗ shell: Blocked by a PreToolUse hook: blocked by shell-safety",
        "[investigator/pool-evidence]",
        "[investigator/reconciler-code]",
        "stop hook rejected the answer (1)",
        "══ final answer (Completed) ══",
        "## Root Cause",
        "## Recommended Actions",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
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
}
