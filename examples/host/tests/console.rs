//! The web console in a real headless Chromium (WebDriver) against a real `sre serve` with a
//! scripted model: an Alertmanager webhook becomes a thread in the list, its steps appear
//! live, a review-mode write is approved in the page (or denied with a reason the agent
//! reads), the report renders; an alert title and a tool output carrying `<script>` and
//! `<img onerror>` stay text. Screenshots go to `target/console-screenshots/`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

mod common;
mod console_kit;
mod server;
mod webdriver;

use console_kit::{fixer_home, shots};
use serde_json::json;
use server::{TOKEN, http, json_of};
use webdriver::Browser;

/// The answer after an approved write, in Markdown.
const APPROVED: &str = "    - expect: {last_message_contains: [\"exit code 0\"]}\n      final: \"## Root Cause\\nThe pool is **exhausted**.\\n\\n## Recommended Actions\\n- raise `pool_size`\\n- alert on waiters\"";

/// The answer after a denied write: the agent read the person's reason.
const DENIED: &str = "    - expect: {last_message_contains: [\"not in prod\"]}\n      final: \"Denied: not in prod, so nothing was changed.\"";

const XSS_TITLE: &str =
    "<img src=x onerror=\"window.pwned=1\"> checkout down <script>window.pwned=2</script>";

/// A home: `fixer` in review mode (a plan says so) prints markup, then writes (which needs
/// approval), then takes the `last` step.
fn home(last: &str) -> tempfile::TempDir {
    fixer_home(
        "[Bash]",
        "Review",
        &format!(
            r###"agents:
  fixer:
    - tool_calls:
        - {{tool: shell, args: {{command: "printf '%s\n' '<script>window.pwned=3</script>' '<img src=x onerror=window.pwned=4>'"}}}}
    - tool_calls:
        - {{tool: shell, args: {{command: 'echo fixed >> scratch/fix.txt'}}}}
{last}
"###
        ),
    )
}

fn alert(fingerprint: &str) -> Vec<u8> {
    alert_named(fingerprint, "CheckoutErrors")
}

fn alert_named(fingerprint: &str, name: &str) -> Vec<u8> {
    console_kit::alert(fingerprint, name, XSS_TITLE)
}

