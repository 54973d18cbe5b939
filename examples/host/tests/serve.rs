//! `sre serve` end to end, over real HTTP on 127.0.0.1: a signed-off webhook opens an
//! incident, the response plan's Review agent investigates, its write parks for approval,
//! the server is killed (-9) and started again, the approval arrives over the API, and the
//! thread completes with the write done once. Tokens, refusals and metrics too.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

mod server;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use server::*;

#[test]
fn an_alert_is_investigated_and_its_write_waits_for_approval_across_a_crash() {
    let dir = home();
    let h = dir.path();
    let mut server = start(h, TOKEN);
    let addr = server.addr.clone();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    // Health needs no token; everything else does, every route and method.
    assert_eq!(http(&addr, "GET", "/healthz", None, b"").0, 200);
    for (method, path) in [
        ("GET", "/metrics"),
        ("GET", "/api/incidents"),
        ("POST", "/api/incidents"),
        ("GET", "/api/incidents/inc-1"),
        ("GET", "/api/threads"),
        ("GET", "/api/threads/thread-1"),
        ("GET", "/api/threads/thread-1/events"),
        ("POST", "/api/threads/thread-1/messages"),
        ("POST", "/api/threads/thread-1/hooks/log"),
        ("GET", "/api/approvals"),
        ("POST", "/api/approvals/apr-1/approve"),
        ("POST", "/api/approvals/apr-1/deny"),
        ("GET", "/api/schedules"),
        ("POST", "/webhooks/alertmanager"),
        ("POST", "/webhooks/pagerduty"),
        ("POST", "/webhooks/azure-monitor"),
        ("POST", "/triggers/any"),
    ] {
        let (code, body) = http(&addr, method, path, None, b"{}");
        assert_eq!(code, 401, "{method} {path}: {body}");
    }
    assert_eq!(http(&addr, "GET", "/api/incidents", None, b"").0, 401);
    assert_eq!(
        http(
            &addr,
            "GET",
            "/api/incidents",
            Some("wrong-token-0123456789"),
            b""
        )
        .0,
        401
    );
    assert_eq!(
        http(&addr, "POST", "/webhooks/alertmanager", None, &firing()).0,
        401
    );
    // No thread yet: nothing to follow.
    let (code, body) = http(
        &addr,
        "GET",
        "/api/threads/thread-1/events",
        Some(TOKEN),
        b"",
    );
    assert_eq!(code, 404, "{body}");
    // The alert: accepted at once with its thread.
    let (code, body) = http(
        &addr,
        "POST",
        "/webhooks/alertmanager",
        Some(TOKEN),
        &firing(),
    );
    assert_eq!(code, 202, "{body}");
    let reply = json_of(&body);
    assert_eq!(reply["threadId"], "thread-1");
    assert_eq!(reply["incidents"][0]["outcome"], "new");
    // A person follows the thread (server-sent events): what happened so far, then live.
    let live = follow(&addr, "thread-1");
    // The agent reads freely, and its write waits for a person.
    let parked = wait_for(&addr, "thread-1", "parked");
    assert_eq!(parked["waiting_for"], json!(["apr-1"]), "{parked}");
    let (_, body) = http(&addr, "GET", "/api/threads?status=parked", Some(TOKEN), b"");
    assert_eq!(json_of(&body)["threads"][0]["id"], "thread-1", "{body}");
    let (_, body) = http(
        &addr,
        "GET",
        "/api/threads?status=completed",
        Some(TOKEN),
        b"",
    );
    assert_eq!(json_of(&body)["threads"], json!([]), "{body}");
    assert_eq!(
        http(
            &addr,
            "GET",
            "/api/threads?status=sleeping",
            Some(TOKEN),
            b""
        )
        .0,
        400
    );
    // What the follower saw: the agent's tool calls, the approval it waits for, the status.
    let seen = live.until(|l| l.contains("\"status\":\"parked\""));
    for want in [
        "\"type\":\"tool_started\"",
        "\"type\":\"approval_requested\"",
        "\"request\":\"apr-1\"",
        "\"status\":\"running\"",
    ] {
        assert!(seen.contains(want), "{want} not in:\n{seen}");
    }
    assert!(
        parked["error"].as_str().unwrap().contains("apr-1"),
        "{parked}"
    );
    let (_, body) = http(&addr, "GET", "/api/approvals", Some(TOKEN), b"");
    let approvals = json_of(&body)["approvals"].clone();
    assert_eq!(approvals.as_array().unwrap().len(), 1, "{approvals}");
    assert_eq!(approvals[0]["tool"], "shell");
    assert_eq!(
        approvals[0]["input"]["command"],
        "echo fixed >> scratch/fix.txt"
    );
    assert_eq!(approvals[0]["agent"], "fixer");
    let fix = h.join(".sre/workspace/scratch/fix.txt");
    assert!(!fix.exists());
    // The server dies hard while the thread is parked, and starts again.
    server.child.kill().unwrap();
    let _ = server.child.wait();
    let mut server = start(h, TOKEN);
    let addr = server.addr.clone();
    assert_eq!(wait_for(&addr, "thread-1", "parked")["status"], "parked");
    // A person approves over the API: the thread continues and completes, the write once.
    let (code, body) = http(
        &addr,
        "POST",
        "/api/approvals/apr-1/approve",
        Some(TOKEN),
        b"{}",
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(json_of(&body)["threadResumed"], true);
    let done = wait_for(&addr, "thread-1", "completed");
    assert_eq!(done["answer"], "fixed it");
    assert_eq!(std::fs::read_to_string(&fix).unwrap(), "fixed\n");
    // The thread holds its requests, decided, and the sessions it ran in.
    assert_eq!(done["approvals"][0]["id"], "apr-1", "{done}");
    assert_eq!(done["approvals"][0]["status"], "approved", "{done}");
    assert_eq!(done["waiting_for"], json!([]));
    assert_eq!(
        done["sessions"],
        json!([{"session": "thread-1", "agent": "fixer"}]),
        "{done}"
    );
    // Its whole past, replayed from the log across the crash, numbered from 1 in order.
    let replay = follow(&addr, "thread-1").until(|l| l.contains("\"status\":\"completed\""));
    let at = |want: &str| {
        replay
            .find(want)
            .unwrap_or_else(|| panic!("{want} not in:\n{replay}"))
    };
    assert!(replay.starts_with("id 1\n"), "{replay}");
    assert!(at("\"type\":\"approval_requested\"") < at("\"status\":\"parked\""));
    assert!(at("\"status\":\"parked\"") < at("\"decision\":\"approved\""));
    assert!(at("\"decision\":\"approved\"") < at("\"answer\":\"fixed it\""));
    let ids: Vec<u64> = replay
        .lines()
        .filter_map(|l| l.strip_prefix("id "))
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>(), "{replay}");
    // A reader that had the first events asks for the rest only.
    let last = *ids.last().unwrap();
    let rest = follow_query(&addr, &format!("thread-1/events?after={}", last - 1))
        .until(|l| l.contains("\"status\":\"completed\""));
    assert!(rest.starts_with(&format!("id {last}\n")), "{rest}");
    assert_eq!(rest.matches("id ").count(), 1, "{rest}");
    let (code, body) = http(
        &addr,
        "GET",
        "/api/threads/thread-1/events?after=x",
        Some(TOKEN),
        b"",
    );
    assert_eq!(code, 400, "{body}");
    // People follow up in the thread, with an on-demand hook switched on for it alone.
    let (code, body) = http(
        &addr,
        "POST",
        "/api/threads/thread-1/hooks/nope",
        Some(TOKEN),
        br#"{"enabled": true}"#,
    );
    assert_eq!(code, 400);
    assert!(
        body.contains("no on-demand hook `nope`") && body.contains("log"),
        "{body}"
    );
    let (code, body) = http(
        &addr,
        "POST",
        "/api/threads/thread-1/hooks/log",
        Some(TOKEN),
        br#"{"enabled": true}"#,
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(json_of(&body)["hooks"], json!(["log"]));
    let hook_log = h.join(".sre/workspace/scratch/hook.log");
    assert!(!hook_log.exists(), "the hook was off for the first run");
    let (code, body) = http(
        &addr,
        "POST",
        "/api/threads/thread-1/messages",
        Some(TOKEN),
        br#"{"text": "check it again"}"#,
    );
    assert_eq!(code, 202, "{body}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let t = json_of(&http(&addr, "GET", "/api/threads/thread-1", Some(TOKEN), b"").1);
        if t["status"] == "completed" && t["answer"] == "checked again" {
            break;
        }
        assert!(Instant::now() < deadline, "no follow-up answer: {t}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let logged = std::fs::read_to_string(&hook_log).unwrap();
    assert!(logged.contains("cat scratch/fix.txt"), "{logged}");
    assert_eq!(
        http(
            &addr,
            "POST",
            "/api/threads/thread-9/messages",
            Some(TOKEN),
            br#"{"text": "x"}"#
        )
        .0,
        404
    );
    assert_eq!(
        http(
            &addr,
            "POST",
            "/api/threads/thread-1/messages",
            Some(TOKEN),
            br#"{"text": " "}"#
        )
        .0,
        400
    );
    // A second server on the same data is refused: it would run the first one's threads.
    let second = Command::new(env!("CARGO_BIN_EXE_sre"))
        .args(["serve", h.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .env("SRE_API_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&second.stderr)
            .contains("another `sre serve` uses the data folder")
    );
    // An incident taken from the CLI while the server runs gets its thread opened.
    let other = String::from_utf8(firing())
        .unwrap()
        .replace("CheckoutErrors", "CheckoutLatency")
        .replace("f1", "f4");
    let file = h.join("other.json");
    std::fs::write(&file, other).unwrap();
    let cli = Command::new(env!("CARGO_BIN_EXE_sre"))
        .args([
            "incident",
            "ingest",
            h.to_str().unwrap(),
            file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&cli.stdout).into_owned();
    let thread = said
        .split_whitespace()
        .last()
        .unwrap_or_default()
        .to_string();
    assert!(thread.starts_with("thread-"), "{said}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while http(
        &addr,
        "GET",
        &format!("/api/threads/{thread}"),
        Some(TOKEN),
        b"",
    )
    .0 != 200
    {
        assert!(Instant::now() < deadline, "{thread} was never opened");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Decisions with fields of the wrong type are refused before anything is decided.
    for body in [
        &br#"{"input": "rm -rf /"}"#[..],
        br#"{"always": "yes"}"#,
        br#"{"bogus": 1}"#,
    ] {
        assert_eq!(
            http(
                &addr,
                "POST",
                "/api/approvals/apr-1/approve",
                Some(TOKEN),
                body
            )
            .0,
            400
        );
    }
    // The API's own bodies are small; the refusal is JSON like every other.
    let big = format!("{{\"text\": \"{}\"}}", "x".repeat(2 << 20));
    let (code, body) = http(
        &addr,
        "POST",
        "/api/threads/thread-1/messages",
        Some(TOKEN),
        big.as_bytes(),
    );
    assert_eq!(code, 413);
    assert!(
        json_of(&body)["error"]
            .as_str()
            .unwrap()
            .contains("size limit"),
        "{body}"
    );
    // Deciding twice is a conflict; an unknown request is not found.
    assert_eq!(
        http(
            &addr,
            "POST",
            "/api/approvals/apr-1/deny",
            Some(TOKEN),
            br#"{"reason": "late"}"#
        )
        .0,
        409
    );
    assert_eq!(
        http(
            &addr,
            "POST",
            "/api/approvals/apr-9/approve",
            Some(TOKEN),
            b"{}"
        )
        .0,
        404
    );
    assert_eq!(
        http(
            &addr,
            "POST",
            "/api/approvals/apr-1/deny",
            Some(TOKEN),
            b"{}"
        )
        .0,
        400
    );
    // The same alert again: a duplicate, no second investigation.
    let (code, body) = http(
        &addr,
        "POST",
        "/webhooks/alertmanager",
        Some(TOKEN),
        &firing(),
    );
    assert_eq!(code, 202);
    assert_eq!(json_of(&body)["incidents"][0]["outcome"], "duplicate");
    // Refusals say why, with the status that says whose fault it is.
    let (code, body) = http(
        &addr,
        "POST",
        "/webhooks/alertmanager",
        Some(TOKEN),
        b"{\"version\": \"4\", \"alerts\": [",
    );
    assert_eq!(code, 400, "{body}");
    assert!(
        json_of(&body)["error"]
            .as_str()
            .unwrap()
            .contains("not valid JSON at line 1"),
        "{body}"
    );
    let (code, _) = http(
        &addr,
        "POST",
        "/webhooks/alertmanager",
        Some(TOKEN),
        &vec![b' '; 10 << 20],
    );
    assert_eq!(code, 413);
    let (code, body) = http(&addr, "GET", "/metrics", Some(TOKEN), b"");
    assert_eq!(code, 200);
    assert!(
        body.contains("sre_deliveries_total{source=\"alertmanager\",status=\"202\"} 1"),
        "{body}"
    );
    assert!(
        body.contains("sre_threads{status=\"completed\"} 1"),
        "{body}"
    );
    // The runs' GenAI metrics since this server started (after the crash): the resumed
    // run's model call and the follow-up's two, the approved write and the follow-up's read.
    for want in [
        "# TYPE gen_ai_client_token_usage histogram",
        "gen_ai_client_token_usage_count{gen_ai_request_model=\"scripted:script\",gen_ai_token_type=\"input\"} 3",
        "gen_ai_client_operation_duration_seconds_count{gen_ai_operation_name=\"chat\",gen_ai_request_model=\"scripted:script\"} 3",
        "sre_tool_duration_seconds_count{gen_ai_tool_name=\"shell\",error=\"false\"} 2",
    ] {
        assert!(body.contains(want), "{want} not in:\n{body}");
    }
    // A token in the URL is taken on webhook routes (senders that cannot set a header),
    // never on the API.
    let (code, _) = http(
        &addr,
        "GET",
        &format!("/api/incidents?token={TOKEN}"),
        None,
        b"",
    );
    assert_eq!(code, 401);
    let other = String::from_utf8(firing()).unwrap().replace("f1", "f2");
    let (code, body) = http(
        &addr,
        "POST",
        &format!("/webhooks/alertmanager?token={TOKEN}"),
        None,
        other.as_bytes(),
    );
    assert_eq!(code, 202, "{body}");
    server.child.kill().unwrap();
    let _ = server.child.wait();
}

#[test]
fn the_server_refuses_to_start_without_a_strong_token() {
    let dir = home();
    let out = Command::new(env!("CARGO_BIN_EXE_sre"))
        .args([
            "serve",
            dir.path().to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .env("SRE_API_TOKEN", "short")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 16 characters"));
}
