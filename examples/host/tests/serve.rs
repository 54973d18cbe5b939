//! `sre serve` end to end, over real HTTP on 127.0.0.1: a signed-off webhook opens an
//! incident, the response plan's Review agent investigates, its write parks for approval,
//! the server is killed (-9) and started again, the approval arrives over the API, and the
//! thread completes with the write done once. Tokens, refusals and metrics too.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const TOKEN: &str = "test-token-0123456789abcdef";

/// One HTTP/1.1 request; the status and the body.
fn http(addr: &str, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    // A refused large body may be answered before it is all sent.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

struct Server {
    child: Child,
    addr: String,
    /// What it wrote on stderr.
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

fn start(home: &Path, token: &str) -> Server {
    start_with(home, token, &[])
}

fn start_with(home: &Path, token: &str, env: &[(&str, &str)]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sre"))
        .args([
            "serve",
            home.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--script",
        ])
        .arg(home.join("script.yaml"))
        .env("SRE_API_TOKEN", token)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("listening on ") {
                let _ = tx.send(addr.to_string());
            }
            sink.lock().unwrap().push_str(&format!("{line}\n"));
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("the server did not start:\n{}", log.lock().unwrap()));
    Server { child, addr, log }
}

/// The `data:` lines of a thread's event stream, read in the background.
struct Follower(std::sync::mpsc::Receiver<String>);

impl Follower {
    /// Everything read until a line satisfies `done` (bounded wait).
    fn until(&self, done: impl Fn(&str) -> bool) -> String {
        let mut seen = String::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(line) = self.0.recv_timeout(Duration::from_millis(200)) {
                seen.push_str(&line);
                seen.push('\n');
                if done(&line) {
                    return seen;
                }
            }
        }
        panic!("the stream never said it:\n{seen}");
    }
}

fn follow(addr: &str, thread: &str) -> Follower {
    follow_query(addr, &format!("{thread}/events"))
}

/// Follow `/api/threads/{path}`: its `data:` lines, and its `id:` lines as `id N`.
fn follow_query(addr: &str, path: &str) -> Follower {
    let mut s = TcpStream::connect(addr).unwrap();
    let head = format!(
        "GET /api/threads/{path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\nAccept: text/event-stream\r\n\r\n"
    );
    s.write_all(head.as_bytes()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let (ready_tx, ready) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(s).lines().map_while(Result::ok);
        // The server subscribes before it answers: the status line means it listens.
        let status = lines.next().unwrap_or_default();
        let _ = ready_tx.send(status);
        for line in lines {
            let forward = match (line.strip_prefix("data:"), line.strip_prefix("id:")) {
                (Some(data), _) => data.trim().to_string(),
                (_, Some(id)) => format!("id {}", id.trim()),
                _ => continue,
            };
            if tx.send(forward).is_err() {
                return;
            }
        }
    });
    let status = ready.recv_timeout(Duration::from_secs(30)).unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    Follower(rx)
}

fn wait_for(addr: &str, thread: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, body) = http(
            addr,
            "GET",
            &format!("/api/threads/{thread}"),
            Some(TOKEN),
            b"",
        );
        if code == 200 {
            let t = json_of(&body);
            if t["status"] == status {
                return t;
            }
            assert!(
                Instant::now() < deadline,
                "thread {thread} never became {status}: {t}"
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn home() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path();
    std::fs::create_dir_all(h.join("agents")).unwrap();
    std::fs::write(
        h.join("agents/fixer.yaml"),
        "kind: ExtendedAgent\nspec:\n  name: fixer\n  system_prompt: You fix checkout.\n  tools: [Bash]\n",
    )
    .unwrap();
    std::fs::write(
        h.join("hooks.yaml"),
        "kind: HookConfiguration\nspec:\n  hooks:\n    - name: log\n      event: PostToolUse\n      type: command\n      matcher: '*'\n      activation: on-demand\n      command: '{ cat; echo; } >> scratch/hook.log'\n",
    )
    .unwrap();
    std::fs::write(
        h.join("plans.yaml"),
        "kind: IncidentFilter\nmetadata: {name: checkout}\nspec:\n  incidentPlatform: Prometheus\n  impactedService: checkout\n  handlingAgent: fixer\n  customInstructions: Fix it in scratch.\n",
    )
    .unwrap();
    std::fs::write(
        h.join("script.yaml"),
        "agents:\n  fixer:\n    - expect: {last_message_contains: [\"Investigate incident inc-1 from alertmanager\", \"Instructions: Fix it in scratch.\"]}\n      tool_calls:\n        - {tool: shell, args: {command: 'cat /etc/hostname'}}\n        - {tool: shell, args: {command: 'echo fixed >> scratch/fix.txt'}}\n    - final: fixed it\n    - expect: {last_message_contains: [\"check it again\"]}\n      tool_calls:\n        - {tool: shell, args: {command: 'cat scratch/fix.txt'}}\n    - final: checked again\n",
    )
    .unwrap();
    dir
}

fn firing() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "version": "4", "status": "firing", "receiver": "sre", "groupKey": "g",
        "alerts": [{"status": "firing", "labels": {"alertname": "CheckoutErrors", "severity": "critical", "service": "checkout"},
                    "annotations": {"summary": "5xx above 5%"}, "startsAt": "2026-11-30T08:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z", "fingerprint": "f1"}]
    }))
    .unwrap()
}

#[test]
fn an_alert_is_investigated_and_its_write_waits_for_approval_across_a_crash() {
    let dir = home();
    let h = dir.path();
    let mut server = start(h, TOKEN);
    let addr = server.addr.clone();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    // Health needs no token; everything else does.
    assert_eq!(http(&addr, "GET", "/healthz", None, b"").0, 200);
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
    // A person follows the thread live (server-sent events) before it exists.
    let live = follow(&addr, "thread-1");
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
    // The API's own bodies are small.
    let big = format!("{{\"text\": \"{}\"}}", "x".repeat(2 << 20));
    assert_eq!(
        http(
            &addr,
            "POST",
            "/api/threads/thread-1/messages",
            Some(TOKEN),
            big.as_bytes()
        )
        .0,
        413
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

/// `sre ARGS` with the API token in the environment: status and stdout (stderr on failure).
fn sre(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sre"))
        .args(args)
        .env("SRE_API_TOKEN", TOKEN)
        .output()
        .unwrap();
    let text = if out.status.success() {
        String::from_utf8_lossy(&out.stdout).into_owned()
    } else {
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    (out.status.code().unwrap_or(-1), text)
}

/// Wait until thread `id` waits for exactly `requests`.
fn wait_parked_on(addr: &str, thread: &str, requests: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let t = json_of(
            &http(
                addr,
                "GET",
                &format!("/api/threads/{thread}"),
                Some(TOKEN),
                b"",
            )
            .1,
        );
        if t["status"] == "parked" && t["waiting_for"] == json!(requests) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{thread} never waited for {requests:?}: {t}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

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
