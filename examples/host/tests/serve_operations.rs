//! `sre serve` operated: decisions and incidents from the CLI against a running server
//! (`--server URL`), and a graceful stop with investigations running.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

mod server;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use server::*;

#[test]
fn operators_decide_from_the_cli_against_a_running_server() {
    let dir = home();
    let h = dir.path();
    // Every incident made by hand goes to the fixer.
    std::fs::write(
        h.join("plans.yaml"),
        "kind: IncidentFilter\nmetadata: {name: by-hand}\nspec:\n  incidentPlatform: Manual\n  handlingAgent: fixer\n",
    )
    .unwrap();
    std::fs::write(
        h.join("script.yaml"),
        "agents:\n  fixer:\n    - tool_calls:\n        - {tool: shell, args: {command: 'echo one >> scratch/a.txt'}}\n    - expect: {last_message_contains: [\"not during the freeze\"]}\n      tool_calls:\n        - {tool: shell, args: {command: 'echo two >> scratch/a.txt'}}\n    - tool_calls:\n        - {tool: shell, args: {command: 'echo three >> scratch/b.txt'}}\n    - tool_calls:\n        - {tool: shell, args: {command: 'echo three >> scratch/b.txt'}}\n    - final: done\n",
    )
    .unwrap();
    let pd_secret = "pd-secret-do-not-print-4242";
    let mut server = start_with(h, TOKEN, &[("SRE_PAGERDUTY_SECRETS", pd_secret)]);
    let url = format!("http://{}", server.addr);
    let addr = server.addr.clone();
    // An incident by hand, through the server.
    let (code, said) = sre(&[
        "incident",
        "create",
        "--server",
        &url,
        "--title",
        "Checkout is slow",
        "--severity",
        "P2",
    ]);
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("inc-1: new, thread thread-1"), "{said}");
    // A PagerDuty payload replayed by an operator: the token stands for the signature.
    let pd = h.join("pd.json");
    std::fs::write(&pd, payloads_pagerduty()).unwrap();
    let (code, said) = sre(&["incident", "ingest", "--server", &url, pd.to_str().unwrap()]);
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("inc-2: new"), "{said}");
    // Without the token, the signature is still required.
    let (code, body) = http(
        &addr,
        "POST",
        "/webhooks/pagerduty",
        None,
        &payloads_pagerduty(),
    );
    assert_eq!(code, 401, "{body}");
    let (code, body) = http(
        &addr,
        "POST",
        "/api/incidents",
        Some(TOKEN),
        br#"{"title": " "}"#,
    );
    assert_eq!(code, 400, "{body}");
    let (code, body) = http(
        &addr,
        "POST",
        "/api/incidents",
        Some(TOKEN),
        br#"{"title": 5}"#,
    );
    assert_eq!(code, 400);
    assert!(
        body.contains("`title`: expected a string, found a number"),
        "{body}"
    );
    let (code, body) = http(&addr, "GET", "/api/approvals?all=maybe", Some(TOKEN), b"");
    assert_eq!(code, 400, "{body}");
    let (code, said) = sre(&["incident", "list", "--server", &url]);
    assert_eq!(code, 0, "{said}");
    assert!(
        said.contains("inc-1\tmanual\tfiring\tP2\t1x\tfixer\tCheckout is slow"),
        "{said}"
    );
    // The first write: denied with a reason, which the agent reads.
    wait_parked_on(&addr, "thread-1", &["apr-1"]);
    let (code, said) = sre(&["approvals", "--server", &url]);
    assert_eq!(code, 0, "{said}");
    assert!(
        said.contains("apr-1\tpending") && said.contains("echo one"),
        "{said}"
    );
    let (code, said) = sre(&[
        "deny",
        "--server",
        &url,
        "apr-1",
        "--reason",
        "not during the freeze",
    ]);
    assert_eq!(code, 0, "{said}");
    assert!(
        said.contains("apr-1: denied") && said.contains("thread thread-1 continues"),
        "{said}"
    );
    // The second: approved with an edited input.
    wait_parked_on(&addr, "thread-1", &["apr-2"]);
    let token_file = h.join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sre"))
        .args(["approve", "--server", &url, "--token-file"])
        .arg(&token_file)
        .args([
            "apr-2",
            "--input",
            r#"{"command": "echo edited >> scratch/a.txt"}"#,
        ])
        .env_remove("SRE_API_TOKEN")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The third: approved for the rest of the thread; the same call again does not ask.
    wait_parked_on(&addr, "thread-1", &["apr-3"]);
    let (code, said) = sre(&["approve", "--server", &url, "apr-3", "--always"]);
    assert_eq!(code, 0, "{said}");
    let done = wait_for(&addr, "thread-1", "completed");
    assert_eq!(done["answer"], "done");
    let ws = h.join(".sre/workspace/scratch");
    assert_eq!(
        std::fs::read_to_string(ws.join("a.txt")).unwrap(),
        "edited\n"
    );
    assert_eq!(
        std::fs::read_to_string(ws.join("b.txt")).unwrap(),
        "three\nthree\n"
    );
    let (_, said) = sre(&["approvals", "--server", &url, "--all", "--json"]);
    let all: Value = json_of(&said);
    let statuses: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.len(), 3, "{all}");
    // Mistakes get the server's reason, and a status that says so.
    let (code, said) = sre(&["approve", "--server", &url, "apr-9"]);
    assert_eq!(code, 1);
    assert!(said.contains("404") && said.contains("apr-9"), "{said}");
    let (code, said) = sre(&[
        "approvals",
        "--server",
        &url,
        "--token-file",
        "/nonexistent/token",
    ]);
    assert_eq!(code, 1);
    assert!(said.contains("/nonexistent/token"), "{said}");
    let out = Command::new(env!("CARGO_BIN_EXE_sre"))
        .args(["approvals", "--server", &url])
        .env("SRE_API_TOKEN", "wrong-token-0123456789")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));
    // The API answers JSON for what it does not have, and says what is wrong with a query.
    let (code, body) = http(&addr, "GET", "/api/nothing", Some(TOKEN), b"");
    assert_eq!(
        (code, json_of(&body)["error"].as_str().unwrap()),
        (404, "no such endpoint")
    );
    let (code, body) = http(&addr, "DELETE", "/api/incidents", Some(TOKEN), b"");
    assert_eq!(code, 405, "{body}");
    json_of(&body);
    let (code, body) = http(&addr, "GET", "/api/incidents?limit=ten", Some(TOKEN), b"");
    assert_eq!(code, 400);
    assert!(body.contains("`limit` must be a number"), "{body}");
    // No secret in what the server wrote, nor in what the API shows.
    server.child.kill().unwrap();
    let _ = server.child.wait();
    let log = server.log.lock().unwrap().clone();
    assert!(log.contains("listening on"), "{log}");
    for secret in [TOKEN, pd_secret] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
        assert!(!said.contains(secret) && !done.to_string().contains(secret));
    }
}

