//! Reference agent (c): the daily LLM-error triage as a scheduled task. ticketbot (a sample
//! service, `examples/team/lab/ticketbot-lab.sh`) runs a day of agent sessions through the
//! harness against a local provider that injects real faults (429s from its rate limit,
//! 400s from a malformed tool schema planted in ticketbot, timeouts, streams cut
//! mid-response); the harness's event log of that day is what the task reads. `sre serve`
//! runs the task (`tasks/llm-error-triage.yaml`, daily at 06:00) on the morning after, with
//! its clock set there: the agent clusters and ranks the errors, traces each to ticketbot's
//! code, and writes the fixes on a branch with a test, unpushed; its report is the task
//! thread's answer. A person merges the branch, the next day runs on the fixed code, and
//! the next morning's run, in the same thread, reports the reduction. Every figure of both
//! reports is checked here against the logs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

mod common;
mod server;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;
use server::{TOKEN, http, json_of};

const THREAD: &str = "task-llm-error-triage";

fn lab(args: &[&str], ws: &Path) {
    let out = Command::new(repo().join("examples/team/lab/ticketbot-lab.sh"))
        .arg(args[0])
        .arg(ws)
        .args(&args[1..])
        .env("SRE_LAB", env!("CARGO_BIN_EXE_sre-lab"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "lab {args:?}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One cluster of a day's errors, counted here from the log.
#[derive(Debug, Default)]
struct Cluster {
    retried: usize,
    failed: usize,
    sessions: BTreeSet<String>,
}

impl Cluster {
    fn events(&self) -> usize {
        self.retried + self.failed
    }
}

/// Sessions, and the errors per cause, of the day in `log`.
fn day(log: &Path) -> (usize, BTreeMap<&'static str, Cluster>) {
    let mut sessions = BTreeSet::new();
    let mut clusters: BTreeMap<&'static str, Cluster> = BTreeMap::new();
    for line in std::fs::read_to_string(log).unwrap().lines() {
        let e: Value = serde_json::from_str(line).unwrap();
        let k = &e["kind"];
        let session = e["session_id"].as_str().unwrap().to_string();
        match k["type"].as_str().unwrap() {
            "session_started" => {
                sessions.insert(session);
            }
            t @ ("model_retry" | "failed") => {
                let text = k["error"].as_str().or(k["message"].as_str()).unwrap();
                let cause = [
                    ("HTTP 429", "rate limit"),
                    ("HTTP 400", "tool schema"),
                    ("broke off", "cut stream"),
                    ("timed out", "timeout"),
                ]
                .into_iter()
                .find(|(needle, _)| text.contains(needle))
                .unwrap_or_else(|| panic!("an error of no known cause: {text}"))
                .1;
                let c = clusters.entry(cause).or_default();
                if t == "failed" {
                    c.failed += 1;
                } else {
                    c.retried += 1;
                }
                c.sessions.insert(session);
            }
            _ => {}
        }
    }
    (sessions.len(), clusters)
}

/// Sessions per route (the first part of their ids) of the day in `log`.
fn routes(log: &Path) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for line in std::fs::read_to_string(log).unwrap().lines() {
        let e: Value = serde_json::from_str(line).unwrap();
        if e["kind"]["type"] == "session_started" {
            let route = e["session_id"].as_str().unwrap().split('-').next().unwrap();
            *out.entry(route.to_string()).or_default() += 1;
        }
    }
    out
}

fn serve(ws: &Path, data: &Path, clock: &str) -> server::Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sre"));
    cmd.arg("serve")
        .arg(team_home())
        .args(["--listen", "127.0.0.1:0", "--clock", clock])
        .arg("--data")
        .arg(data)
        .arg("--workspace")
        .arg(ws)
        .arg("--script")
        .arg(repo().join("examples/scripts/team-llm-error-triage.yaml"))
        .env("SRE_API_TOKEN", TOKEN);
    server::start_command(cmd)
}

/// The task's thread once its run `n` completed.
fn wait_for_run(s: &server::Server, n: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (code, body) = http(
            &s.addr,
            "GET",
            &format!("/api/threads/{THREAD}"),
            Some(TOKEN),
            b"",
        );
        if code == 200 {
            let t = json_of(&body);
            if t["runs"] == n && t["status"] == "completed" {
                return t;
            }
            assert!(t["status"] != "failed", "{t}\n{}", s.log.lock().unwrap());
        }
        assert!(
            Instant::now() < deadline,
            "run {n} never completed:\n{}",
            s.log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn stop(mut s: server::Server) {
    let term = Command::new("kill")
        .args(["-TERM", &s.child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    assert!(s.child.wait().unwrap().success());
}

#[test]
fn the_daily_triage_ranks_traces_and_fixes_then_reports_the_reduction_the_next_day() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let data = dir.path().join("data");
    let ran = Instant::now();
    lab(&["init"], &ws);
    lab(&["day", "2026-11-15"], &ws);
    let day1_built = ran.elapsed();
    let repo_dir = ws.join("repos/ticketbot");
    let main_before = git(&repo_dir, &["rev-parse", "main"]);
    let (sessions1, day1) = day(&ws.join("logs/2026-11-15.jsonl"));
    let routes1 = routes(&ws.join("logs/2026-11-15.jsonl"));

    // The morning after: the scheduler starts the task at 06:00.
    let s = serve(&ws, &data, "2026-11-16T05:59:57Z");
    let started = Instant::now();
    let run1 = wait_for_run(&s, 1);
    let run1_wall = started.elapsed();
    stop(s);
    assert!(
        run1["task"]
            .as_str()
            .unwrap()
            .contains("run 1 for 2026-11-16T06:00:00+00:00")
    );
    let report1 = run1["answer"].as_str().unwrap().to_string();
    let failed1: usize = day1.values().map(|c| c.failed).sum();
    let events1: usize = day1.values().map(Cluster::events).sum();
    let row = |rank: usize, cause: &str, who: &str| {
        let c = &day1[cause];
        format!(
            "| {rank} | {} | {} | {} | {} ({who}",
            c.events(),
            c.retried,
            c.failed,
            c.sessions.len()
        )
    };
    for figure in [
        format!(
            "{sessions1} sessions (digest {}, summarize {}, triage {})",
            routes1["digest"], routes1["summarize"], routes1["triage"]
        ),
        format!("{events1} error events, {failed1} failed sessions"),
        row(1, "rate limit", "digest, 02:00"),
        row(
            2,
            "tool schema",
            &format!("all {} triage", routes1["triage"]),
        ),
        row(3, "cut stream", "digest, summarize"),
        row(4, "timeout", "summarize"),
        format!(
            "all {} sessions finished after one retry",
            day1["cut stream"].sessions.len()
        ),
    ] {
        assert!(report1.contains(&figure), "{figure} not in:\n{report1}");
    }
    // Ranked by count, as the report's order says.
    let ranked: Vec<usize> = ["rate limit", "tool schema", "cut stream", "timeout"]
        .iter()
        .map(|c| day1[c].events())
        .collect();
    assert!(ranked.windows(2).all(|w| w[0] >= w[1]), "{ranked:?}");
    // Every triage session failed on the schema, every digest session past the limit on 429.
    assert!(
        day1["tool schema"]
            .sessions
            .iter()
            .all(|s| s.starts_with("triage-"))
    );
    assert!(
        day1["rate limit"]
            .sessions
            .iter()
            .all(|s| s.starts_with("digest-"))
    );

    // The fixes: one commit on a branch of the agent's clone, with a test; nothing pushed.
    let clone = ws.join("scratch/ticketbot");
    let branch = "fix/llm-errors-2026-11-15";
    assert_eq!(git(&clone, &["branch", "--show-current"]), branch);
    assert_eq!(
        git(&clone, &["diff", "--name-only", "main", "HEAD"]),
        "tests/test_llm_payloads.py\nticketbot/batch.py\nticketbot/config.py\nticketbot/tools.py"
    );
    assert_eq!(git(&repo_dir, &["rev-parse", "main"]), main_before);
    assert_eq!(
        git(
            &ws.join("remote/ticketbot.git"),
            &["for-each-ref", "--format=%(refname) %(objectname)"]
        ),
        format!("refs/heads/main {main_before}")
    );
    assert!(
        std::fs::read_dir(ws.join("scratch")).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".patch"))
    );
    let unittest = |dir: &Path| {
        Command::new("python3")
            .args(["-m", "unittest", "tests.test_llm_payloads"])
            .current_dir(dir)
            .output()
            .unwrap()
    };
    assert!(unittest(&clone).status.success());
    git(&clone, &["checkout", "-q", "main", "--", "ticketbot"]);
    let without = unittest(&clone);
    assert!(String::from_utf8_lossy(&without.stderr).contains("FAILED (failures=3)"));
    git(&clone, &["checkout", "-q", "HEAD", "--", "ticketbot"]);

    // A person reviews and merges the branch; the next day runs on the fixed code.
    git(
        &repo_dir,
        &[
            "pull",
            "-q",
            "--no-rebase",
            "--no-edit",
            clone.to_str().unwrap(),
            branch,
        ],
    );
    lab(&["day", "2026-11-16"], &ws);
    let (sessions2, day2) = day(&ws.join("logs/2026-11-16.jsonl"));
    let events2: usize = day2.values().map(Cluster::events).sum();
    let failed2: usize = day2.values().map(|c| c.failed).sum();
    assert_eq!(
        day2.keys().copied().collect::<Vec<_>>(),
        ["cut stream"],
        "{day2:?}"
    );
    assert_eq!(failed2, 0);

    // The next morning, the same task and thread: the reduction.
    let s = serve(&ws, &data, "2026-11-17T05:59:57Z");
    let started = Instant::now();
    let run2 = wait_for_run(&s, 2);
    let run2_wall = started.elapsed();
    // The thread's events, both runs (replayed from its log): tokens and tool calls per run.
    let seen =
        server::follow(&s.addr, THREAD).until(|l| l.contains("after the fixes of 2026-11-15"));
    stop(s);
    let mut runs = [(0u64, 0u64, 0usize); 2];
    let mut run = 0;
    for line in seen.lines().filter(|l| l.starts_with('{')) {
        let e: Value = serde_json::from_str(line).unwrap();
        let k = &e["kind"];
        match k["type"].as_str() {
            Some("model_response") => {
                runs[run].0 += 1;
                runs[run].1 += k["usage"]["input_tokens"].as_u64().unwrap()
                    + k["usage"]["output_tokens"].as_u64().unwrap();
            }
            Some("tool_finished") => runs[run].2 += 1,
            Some("finished") => run = (run + 1).min(1),
            _ => {}
        }
    }
    assert_eq!(
        (runs[0].0, runs[0].2, runs[1].0, runs[1].2),
        (6, 10, 2, 1),
        "{runs:?}"
    );
    let report2 = run2["answer"].as_str().unwrap();
    let reduction = (events2 as f64 - events1 as f64) / events1 as f64 * 100.0;
    for figure in [
        format!("{sessions2} sessions, {events2} error events, {failed2} failed sessions"),
        format!(
            "| HTTP 429 rate limit (digest) | {} | 0 |",
            day1["rate limit"].events()
        ),
        format!(
            "| HTTP 400 tag_ticket schema (triage) | {} | 0 |",
            day1["tool schema"].events()
        ),
        format!(
            "| transport error: the response body broke off | {} | {} |",
            day1["cut stream"].events(),
            day2["cut stream"].events()
        ),
        format!(
            "| transport error: timed out | {} | 0 |",
            day1["timeout"].events()
        ),
        format!(
            "Error events {events1} -> {events2} ({reduction:.1}%); failed sessions {failed1} -> 0"
        ),
    ] {
        assert!(report2.contains(&figure), "{figure} not in:\n{report2}");
    }
    // Both reports are in the one thread of the task, in one session.
    assert_eq!(run2["sessions"].as_array().unwrap().len(), 1);

    // The figures of this reference agent (offline: the scripted model).
    println!(
        "reference agent (c) llm-error-triage, offline: a day of {sessions1} sessions run by the harness against the faulty provider in {:.1} s; from `sre serve` started 3 s before 06:00 to the report: run 1 {:.1} s, {} model turns, {} tool calls, {} tokens (estimated, bytes/4; {events1} error events in 4 clusters, 3 traced to code and fixed), run 2 {:.1} s, {} turns, {} tool call, {} tokens; error events {events1} -> {events2} ({reduction:+.1}%), failed sessions {failed1} -> {failed2}",
        day1_built.as_secs_f64(),
        run1_wall.as_secs_f64(),
        runs[0].0,
        runs[0].2,
        runs[0].1,
        run2_wall.as_secs_f64(),
        runs[1].0,
        runs[1].2,
        runs[1].1,
    );
}
