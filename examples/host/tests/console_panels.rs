//! The web console's panels in a real headless Chromium against a real `sre serve`: a
//! write approved with an edited input by a named person, the pinned investigation state,
//! the cost per thread, the incident's timeline chart, the report downloaded as Markdown and
//! as standalone HTML (markup in it stays text), and an offloaded output's preview with the
//! whole output on demand. Screenshots go to `target/console-screenshots/`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

mod common;
mod console_kit;
mod server;
mod webdriver;

use std::path::Path;
use std::time::{Duration, Instant};

use console_kit::{fixer_home, shots, sign_in};
use serde_json::{Value, json};
use server::{TOKEN, http, json_of};
use webdriver::Browser;

const PRICES: &str = "model: {pricing: {input_per_mtok: 3.0, output_per_mtok: 15.0, cache_read_per_mtok: 0.3, cache_write_per_mtok: 3.75}}\n";

/// A file the browser downloaded into `dir`, once it is complete.
fn downloaded(dir: &Path, name: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last: Option<String> = None;
    loop {
        // Chromium may show the file before it has written it: done is non-empty, the same
        // on two reads 100 ms apart, and no `.crdownload` beside it.
        let partial = std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().ends_with(".crdownload"))
            })
            .unwrap_or(false);
        let text = std::fs::read_to_string(dir.join(name)).ok();
        if let Some(t) = &text
            && !t.is_empty()
            && !partial
            && last.as_ref() == Some(t)
        {
            return t.clone();
        }
        last = text;
        assert!(
            Instant::now() < deadline,
            "no {name} downloaded; {dir:?} has {:?}",
            std::fs::read_dir(dir)
                .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
                .unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The thread's logged events (the full stream, from the start, until it completes).
fn events(addr: &str, thread: &str, query: &str) -> Vec<Value> {
    let f = server::follow_query(addr, &format!("{thread}/events{query}"));
    let seen = f.until(|l| l.contains("\"status\":\"completed\""));
    seen.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect()
}

#[test]
fn an_edited_write_is_approved_by_name_with_state_cost_chart_and_downloads() {
    let script = format!(
        r###"{PRICES}agents:
  fixer:
    - tool_calls:
        - {{tool: update_investigation_state, args: {{hypotheses: [{{id: H1, statement: "pool exhausted", status: open}}], evidence: [{{fact: "p99 2.3 s", source: prometheus}}], timeline: [{{time: "08:00", event: "5xx rise"}}]}}}}
    - tool_calls:
        - {{tool: shell, args: {{command: 'echo asked >> scratch/fix.txt'}}}}
    - tool_calls:
        - {{tool: update_investigation_state, args: {{hypotheses: [{{id: H1, statement: "pool exhausted", status: confirmed}}], next_steps: ["raise pool_size"]}}}}
    - final: "## Root Cause\nThe pool is **exhausted** <img src=x onerror=alert(1)>.\n\n## Recommended Actions\n- raise `pool_size`"
"###
    );
    let dir = fixer_home("[Bash, update_investigation_state]", "Review", &script);
    let server = server::start(dir.path(), TOKEN);
    let addr = server.addr.clone();
    let b = Browser::start();
    let downloads = tempfile::tempdir().unwrap();
    b.downloads_to(downloads.path());
    sign_in(&b, &addr, "Ada Lovelace");
    assert_eq!(
        b.exec(
            "return document.getElementById('who').textContent",
            json!([])
        ),
        json!("signed in as Ada Lovelace")
    );
    let (status, _) = http(
        &addr,
        "POST",
        "/webhooks/alertmanager",
        Some(TOKEN),
        &console_kit::alert("p1", "CheckoutErrors", "checkout 5xx above 5%"),
    );
    assert_eq!(status, 202);
    b.click_on("tr[data-thread='thread-1'] a", 30);
    // The pinned state as the agent recorded it, before the write waits for approval.
    b.until(
        "const h = document.querySelector('#pinned li[data-status=open]'); return !!h && h.textContent.includes('H1') && h.textContent.includes('pool exhausted') && document.querySelector('#pinned').textContent.includes('p99 2.3 s')",
        30,
    );
    // Edit the command, then approve it.
    b.click_on(".approval button.edit", 30);
    b.exec(
        "const t = document.querySelector('.approval .edit-input'); t.value = JSON.stringify({command: 'echo edited >> scratch/fix.txt'});",
        json!([]),
    );
    b.click_on(".approval button.approve", 5);
    b.until(
        "return document.getElementById('status')?.textContent === 'completed'",
        60,
    );
    // The edited command ran, not the one asked for.
    let fix = std::fs::read_to_string(dir.path().join(".sre/workspace/scratch/fix.txt")).unwrap();
    assert_eq!(fix, "edited\n");
    // Who decided and when: in the page and in the API.
    b.until(
        "const d = document.querySelector('.approval .decided'); return !!d && /approved by Ada Lovelace at \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC/.test(d.textContent) && d.textContent.includes('echo edited')",
        15,
    );
    let (_, body) = http(&addr, "GET", "/api/threads/thread-1", Some(TOKEN), b"");
    let t = json_of(&body);
    let a = &t["approvals"][0];
    assert_eq!(a["decided_by"], "Ada Lovelace", "{a}");
    assert_eq!(
        a["approved_input"]["command"],
        "echo edited >> scratch/fix.txt"
    );
    // The state moved on: H1 confirmed, a next step.
    b.until(
        "const h = document.querySelector('#pinned li[data-status=confirmed]'); return !!h && h.textContent.includes('H1') && document.querySelector('#pinned').textContent.includes('raise pool_size')",
        15,
    );
    // The cost: the thread's total is the sum of its model calls' costs, shown in the page.
    let logged = events(&addr, "thread-1", "");
    let sum: f64 = logged
        .iter()
        .filter(|e| e["kind"]["type"] == "model_response")
        .map(|e| e["kind"]["cost_usd"].as_f64().unwrap())
        .sum();
    // (Read once the log has it all: the last model call's cost is added as it is logged.)
    let (_, body) = http(&addr, "GET", "/api/threads/thread-1", Some(TOKEN), b"");
    let cost = json_of(&body)["cost_usd"].as_f64().unwrap();
    assert!(sum > 0.0 && (cost - sum).abs() < 1e-9, "{cost} vs {sum}");
    let shown = format!("${cost:.4}");
    b.until(
        &format!("return document.getElementById('thread-head').textContent.includes('{shown}')"),
        15,
    );
    // The chart: the alert fired, a tick per step with a time, the approval decided.
    b.until(
        "const c = document.querySelector('#chart svg'); return !!c && !!c.querySelector('circle.fired') && c.querySelectorAll('rect.tick').length >= 6 && !!c.querySelector('rect.ask.approved')",
        15,
    );
    b.exec("window.scrollTo(0, 0)", json!([]));
    b.screenshot(&shots().join("panels-thread.png"));
    // The report, downloaded: Markdown with the timeline, standalone HTML with markup as text.
    b.click_on("button.download-md", 15);
    let md = downloaded(downloads.path(), "thread-1.md");
    assert!(md.starts_with("## Root Cause\n"), "{md}");
    assert!(md.contains("## Timeline of the investigation"), "{md}");
    assert!(md.contains("| fixer | fixer calls shell |"), "{md}");
    b.click_on("button.download-html", 5);
    let html = downloaded(downloads.path(), "thread-1.html");
    assert!(html.starts_with("<!doctype html>"), "{html}");
    assert!(html.contains("<h3>Root Cause</h3>"), "{html}");
    assert!(html.contains("<strong>exhausted</strong>"), "{html}");
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{html}"
    );
    assert!(!html.contains("<img"), "{html}");
    assert!(html.contains("<td>fixer calls shell</td>"), "{html}");
    // In the list: the plan and the cost.
    b.goto(&format!("http://{addr}/#/"));
    b.until(
        &format!(
            "const r = document.querySelector(\"tr[data-thread='thread-1']\"); return !!r && r.textContent.includes('checkout-plan') && r.querySelector('.cost').textContent === '{shown}'"
        ),
        15,
    );
    b.screenshot(&shots().join("panels-list.png"));
}