#[test]
fn a_webhook_becomes_a_live_thread_approved_in_the_page_and_markup_stays_text() {
    let dir = home(APPROVED);
    let server = server::start(dir.path(), TOKEN);
    let addr = server.addr.clone();
    let b = Browser::start();
    // Refused without the token: the page asks for it, and a wrong one is refused.
    b.goto(&format!("http://{addr}/"));
    b.type_text(&b.wait("#token", 30), "wrong-token");
    b.click_on("form.login button", 5);
    b.wait("[role=alert]", 10);
    console_kit::sign_in(&b, &addr, "");
    let (status, _) = http(
        &addr,
        "POST",
        "/webhooks/alertmanager",
        Some(TOKEN),
        &alert("f1"),
    );
    assert_eq!(status, 202);
    // The thread appears in the list, its title as text.
    b.wait("tr[data-thread='thread-1'] a", 30);
    b.screenshot(&shots().join("list.png"));
    let row = b.exec(
        "return document.querySelector(\"tr[data-thread='thread-1']\").textContent",
        json!([]),
    );
    let row = row.as_str().unwrap();
    assert!(row.contains("<img src=x onerror"), "{row}");
    // The incident's severity and service beside it.
    assert!(
        row.contains("critical") && row.contains("checkout"),
        "{row}"
    );
    b.click_on("tr[data-thread='thread-1'] a", 10);
    // The investigation unfolds; the write waits for a person.
    b.wait(".approval button.approve", 60);
    b.screenshot(&shots().join("pending-approval.png"));
    // The tool's output (collapsed) holds the markup as text.
    let steps = b
        .exec(
            "return document.getElementById('steps').textContent",
            json!([]),
        )
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        steps.contains("<img src=x onerror=window.pwned=4>") && steps.contains("fixer calls shell"),
        "{steps}"
    );
    b.click_on(".approval button.approve", 5);
    b.until(
        "return document.getElementById('status')?.textContent === 'completed'",
        60,
    );
    b.wait("#report h3", 15);
    b.exec(
        "document.getElementById('report').scrollIntoView()",
        json!([]),
    );
    b.screenshot(&shots().join("report.png"));
    let report = b.text(&b.wait("#report", 5));
    assert!(
        report.contains("Root Cause") && report.contains("raise pool_size"),
        "{report}"
    );
    // Markdown became structure, and nothing from the payload or the tool ran or loaded.
    assert_eq!(
        b.exec(
            "return [document.querySelectorAll('#report li').length, document.querySelectorAll('#report code').length, document.querySelectorAll('#main img, #main script').length, String(window.pwned)]",
            json!([])
        ),
        json!([2, 1, 0, "undefined"])
    );
    // Each step once: the events' numbers are unique.
    assert_eq!(
        b.exec(
            "const n = [...document.querySelectorAll('#steps li')].map(e => e.dataset.event).filter(Boolean); return n.length > 0 && new Set(n).size === n.length",
            json!([])
        ),
        json!(true)
    );
    let t = json_of(&http(&addr, "GET", "/api/threads/thread-1", Some(TOKEN), b"").1);
    assert_eq!(t["approvals"][0]["status"], "approved", "{t}");
    // Tokens per agent: the three model calls of fixer (read, write, answer).
    b.until(
        "const r = document.querySelector('#usage tr[data-agent=fixer]'); return !!r && r.children[1].textContent === '3' && Number(r.children[2].textContent) > 0",
        15,
    );
    // The page and its assets come with a strict policy.
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    use std::io::{Read, Write};
    write!(
        s,
        "GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let lower = raw.to_lowercase();
    assert!(
        lower.contains("content-security-policy: default-src 'none'; script-src 'self'")
            && lower.contains("x-content-type-options: nosniff"),
        "{raw}"
    );
    // And the API's answers (here a refusal) are never sniffed either.
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        s,
        "GET /api/threads HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    assert!(
        raw.starts_with("HTTP/1.1 401")
            && raw
                .to_lowercase()
                .contains("x-content-type-options: nosniff"),
        "{raw}"
    );
}

#[test]
fn a_denial_with_a_reason_from_the_page_reaches_the_agent() {
    let dir = home(DENIED);
    let server = server::start(dir.path(), TOKEN);
    let addr = server.addr.clone();
    let b = Browser::start();
    console_kit::sign_in(&b, &addr, "");
    let (status, _) = http(
        &addr,
        "POST",
        "/webhooks/alertmanager",
        Some(TOKEN),
        &alert("f2"),
    );
    assert_eq!(status, 202);
    b.click_on("tr[data-thread='thread-1'] a", 30);
    b.wait(".approval button.deny", 60);
    // No reason: nothing is sent.
    b.click_on(".approval button.deny", 5);
    b.wait(".deny-reason[aria-invalid=true]", 5);
    b.type_text(&b.wait(".deny-reason", 5), "not in prod");
    b.click_on(".approval button.deny", 5);
    b.until(
        "return document.getElementById('status')?.textContent === 'completed'",
        60,
    );
    let report = b.text(&b.wait("#report .report", 15));
    assert!(report.contains("Denied: not in prod"), "{report}");
    let t = json_of(&http(&addr, "GET", "/api/threads/thread-1", Some(TOKEN), b"").1);
    assert_eq!(t["approvals"][0]["status"], "denied", "{t}");
    assert_eq!(t["approvals"][0]["note"], "not in prod", "{t}");
}

