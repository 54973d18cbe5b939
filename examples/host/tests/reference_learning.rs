//! Reference agent (d): learning from past incidents, over the real PostgreSQL of
//! `examples/team/lab/postgres-lab.sh`. The postgres-analyst investigates an exhausted pool
//! in full with `sre run --learn --runbook`: its lessons go into the workspace's Markdown
//! memory (with the session as source) and a runbook into the memory's knowledge files.
//! Meanwhile a deprecated piece of advice and a conflicting concurrent note are written to
//! the same memory. A second incident of the same class then starts from memory: the same
//! scripted model branches on what the memory index in its prompt shows, asserts that the
//! deprecated advice is not shown and the conflict is (as something to review), and takes
//! fewer turns and tokens.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

mod common;
mod pglab;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use pglab::Lab;
use serde_json::Value;
use sre_memory::MarkdownMemory;

/// Turns, estimated tokens (prompt + output) and tool calls of the analyst in a run.
fn figures(events: &[Value]) -> (u64, u64, usize) {
    let mut turns = 0;
    let mut tokens = 0;
    for e in events {
        if e["kind"]["type"] == "model_response" && e["agent"] == "postgres-analyst" {
            turns += 1;
            let u = &e["kind"]["usage"];
            tokens += u["input_tokens"].as_u64().unwrap() + u["output_tokens"].as_u64().unwrap();
        }
    }
    let calls = events
        .iter()
        .filter(|e| e["kind"]["type"] == "tool_started")
        .count();
    (turns, tokens, calls)
}