#[test]
fn an_offloaded_output_shows_its_preview_and_the_whole_is_served_on_demand() {
    let script = "agents:\n  fixer:\n    - tool_calls:\n        - {tool: shell, args: {command: 'seq 1 5000'}}\n    - final: counted\n";
    let dir = fixer_home("[Bash, update_investigation_state]", "Autonomous", script);
    let server = server::start(dir.path(), TOKEN);
    let addr = server.addr.clone();
    let whole: String = (1..=5000).map(|n| format!("{n}\n")).collect();
    let (status, _) = http(
        &addr,
        "POST",
        "/webhooks/alertmanager",
        Some(TOKEN),
        &console_kit::alert("o1", "CheckoutErrors", "checkout 5xx above 5%"),
    );
    assert_eq!(status, 202);
    // The full stream carries the whole output; the preview stream leaves it out, sized.
    let full = events(&addr, "thread-1", "");
    let finished = |es: &[Value]| {
        es.iter()
            .find(|e| e["kind"]["type"] == "tool_finished")
            .cloned()
            .unwrap()
    };
    let f = finished(&full);
    // The tool's whole output (its status line, then every number): compared, never
    // printed (it is 23 KiB).
    let output = f["kind"]["output"].as_str().unwrap().to_string();
    assert!(
        output.starts_with("[exit code 0") && output.ends_with(&whole),
        "the output is not seq's ({} bytes)",
        output.len()
    );
    let brief = finished(&events(&addr, "thread-1", "?outputs=preview"));
    assert_eq!(brief["kind"]["output"], Value::Null);
    assert_eq!(brief["kind"]["output_bytes"], output.len());
    assert_eq!(brief["kind"]["recorded"], f["kind"]["recorded"]);
    assert!(
        f["kind"]["recorded"]
            .as_str()
            .unwrap()
            .contains("Preview (head and tail)")
    );
    // Served whole, as text; an unknown call is a 404 that says so.
    let (session, call) = (
        f["session_id"].as_str().unwrap(),
        f["kind"]["id"].as_str().unwrap(),
    );
    let (status, body) = http(
        &addr,
        "GET",
        &format!("/api/threads/thread-1/outputs/{session}/{call}"),
        Some(TOKEN),
        b"",
    );
    assert_eq!(status, 200);
    assert!(
        body == output,
        "served {} bytes, not the {}",
        body.len(),
        output.len()
    );
    let (status, body) = http(
        &addr,
        "GET",
        &format!("/api/threads/thread-1/outputs/{session}/nope"),
        Some(TOKEN),
        b"",
    );
    assert_eq!(status, 404, "{body}");
    assert!(
        json_of(&body)["error"]
            .as_str()
            .unwrap()
            .contains("no finished call")
    );
    let (status, _) = http(
        &addr,
        "GET",
        "/api/threads/thread-1/events?outputs=some",
        Some(TOKEN),
        b"",
    );
    assert_eq!(status, 400);
    // In the page: the preview, and the whole downloaded from the button.
    let b = Browser::start();
    let downloads = tempfile::tempdir().unwrap();
    b.downloads_to(downloads.path());
    sign_in(&b, &addr, "");
    b.click_on("tr[data-thread='thread-1'] a", 30);
    let label = format!("Full output ({} bytes)", output.len());
    b.until(
        &format!("const x = document.querySelector('button.full-output'); return !!x && x.textContent === '{label}'"),
        30,
    );
    b.click_on("button.full-output", 5);
    let got = downloaded(downloads.path(), &format!("shell-{call}.txt"));
    assert!(
        got == output,
        "downloaded {} bytes, not the {}",
        got.len(),
        output.len()
    );
    b.screenshot(&shots().join("panels-offloaded.png"));
}