/// The numbers of thread `id`'s logged events, from the API (read until it goes quiet).
fn logged_events(addr: &str, id: &str) -> Vec<u64> {
    use std::io::{BufRead, BufReader, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(2)))
        .unwrap();
    write!(
        s,
        "GET /api/threads/{id}/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
    )
    .unwrap();
    let mut ids = Vec::new();
    for line in BufReader::new(s).lines() {
        let Ok(line) = line else { break };
        if let Some(n) = line
            .strip_prefix("id: ")
            .or_else(|| line.strip_prefix("id:"))
        {
            ids.push(n.trim().parse().unwrap());
        }
    }
    ids
}

#[test]
fn a_dropped_stream_resumes_without_losing_or_repeating_a_step() {
    let dir = home(APPROVED);
    // Below the ephemeral range: no connection takes it while the server is down.
    let port = (20000..32000)
        .map(|p| 20000 + (p + std::process::id() as u16 % 12000) % 12000)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .unwrap();
    let listen = format!("127.0.0.1:{port}");
    let mut server = server::start_on(dir.path(), TOKEN, &[], &listen);
    let addr = server.addr.clone();
    let b = Browser::start();
    console_kit::sign_in(&b, &addr, "");
    let (status, _) = http(
        &addr,
        "POST",
        "/webhooks/alertmanager",
        Some(TOKEN),
        &alert("f3"),
    );
    assert_eq!(status, 202);
    b.click_on("tr[data-thread='thread-1'] a", 30);
    b.wait(".approval button.approve", 60);
    // The server dies under the page (its stream drops), and comes back.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let _server = server::start_on(dir.path(), TOKEN, &[], &listen);
    // The page reconnects on its own; the decision is taken in it.
    b.click_on(".approval button.approve", 30);
    b.until(
        "return document.getElementById('status')?.textContent === 'completed'",
        60,
    );
    // The status is stored before its last events are logged: wait for the log to settle.
    let mut logged = logged_events(&addr, "thread-1");
    loop {
        std::thread::sleep(std::time::Duration::from_millis(500));
        let again = logged_events(&addr, "thread-1");
        if again == logged {
            break;
        }
        logged = again;
    }
    let last = *logged.last().unwrap();
    b.until(
        &format!("return document.getElementById('steps').dataset.last === '{last}'"),
        30,
    );
    // Every logged event reached the page exactly once, and the server was asked to resume
    // (it sent each numbered frame once: what the page received before dropping repeats).
    assert_eq!(
        b.exec(
            "const s = document.getElementById('steps'); return [Number(s.dataset.received), Number(s.dataset.raw), Number(s.dataset.last)]",
            json!([])
        ),
        json!([logged.len(), logged.len(), last])
    );
    assert_eq!(
        b.exec(
            "const n = [...document.querySelectorAll('#steps li')].map(e => e.dataset.event).filter(Boolean); return new Set(n).size === n.length",
            json!([])
        ),
        json!(true)
    );
}