/// `sre run` of the analyst in `workspace` against the lab on `port`; its events and stderr.
fn investigate(
    dir: &Path,
    workspace: &Path,
    port: u16,
    session: &str,
    extra: &[&str],
) -> (Vec<Value>, String, Duration) {
    let script =
        std::fs::read_to_string(repo().join("examples/scripts/team-postgres-learning.yaml"))
            .unwrap()
            .replace("@PORT@", &port.to_string());
    let path = dir.join(format!("{session}.yaml"));
    std::fs::write(&path, script).unwrap();
    let started = Instant::now();
    let (code, stdout, stderr) = output(
        sre()
            .args(["run", "--agent", "postgres-analyst", "--json", "--approve", "none"])
            .args(["--session", session, "--script"])
            .arg(&path)
            .arg("--workspace")
            .arg(workspace)
            .args(extra)
            .arg(team_home())
            .arg(format!(
                "pg-orders (database orders at 127.0.0.1:{port}) refuses new connections from the orders service. Investigate and remediate."
            )),
    );
    let wall = started.elapsed();
    assert_eq!(code, 0, "stderr:\n{stderr}");
    (events(&stdout), stderr, wall)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_incident_starts_from_what_the_first_taught() {
    let dir = tempfile::tempdir().unwrap();
    let workspace = dir.path().join("ws");

    // 1. The first incident, investigated in full; then learned from, and a runbook.
    let port = free_port();
    let lab = Lab::start(&dir.path().join("lab1"), port, &workspace);
    let (first, stderr, first_wall) = investigate(
        dir.path(),
        &workspace,
        port,
        "incident-1",
        &["--learn", "--runbook"],
    );
    drop(lab);
    assert!(
        stderr.contains(
            "learned from incident-1: 3 entries into memory (debugging, incidents, pitfalls)"
        ),
        "{stderr}"
    );
    // The runbook, where the memory keeps knowledge (and so in the next prompt's index).
    let runbook = PathBuf::from(
        stderr
            .lines()
            .find_map(|l| l.strip_prefix("runbook: "))
            .unwrap_or_else(|| panic!("{stderr}")),
    );
    assert_eq!(
        runbook.parent().unwrap(),
        workspace.join("memory/knowledge")
    );
    assert!(
        runbook
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("runbook-pg-orders-pool-exhausted-by-sessions-idle")
    );
    let text = std::fs::read_to_string(&runbook).unwrap();
    assert!(text.starts_with("# pg-orders pool exhausted by sessions idle in transaction\n"));
    assert!(
        text.contains("source=incident-1")
            && text.contains("scripts/terminate-idle-in-transaction.sh")
    );
    // Resuming the finished run with --learn again files nothing twice.
    let (code, _, again) = output(
        sre()
            .args([
                "run",
                "--agent",
                "postgres-analyst",
                "--approve",
                "none",
                "--resume",
            ])
            .args(["--session", "incident-1", "--learn", "--script"])
            .arg(dir.path().join("incident-1.yaml"))
            .arg("--workspace")
            .arg(&workspace)
            .arg(team_home()),
    );
    assert_eq!(code, 0, "{again}");
    assert!(again.contains("learned from incident-1 already"), "{again}");
    let memory = MarkdownMemory::open(workspace.join("memory")).unwrap();
    let incidents = std::fs::read_to_string(workspace.join("memory/incidents.md")).unwrap();
    assert_eq!(incidents.matches("Root cause:").count(), 1, "{incidents}");
    assert!(
        incidents.contains("Root cause: orders-worker sessions left idle in transaction")
            && incidents.contains("source=incident-1"),
        "{incidents}"
    );

    // 2. Meanwhile: advice deprecated by a person, and two sessions that changed the same
    //    lesson at once (the second is kept beside the first, marked, not merged).
    let old = memory
        .append(
            "debugging",
            "What worked: restart pg-orders with pg_ctl restart to free its connections",
            "incident-0",
        )
        .await
        .unwrap();
    memory
        .deprecate(
            &old,
            "restarts drop in-flight orders; end the idle sessions instead",
            "user",
        )
        .await
        .unwrap();
    let hits = memory
        .search("terminate-idle-in-transaction", 5)
        .await
        .unwrap();
    let lesson = hits
        .iter()
        .find(|h| h.text.starts_with("What worked: On pg-orders"))
        .unwrap_or_else(|| panic!("{hits:?}"));
    let (_, entry) = memory.get(&lesson.id).await.unwrap();
    let version = entry.version();
    memory
        .update(
            &lesson.id,
            &format!("{} (then page the orders team)", lesson.text),
            &version,
            "incident-7",
        )
        .await
        .unwrap();
    memory
        .update(
            &lesson.id,
            &format!("{} (and restart orders-worker)", lesson.text),
            &version,
            "incident-8",
        )
        .await
        .unwrap();
    let debugging = std::fs::read_to_string(workspace.join("memory/debugging.md")).unwrap();
    assert!(
        debugging.contains("then page the orders team")
            && debugging.contains("and restart orders-worker")
            && debugging.contains("conflicts="),
        "{debugging}"
    );

    // The index the next prompt holds marks the topic as holding something to review.
    let index = std::fs::read_to_string(workspace.join("memory/index.md")).unwrap();
    assert!(
        index
            .lines()
            .any(|l| l.contains("(debugging.md)") && l.contains("to review")),
        "{index}"
    );
    // 3. A second incident of the same class, from memory: the script's `when` takes the
    //    short path only if the lessons are in the prompt, and its `expect` checks the
    //    deprecated advice is not shown and the conflict is.
    let port = free_port();
    let _lab = Lab::start(&dir.path().join("lab2"), port, &workspace);
    let (second, _, second_wall) = investigate(dir.path(), &workspace, port, "incident-2", &[]);
    let said = |events: &[Value]| {
        events
            .iter()
            .filter(|e| e["kind"]["type"] == "model_response")
            .filter_map(|e| e["kind"]["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(said(&second).contains("Memory says sessions of orders-worker idle in transaction"));
    assert!(!said(&first).contains("Memory says"));
    let (t1, k1, c1) = figures(&first);
    let (t2, k2, c2) = figures(&second);
    assert!(
        t2 < t1 && k2 < k1 && c2 < c1,
        "first {t1}/{k1}/{c1}, second {t2}/{k2}/{c2}"
    );
    println!("reference agent (d), offline (tokens estimated by the scripted model, bytes/4):");
    println!("| investigation | wall | model turns | tokens | tool calls |\n|---|---|---|---|---|");
    println!(
        "| first (memory empty) | {:.2} s | {t1} | {k1} | {c1} |",
        first_wall.as_secs_f64()
    );
    println!(
        "| second (from memory) | {:.2} s | {t2} | {k2} | {c2} |",
        second_wall.as_secs_f64()
    );
}