#[test]
fn a_completed_thread_is_learned_from_and_its_runbook_written_from_the_page() {
    let script = "agents:\n  fixer:\n    - tool_calls:\n        - {tool: shell, args: {command: 'echo pool max 20'}}\n    - final: \"## Root Cause\\nThe pool (max 20) is exhausted.\"\n  memory-learner:\n    - when: {prompt_contains: [\"extract what is worth remembering\"]}\n      expect: {prompt_contains: [\"pool max 20\"]}\n      final: '{\"symptoms\": [\"checkout 5xx\"], \"steps_that_worked\": [\"compare connections with the pool max\"], \"root_cause\": \"checkout pool exhausted at 20\", \"pitfalls\": []}'\n    - when: {prompt_contains: [\"You write runbooks\"]}\n      final: '{\"title\": \"Checkout pool exhausted\", \"markdown\": \"## Symptoms\\n- checkout 5xx\\n\\n## Fix\\nRaise the pool.\"}'\n";
    let dir = fixer_home("[Bash, update_investigation_state]", "Autonomous", script);
    let server = server::start_full(dir.path(), TOKEN, &[], "127.0.0.1:0", &["--learn"]);
    let addr = server.addr.clone();
    // Not before it is done.
    let (status, _) = http(
        &addr,
        "POST",
        "/api/threads/thread-9/runbook",
        Some(TOKEN),
        b"",
    );
    assert_eq!(status, 404);
    let (status, _) = http(
        &addr,
        "POST",
        "/webhooks/alertmanager",
        Some(TOKEN),
        &console_kit::alert("l1", "CheckoutErrors", "checkout 5xx above 5%"),
    );
    assert_eq!(status, 202);
    let b = Browser::start();
    sign_in(&b, &addr, "");
    b.click_on("tr[data-thread='thread-1'] a", 30);
    // Learned as it completed: the step says what was filed, the memory holds it.
    b.until(
        "return [...document.querySelectorAll('#steps .kind')].some(k => k.textContent.includes('learned 2 entries into memory (debugging, incidents)'))",
        30,
    );
    let memory = dir.path().join(".sre/workspace/memory");
    let incidents = std::fs::read_to_string(memory.join("incidents.md")).unwrap();
    assert!(
        incidents.contains("Root cause: checkout pool exhausted at 20 (symptoms: checkout 5xx)")
            && incidents.contains("source=thread-1"),
        "{incidents}"
    );
    // "Turn this investigation into a runbook", from the page.
    b.click_on("button.write-runbook", 30);
    b.until(
        "return document.getElementById('say').textContent.startsWith('runbook: ')",
        30,
    );
    let runbook = memory.join("knowledge/runbook-checkout-pool-exhausted-thread-1.md");
    let text = std::fs::read_to_string(&runbook).unwrap();
    assert!(
        text.starts_with("# Checkout pool exhausted\n") && text.contains("source=thread-1"),
        "{text}"
    );
    b.until(
        "return [...document.querySelectorAll('#steps .kind')].some(k => k.textContent === 'runbook written' || k.textContent.endsWith(' runbook written'))",
        30,
    );
}