#[test]
fn an_on_demand_hook_switched_on_in_the_page_runs_for_that_thread_only() {
    let dir = home(APPROVED);
    std::fs::write(
        dir.path().join("hooks.yaml"),
        "kind: HookConfiguration\nspec:\n  hooks:\n    - name: audit\n      event: PostToolUse\n      type: command\n      matcher: '*'\n      activation: on-demand\n      command: '{ cat; echo; } >> scratch/audit.log'\n",
    )
    .unwrap();
    let server = server::start(dir.path(), TOKEN);
    let addr = server.addr.clone();
    let b = Browser::start();
    console_kit::sign_in(&b, &addr, "");
    for (f, name) in [("f4", "CheckoutErrors"), ("f5", "CheckoutLatency")] {
        let (status, _) = http(
            &addr,
            "POST",
            "/webhooks/alertmanager",
            Some(TOKEN),
            &alert_named(f, name),
        );
        assert_eq!(status, 202);
    }
    server::wait_for(&addr, "thread-1", "parked");
    server::wait_for(&addr, "thread-2", "parked");
    b.goto(&format!("http://{addr}/#/thread/thread-1"));
    b.click_on("#hook-audit", 30);
    b.until("return document.querySelector('#hook-audit').checked && !document.querySelector('#hook-audit').disabled", 10);
    let t = json_of(&http(&addr, "GET", "/api/threads/thread-1", Some(TOKEN), b"").1);
    assert_eq!(t["hooks"], json!(["audit"]), "{t}");
    b.screenshot(&shots().join("hooks.png"));
    b.click_on(".approval button.approve", 30);
    b.until(
        "return document.getElementById('status')?.textContent === 'completed'",
        60,
    );
    b.goto(&format!("http://{addr}/#/thread/thread-2"));
    b.until(
        "return (document.querySelector('#thread-head h1') || {}).textContent === 'thread-2'",
        30,
    );
    b.wait("#hook-audit", 30);
    assert_eq!(
        b.exec(
            "return document.querySelector('#hook-audit').checked",
            json!([])
        ),
        json!(false)
    );
    b.click_on(".approval button.approve", 30);
    b.until(
        "return document.getElementById('status')?.textContent === 'completed'",
        60,
    );
    let log = std::fs::read_to_string(dir.path().join(".sre/workspace/scratch/audit.log")).unwrap();
    assert!(log.contains("\"session_id\":\"thread-1\""), "{log}");
    assert!(!log.contains("thread-2"), "{log}");
}

#[test]
fn a_subagents_steps_nest_under_the_call_that_started_it() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path();
    std::fs::create_dir_all(h.join("agents")).unwrap();
    std::fs::write(
        h.join("agents/fixer.yaml"),
        "kind: ExtendedAgent\nspec:\n  name: fixer\n  system_prompt: You fix checkout.\n  agents_as_tools: [reader]\n  tools: [Bash]\n",
    )
    .unwrap();
    std::fs::write(
        h.join("agents/reader.yaml"),
        "kind: ExtendedAgent\nspec:\n  name: reader\n  system_prompt: You read.\n  agent_type: ReadOnly\n  tools: [Bash]\n",
    )
    .unwrap();
    std::fs::write(
        h.join("plans.yaml"),
        "kind: IncidentFilter\nmetadata: {name: checkout}\nspec:\n  incidentPlatform: Prometheus\n  impactedService: checkout\n  handlingAgent: fixer\n  agentMode: Autonomous\n",
    )
    .unwrap();
    std::fs::write(
        h.join("script.yaml"),
        "agents:\n  fixer:\n    - tool_calls:\n        - {tool: ask_reader, args: {task: 'count the errors'}}\n    - final: the reader counted 3 errors\n  ask_reader:\n    - tool_calls:\n        - {tool: shell, args: {command: 'echo 3 errors'}}\n    - final: 3 errors\n",
    )
    .unwrap();
    let server = server::start(h, TOKEN);
    let addr = server.addr.clone();
    let b = Browser::start();
    console_kit::sign_in(&b, &addr, "");
    let (status, _) = http(
        &addr,
        "POST",
        "/webhooks/alertmanager",
        Some(TOKEN),
        &alert("f6"),
    );
    assert_eq!(status, 202);
    b.click_on("tr[data-thread='thread-1'] a", 30);
    b.until(
        "return document.getElementById('status')?.textContent === 'completed'",
        60,
    );
    // The reader's lane sits inside the fixer's ask_reader step, and holds its own calls.
    b.until(
        "const lane = document.querySelector('#steps > li ol.lane'); return !!lane && lane.dataset.session.includes('--ask_reader-') && lane.parentElement.querySelector('.kind').textContent.includes('calls ask_reader') && lane.textContent.includes('calls shell') && lane.textContent.includes('finished')",
        15,
    );
    b.screenshot(&shots().join("subagent.png"));
    // The fixer's own steps stay at the top.
    assert_eq!(
        b.exec(
            "return [...document.querySelectorAll('#steps > li > .kind')].some(k => k.textContent.includes('fixer calls ask_reader'))",
            json!([])
        ),
        json!(true)
    );
}