#[test]
fn a_stopped_server_parks_running_investigations_and_resumes_them_without_rerunning_a_call() {
    let dir = home();
    let h = dir.path();
    std::fs::write(
        h.join("plans.yaml"),
        "kind: IncidentFilter\nmetadata: {name: checkout}\nspec:\n  incidentPlatform: Prometheus\n  handlingAgent: fixer\n  agentMode: Autonomous\n",
    )
    .unwrap();
    std::fs::write(
        h.join("script.yaml"),
        "agents:\n  fixer:\n    - tool_calls:\n        - {tool: shell, args: {command: 'echo started >> scratch/run.log; sleep 30; echo finished >> scratch/run.log'}}\n    - final: resumed and done\n",
    )
    .unwrap();
    let mut server = start(h, TOKEN);
    let addr = server.addr.clone();
    let (code, body) = http(
        &addr,
        "POST",
        "/webhooks/alertmanager",
        Some(TOKEN),
        &firing(),
    );
    assert_eq!(code, 202, "{body}");
    let log = h.join(".sre/workspace/scratch/run.log");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("started")
    {
        assert!(Instant::now() < deadline, "the command never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(wait_for(&addr, "thread-1", "running")["status"], "running");
    // Someone follows the thread: an open stream does not hold the server up.
    let live = follow(&addr, "thread-1");
    live.until(|l| l.contains("\"type\":\"tool_started\""));
    // SIGTERM: the server stops its runs, records where they are, and exits cleanly.
    let stopped = Instant::now();
    let term = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(
        stopped.elapsed() < Duration::from_secs(20),
        "{:?}",
        stopped.elapsed()
    );
    let said = server.log.lock().unwrap().clone();
    assert!(
        said.contains("stopping: running investigations park"),
        "{said}"
    );
    // Started again, the thread resumes: the interrupted call is not run a second time.
    let server = start(h, TOKEN);
    let done = wait_for(&server.addr, "thread-1", "completed");
    assert_eq!(done["answer"], "resumed and done");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "started\n");
    let mut server = server;
    server.child.kill().unwrap();
    let _ = server.child.wait();
}

/// A PagerDuty v3 `incident.triggered` event for a service no plan takes.
fn payloads_pagerduty() -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({"event": {
        "id": "01EVENT", "event_type": "incident.triggered", "resource_type": "incident",
        "occurred_at": "2026-11-30T08:00:00Z",
        "data": {"id": "Q2ABC", "type": "incident", "title": "Disk full on db-1", "status": "triggered",
                 "html_url": "https://acme.pagerduty.com/incidents/Q2ABC", "number": 7,
                 "service": {"id": "PSVC", "summary": "database", "type": "service_reference"},
                 "priority": {"id": "P1ID", "summary": "P1", "type": "priority_reference"},
                 "urgency": "high"}
    }}))
    .unwrap()
}