#[test]
fn the_console_works_from_the_keyboard_and_fits_a_phone() {
    let script = "agents:\n  fixer:\n    - tool_calls:\n        - {tool: shell, args: {command: 'echo fixed >> scratch/fix.txt'}}\n    - final: \"## Root Cause\\nThe pool is exhausted.\"\n";
    let dir = fixer_home("[Bash, update_investigation_state]", "Review", script);
    let server = server::start(dir.path(), TOKEN);
    let addr = server.addr.clone();
    let b = Browser::start();
    b.resize(390, 844);
    sign_in(&b, &addr, "Grace");
    let (status, _) = http(
        &addr,
        "POST",
        "/webhooks/alertmanager",
        Some(TOKEN),
        &console_kit::alert("k1", "CheckoutErrors", "checkout 5xx above 5%"),
    );
    assert_eq!(status, 202);
    // Keyboard only: Enter on the thread's link opens it, Enter on Approve approves.
    let link = b.wait("tr[data-thread='thread-1'] a", 30);
    b.keys(&link, "\u{E007}");
    let approve = b.wait(".approval button.approve", 30);
    b.keys(&approve, "\u{E007}");
    b.until(
        "return document.getElementById('status')?.textContent === 'completed'",
        60,
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".sre/workspace/scratch/fix.txt")).unwrap(),
        "fixed\n"
    );
    // On a phone's width nothing runs off the side: the thread, then the list.
    // (A long unbroken line, like the alert's JSON in the task, overflowed before.)
    let fits = "const d = document.documentElement; return d.scrollWidth <= d.clientWidth";
    b.until(fits, 10);
    b.screenshot(&shots().join("phone-thread.png"));
    b.goto(&format!("http://{addr}/#/"));
    b.wait("tr[data-thread='thread-1']", 15);
    b.until(fits, 10);
    b.screenshot(&shots().join("phone-list.png"));
}
