//! `sre run --record` and `sre replay` end to end: a run with a subagent, a hook that
//! refuses a write, a compaction and real tool calls, recorded (secrets redacted) and
//! replayed deterministically; a changed prompt, a changed file under `--live-tools`, and
//! another model answered by the recorded tool outputs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

mod common;

use std::path::{Path, PathBuf};

use common::*;

const SECRET: &str = "sk-live-0123456789abcdef";

/// A home: a lead with a reader subagent and the shell, a hook refusing writes; a script
/// that reads a file, asks the reader (whose long answer forces a compaction), tries a
/// write, and answers.
fn home(dir: &Path) -> (PathBuf, PathBuf) {
    let h = dir.join("home");
    std::fs::create_dir_all(h.join("agents")).unwrap();
    std::fs::write(
        h.join("agents/lead.yaml"),
        "kind: ExtendedAgent\nspec:\n  name: lead\n  system_prompt: You lead.\n  agents_as_tools: [reader]\n  tools: [Bash]\n",
    )
    .unwrap();
    std::fs::write(
        h.join("agents/reader.yaml"),
        "kind: ExtendedAgent\nspec:\n  name: reader\n  system_prompt: You read.\n  agent_type: ReadOnly\n",
    )
    .unwrap();
    std::fs::write(
        h.join("hooks.yaml"),
        "kind: HookConfiguration\nspec:\n  hooks:\n    - name: no-writes\n      event: PreToolUse\n      type: command\n      matcher: shell\n      command: 'if grep -q \">\"; then echo no writes >&2; exit 2; fi'\n",
    )
    .unwrap();
    let long: Vec<String> = (0..1500).map(|i| format!("line{i}")).collect();
    let script = dir.join("script.yaml");
    std::fs::write(
        &script,
        format!(
            "model: {{context_window: 6000}}\nagents:\n  lead:\n    - tool_calls:\n        - {{tool: shell, args: {{command: 'cat notes.txt'}}}}\n    - tool_calls:\n        - {{tool: ask_reader, args: {{task: 'what files are there?'}}}}\n    - tool_calls:\n        - {{tool: shell, args: {{command: 'echo x > scratch/x.txt'}}}}\n    - final: done\n  ask_reader:\n    - final: 'only notes.md: {}'\n  compactor:\n    - final: 'The reader found only notes.md.'\n",
            long.join(" ")
        ),
    )
    .unwrap();
    (h, script)
}

/// Record a run into `dir/rec.jsonl`; the workspace holds notes.txt.
fn record(dir: &Path) -> PathBuf {
    let (h, script) = home(dir);
    let ws = dir.join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(ws.join("notes.txt"), "deploy v2 at 14:02\n").unwrap();
    let cassette = dir.join("rec.jsonl");
    let (code, _, stderr) = output(
        sre()
            .args([
                "run",
                "--agent",
                "lead",
                "--approve",
                "none",
                "--session",
                "rec-1",
            ])
            .arg("--script")
            .arg(&script)
            .arg("--workspace")
            .arg(&ws)
            .arg("--record")
            .arg(&cassette)
            .arg(&h)
            .arg(format!("look around; the API token is {SECRET}"))
            .env("EXAMPLE_API_TOKEN", SECRET),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("recorded:"), "{stderr}");
    cassette
}

#[test]
fn a_recorded_run_replays_identically_and_keeps_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let cassette = record(dir.path());
    let text = std::fs::read_to_string(&cassette).unwrap();
    assert!(!text.contains(SECRET), "the secret is in the cassette");
    assert!(text.contains("[redacted:EXAMPLE_API_TOKEN]"));
    let kinds = |k: &str| {
        text.lines()
            .filter(|l| l.contains(&format!("\"kind\":\"{k}\"")))
            .count()
    };
    // The lead's 4 calls, the reader's, the compaction's.
    assert_eq!(kinds("model"), 6, "{text}");
    assert_eq!(kinds("tool"), 2, "{text}");
    assert!(text.contains("\"type\":\"hook_decision\""));
    assert!(text.contains("\"type\":\"budget_action\""));
    // Replayed three times: identical each time (the secret redacted the same way).
    for _ in 0..3 {
        let (code, _, stderr) = output(
            sre()
                .arg("replay")
                .arg(&cassette)
                .env("EXAMPLE_API_TOKEN", SECRET),
        );
        assert_eq!(code, 0, "{stderr}");
        assert!(
            stderr.contains(
                "reproduced: 6 model calls and 2 tool calls identical to the recording; same answer"
            ),
            "{stderr}"
        );
    }
}