#[test]
fn a_lesson_a_stop_cut_short_is_learned_at_the_next_start() {
    let dir = home();
    let h = dir.path();
    let script = std::fs::read_to_string(h.join("script.yaml")).unwrap();
    std::fs::write(
        h.join("script.yaml"),
        format!("{script}  memory-learner:\n    - when: {{prompt_contains: [\"extract what is worth remembering\"]}}\n      final: '{{\"symptoms\": [\"5xx\"], \"steps_that_worked\": [\"fix in scratch\"], \"root_cause\": \"checkout broke\", \"pitfalls\": []}}'\n"),
    )
    .unwrap();
    let mut server = start_full(h, TOKEN, &[], "127.0.0.1:0", &["--learn"]);
    let addr = server.addr.clone();
    let (status, _) = http(
        &addr,
        "POST",
        "/webhooks/alertmanager",
        Some(TOKEN),
        &firing(),
    );
    assert_eq!(status, 202);
    // (The home's plan asks before the write.)
    wait_for(&addr, "thread-1", "parked");
    let (status, _) = http(
        &addr,
        "POST",
        "/api/approvals/apr-1/approve",
        Some(TOKEN),
        b"",
    );
    assert_eq!(status, 200);
    wait_for(&addr, "thread-1", "completed");
    follow(&addr, "thread-1").until(|l| l.contains("\"learned\""));
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    // As if the stop had come mid-lesson: its end, and what it filed, are gone.
    let db = rusqlite::Connection::open(h.join(".sre/data/incidents.db")).unwrap();
    let cut = db
        .execute(
            "DELETE FROM thread_events WHERE json_type(event, '$.learned') IS NOT NULL",
            [],
        )
        .unwrap();
    assert_eq!(cut, 1);
    drop(db);
    let memory = h.join(".sre/workspace/memory");
    for topic in ["incidents.md", "debugging.md"] {
        std::fs::remove_file(memory.join(topic)).unwrap();
    }
    // The next start takes the lesson up, and files it once.
    let mut server = start_full(h, TOKEN, &[], "127.0.0.1:0", &["--learn"]);
    follow(&server.addr, "thread-1").until(|l| l.contains("\"learned\""));
    let incidents = std::fs::read_to_string(memory.join("incidents.md")).unwrap();
    assert_eq!(
        incidents.matches("source=thread-1").count(),
        1,
        "{incidents}"
    );
    assert!(
        server
            .log
            .lock()
            .unwrap()
            .contains("taking up 1 lesson(s) a stop cut short")
    );
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    // Learned: the start after that has nothing to take up.
    let mut server = start_full(h, TOKEN, &[], "127.0.0.1:0", &["--learn"]);
    std::thread::sleep(Duration::from_millis(500));
    assert!(!server.log.lock().unwrap().contains("lesson(s)"));
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

#[test]
fn request_bodies_that_are_not_objects_and_misleading_names_are_refused() {
    let dir = home();
    let mut server = start(dir.path(), TOKEN);
    let addr = server.addr.clone();
    for body in [
        &b"\"please deny this\""[..],
        b"[{\"input\": {\"command\": \"rm -rf /\"}}]",
        b"5",
        b"null",
    ] {
        let (status, text) = http(
            &addr,
            "POST",
            "/api/approvals/apr-1/approve",
            Some(TOKEN),
            body,
        );
        assert_eq!(status, 400, "{text}");
        assert!(text.contains("must be a JSON object"), "{text}");
    }
    let (status, text) = http(
        &addr,
        "POST",
        "/api/approvals/apr-1/approve",
        Some(TOKEN),
        "{\"by\": \"Zoe \u{202e}live\"}".as_bytes(),
    );
    assert_eq!(status, 400, "{text}");
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}