#[test]
fn a_changed_prompt_is_reported_at_its_first_difference() {
    let dir = tempfile::tempdir().unwrap();
    let cassette = record(dir.path());
    let changed = dir.path().join("home2");
    std::fs::create_dir_all(changed.join("agents")).unwrap();
    for f in ["agents/lead.yaml", "agents/reader.yaml", "hooks.yaml"] {
        let text = std::fs::read_to_string(dir.path().join("home").join(f)).unwrap();
        std::fs::write(
            changed.join(f),
            text.replace("You lead.", "You lead the investigation."),
        )
        .unwrap();
    }
    let (code, _, stderr) = output(
        sre()
            .arg("replay")
            .arg(&cassette)
            .arg("--home")
            .arg(&changed)
            .env("EXAMPLE_API_TOKEN", SECRET),
    );
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("first: step 1 (rec-1): model request differs: request 1 of the session differs from byte")
            && stderr.contains("(system[0].text)"),
        "{stderr}"
    );
}

#[test]
fn live_tools_are_compared_and_another_model_is_answered_from_the_cassette() {
    let dir = tempfile::tempdir().unwrap();
    let cassette = record(dir.path());
    // The file changed since: the live tool's output differs.
    std::fs::write(dir.path().join("ws/notes.txt"), "deploy v3 at 15:00\n").unwrap();
    let (code, _, stderr) = output(
        sre()
            .arg("replay")
            .arg(&cassette)
            .arg("--live-tools")
            .env("EXAMPLE_API_TOKEN", SECRET),
    );
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("tool output differs: `shell`"), "{stderr}");
    // Another model: its first call is in the cassette, its second is not.
    let other = dir.path().join("other.yaml");
    std::fs::write(
        &other,
        "agents:\n  lead:\n    - tool_calls:\n        - {tool: shell, args: {command: 'cat notes.txt'}}\n    - tool_calls:\n        - {tool: shell, args: {command: 'cat /etc/hostname'}}\n    - final: v2 shipped\n",
    )
    .unwrap();
    let (code, stdout, stderr) = output(
        sre()
            .arg("replay")
            .arg(&cassette)
            .arg("--script")
            .arg(&other)
            .arg("--json")
            .env("EXAMPLE_API_TOKEN", SECRET),
    );
    assert_eq!(code, 0, "{stderr}");
    let outputs: Vec<String> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["kind"]["type"] == "tool_finished")
        .map(|e| e["kind"]["output"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(outputs.len(), 2, "{stdout}");
    assert!(outputs[0].contains("deploy v2 at 14:02"), "{outputs:?}");
    assert!(
        outputs[1].contains("no recording for this call"),
        "{outputs:?}"
    );
    assert!(stdout.contains("this answer:\nv2 shipped"), "{stdout}");
}

#[test]
fn the_reference_teams_postgres_run_replays_identically_hooks_and_all() {
    // Its Stop prompt hook's input names the transcript: the replay keeps its own
    // transcripts elsewhere and is compared as if they were where the recording's were.
    let dir = tempfile::tempdir().unwrap();
    let cassette = dir.path().join("pg.jsonl");
    let (code, _, stderr) = output(
        sre()
            .args(["run", "--agent", "postgres-analyst", "--approve", "none"])
            .args(["--enable-hook", "audit", "--script"])
            .arg(repo().join("examples/scripts/team-postgres.yaml"))
            .arg("--workspace")
            .arg(dir.path().join("ws"))
            .arg("--record")
            .arg(&cassette)
            .arg(team_home())
            .arg("pg-orders at 127.0.0.1:1 refuses connections. Investigate."),
    );
    assert_eq!(code, 0, "{stderr}");
    let text = std::fs::read_to_string(&cassette).unwrap();
    assert!(
        text.contains("transcript_path"),
        "a hook saw the transcript"
    );
    let (code, _, stderr) = output(sre().arg("replay").arg(&cassette));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("reproduced:"), "{stderr}");
}
