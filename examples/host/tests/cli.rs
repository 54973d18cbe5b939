//! The `sre` command end to end, on the reference team (examples/team): real processes,
//! real tools, local TLS servers with certificates made now, local MCP servers standing in
//! for the vendors', real hook scripts. The model answers from the scripts in
//! examples/scripts (offline).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::*;
use serde_json::Value;

#[test]
fn validate_prints_the_reference_team_and_warns_about_the_post_tool_use_block() {
    let (code, stdout, stderr) = output(sre().arg("validate").arg(team_home()));
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    for line in [
        "agent tls-monitor (Autonomous",
        "  tools: check_tls_certificate",
        "agent incident-orchestrator (Autonomous",
        "  handoffs: pagerduty-expert, DatadogObservabilityExpert",
        "agent DatadogObservabilityExpert (Autonomous, \"Datadog Observability Expert\")",
        "  connectors: datadog-mcp",
        "agent postgres-analyst (Autonomous, \"PostgreSQL Analyst\")",
        "agent prompt-cache-analyst (Autonomous, \"Prompt Cache Analyst\")",
        "agent llm-error-triage (Autonomous, \"LLM Error Triage\")",
        "ok: 7 agents,",
    ] {
        assert!(stdout.contains(line), "missing `{line}` in:\n{stdout}");
    }
    // The hooks of the walkthrough, the on-demand audit hook included.
    let pg = stdout
        .split("agent ")
        .find(|p| p.starts_with("postgres-analyst"))
        .expect("postgres-analyst paragraph");
    for hook in [
        "quality-gate (Stop)",
        "command-allowlist (PostToolUse)",
        "audit (PostToolUse)",
    ] {
        assert!(pg.contains(hook), "missing hook {hook} in:\n{pg}");
    }
    // A PostToolUse hook that can block, on command tools: the call already ran.
    assert!(
        stderr.contains("command-allowlist") && stderr.contains("PreToolUse"),
        "{stderr}"
    );
}

#[test]
fn validate_lists_every_error_with_its_place_and_exits_non_zero() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join("agents")).unwrap();
    std::fs::write(
        home.path().join("agents/a.yaml"),
        "api_version: azuresre.ai/v2\nkind: ExtendedAgent\nspec:\n  name: a\n  sytem_prompt: hi\n  handoffs: [b]\n",
    )
    .unwrap();
    std::fs::write(
        home.path().join("agents/b.yaml"),
        "api_version: azuresre.ai/v2\nkind: ExtendedAgent\nspec:\n  name: bb\n  system_prompt: hi\n  tools: [Bsh]\n",
    )
    .unwrap();
    let (code, stdout, stderr) = output(sre().arg("validate").arg(home.path()));
    assert_eq!(code, 1, "stdout:\n{stdout}\nstderr:\n{stderr}");
    // All three, each with file:line:col, and the near misses named.
    assert!(stderr.contains("agents/a.yaml:5:3"), "{stderr}");
    assert!(stderr.contains("system_prompt"), "{stderr}");
    assert!(stderr.contains("agents/a.yaml:6:"), "{stderr}");
    assert!(stderr.contains("unknown agent `b`"), "{stderr}");
    assert!(stderr.contains("agents/b.yaml:6:"), "{stderr}");
    assert!(stderr.contains("Bash"), "{stderr}");
}

/// Fill `${NAME}` placeholders of a script.
fn fill(script: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = script.to_string();
    for (k, v) in values {
        out = out.replace(&format!("${{{k}}}"), v);
    }
    for k in ["${PORT_", "${DATE_", "${DAYS_"] {
        assert!(!out.contains(k), "unfilled placeholder in:\n{out}");
    }
    out
}

#[test]
fn tls_monitor_classifies_certificates_of_local_servers() {
    // Certificates made now; half-day offsets keep `days_remaining` (floored) stable for
    // the seconds the run takes.
    let lifetimes = [
        ("HEALTHY", 200.5, 200),
        ("WARNING", 20.5, 20),
        ("EXPIRED", -2.5, -3),
        ("CRITICAL", 5.5, 5),
    ];
    let mut cmd = Command::new(peers_python());
    cmd.arg(fixture("tls_servers.py"));
    for (name, days, _) in lifetimes {
        cmd.arg(format!("{name}={days}"));
    }
    let servers = start_reading_line(cmd);
    let listening: Value = serde_json::from_str(&servers.first_line).unwrap();
    let mut values = BTreeMap::new();
    for (name, _, floor) in lifetimes {
        values.insert(format!("PORT_{name}"), listening[name]["port"].to_string());
        values.insert(
            format!("DATE_{name}"),
            listening[name]["not_after"].as_str().unwrap().to_string(),
        );
        values.insert(format!("DAYS_{name}"), floor.to_string());
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("script.yaml");
    let template =
        std::fs::read_to_string(repo().join("examples/scripts/team-tls-monitor.yaml")).unwrap();
    std::fs::write(&script, fill(&template, &values)).unwrap();

    let (code, stdout, stderr) = output(
        sre()
            .args(["run", "--agent", "tls-monitor", "--json", "--script"])
            .arg(&script)
            .arg("--workspace")
            .arg(dir.path().join("ws"))
            .arg(team_home())
            .arg("Audit the certificates of our four endpoints on 127.0.0.1"),
    );
    assert_eq!(code, 0, "stderr:\n{stderr}");
    assert!(
        stderr.contains("model: scripted"),
        "it says it is offline:\n{stderr}"
    );
    let events = events(&stdout);
    // The script's `expect`s checked every figure against what the tool returned; the
    // answer is the table sorted by urgency.
    let answer = answer(&events, "tls-monitor");
    let rows: Vec<&str> = answer
        .lines()
        .filter(|l| l.starts_with("| 127.0.0.1"))
        .collect();
    assert_eq!(rows.len(), 4, "{answer}");
    for (row, risk) in rows
        .iter()
        .zip(["EXPIRED", "CRITICAL", "WARNING", "HEALTHY"])
    {
        assert!(row.ends_with(&format!("| {risk} |")), "{row}");
    }
    // Four real tool calls, none an error; the skill was activated first.
    let finished = of_type(&events, "tool_finished");
    let checks: Vec<_> = finished
        .iter()
        .filter(|e| e["kind"]["name"] == "check_tls_certificate")
        .collect();
    assert_eq!(checks.len(), 4);
    assert!(
        checks.iter().all(|e| e["kind"]["is_error"] == false),
        "{checks:?}"
    );
    assert_eq!(finished[0]["kind"]["name"], "activate_skill");
}

#[test]
fn incident_orchestrator_hands_off_to_the_datadog_expert_through_its_connector() {
    let dd_port = free_port();
    let pd_port = free_port(); // nothing listens: the PagerDuty connector fails
    let mut dd = Command::new(peers_python());
    dd.arg(fixture("vendor_mcp.py"))
        .args(["--flavor", "datadog", "--port", &dd_port.to_string()])
        .env("DD_API_KEY", "dd-api-test")
        .env("DD_APPLICATION_KEY", "dd-app-test");
    let _dd = start_listening(dd, dd_port);
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let (code, stdout, stderr) = output(
        sre()
            .args([
                "run",
                "--agent",
                "incident-orchestrator",
                "--json",
                "--session",
                "inc-1",
            ])
            .arg("--script")
            .arg(repo().join("examples/scripts/team-incident.yaml"))
            .arg("--workspace")
            .arg(&ws)
            .arg(team_home())
            .arg("checkout-api returns HTTP 503 on POST /payments since 14:02Z. Investigate.")
            .env("DATADOG_MCP_URL", format!("http://127.0.0.1:{dd_port}/mcp"))
            .env("DD_API_KEY", "dd-api-test")
            .env("DD_APPLICATION_KEY", "dd-app-test")
            .env(
                "PAGERDUTY_MCP_URL",
                format!("http://127.0.0.1:{pd_port}/mcp"),
            )
            .env("PAGERDUTY_API_TOKEN", "pd-test"),
    );
    assert_eq!(code, 0, "stderr:\n{stderr}");
    // The connector that could not connect is named, and the run went on.
    assert!(
        stderr.contains("warning:") && stderr.contains("pagerduty-mcp"),
        "{stderr}"
    );
    let events = events(&stdout);
    // The orchestrator's run ended with the handoff; the expert continued in its own session.
    let handoff = of_type(&events, "finished")
        .into_iter()
        .find(|e| e["agent"] == "incident-orchestrator")
        .expect("orchestrator finished");
    assert_eq!(
        handoff["kind"]["cause"]["to"], "DatadogObservabilityExpert",
        "{handoff}"
    );
    assert_eq!(handoff["session_id"], "inc-1");
    let answer = answer(&events, "DatadogObservabilityExpert");
    assert!(
        answer.contains("41.2%") && answer.contains("158"),
        "{answer}"
    );
    let mcp_calls: Vec<_> = of_type(&events, "tool_finished")
        .into_iter()
        .filter(|e| {
            e["kind"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("mcp__datadog-mcp__"))
        })
        .collect();
    assert_eq!(mcp_calls.len(), 3);
    assert!(
        mcp_calls
            .iter()
            .all(|e| e["session_id"] == "inc-1--handoff1-DatadogObservabilityExpert")
    );
    assert!(
        mcp_calls.iter().all(|e| e["kind"]["is_error"] == false),
        "{mcp_calls:?}"
    );
    // Both transcripts are on disk under the thread's names.
    let sessions = ws.join(".sre/sessions");
    assert!(sessions.join("inc-1.jsonl").exists());
    assert!(
        sessions
            .join("inc-1--handoff1-DatadogObservabilityExpert.jsonl")
            .exists()
    );
    assert!(
        stderr.contains("2 hop(s): incident-orchestrator -> DatadogObservabilityExpert"),
        "{stderr}"
    );
}

#[test]
fn postgres_analyst_runs_under_its_three_hooks() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = output(
        sre()
            .args([
                "run",
                "--agent",
                "postgres-analyst",
                "--json",
                "--approve",
                "none",
            ])
            .args(["--enable-hook", "audit", "--script"])
            .arg(repo().join("examples/scripts/team-postgres.yaml"))
            .arg("--workspace")
            .arg(dir.path().join("ws"))
            .arg(team_home())
            .arg("pg-orders at 127.0.0.1:1 refuses connections. Investigate."),
    );
    assert_eq!(code, 0, "stderr:\n{stderr}");
    let events = events(&stdout);
    // The allowlist refused the DROP before it ran.
    let refused = of_type(&events, "tool_refused");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0]["kind"]["reason"]
            .as_str()
            .unwrap()
            .contains("not in the allowlist")
    );
    assert_eq!(refused[0]["kind"]["ran"], false);
    // The quality gate rejected the shallow answer once; the final one has the sections.
    assert_eq!(of_type(&events, "stop_rejected").len(), 1);
    let answer = answer(&events, "postgres-analyst");
    assert!(answer.contains("## Root Cause") && answer.contains("## Recommended Actions"));
    // The on-demand audit hook saw both calls that ran, the failed one too, and its stderr
    // line is in the events.
    let audit: Vec<String> = of_type(&events, "hook_decision")
        .into_iter()
        .filter(|e| e["kind"]["hook"] == "audit")
        .filter_map(|e| e["kind"]["output"].as_str().map(str::to_string))
        .collect();
    assert!(
        audit
            .iter()
            .any(|l| l.contains("audit: agent=postgres-analyst tool=shell succeeded=false")),
        "{audit:?}"
    );
    assert!(
        audit
            .iter()
            .any(|l| l.contains("audit: agent=postgres-analyst tool=shell succeeded=true")),
        "{audit:?}"
    );
    // The Python PostToolUse allowlist judged both calls that ran.
    let mut allowlist: Vec<&str> = of_type(&events, "hook_decision")
        .into_iter()
        .filter(|e| e["kind"]["hook"] == "command-allowlist")
        .filter_map(|e| e["kind"]["output"].as_str())
        .collect();
    allowlist.sort_unstable(); // the two calls run in parallel
    assert_eq!(
        allowlist,
        ["allowed: pg_isready", "allowed: psql --version"],
        "{allowlist:?}"
    );
}

#[test]
fn an_unknown_on_demand_hook_is_an_error_naming_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = output(
        sre()
            .args([
                "run",
                "--agent",
                "postgres-analyst",
                "--enable-hook",
                "audti",
                "--script",
            ])
            .arg(repo().join("examples/scripts/team-postgres.yaml"))
            .arg("--workspace")
            .arg(dir.path().join("ws"))
            .arg(team_home())
            .arg("anything"),
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("`audti`") && stderr.contains("audit"),
        "{stderr}"
    );
}

#[test]
fn pagerduty_expert_reads_the_incident_through_its_bearer_connector() {
    let port = free_port();
    let mut pd = Command::new(peers_python());
    pd.arg(fixture("vendor_mcp.py"))
        .args(["--flavor", "pagerduty", "--port", &port.to_string()])
        .env("PAGERDUTY_API_TOKEN", "pd-test-token");
    let _pd = start_listening(pd, port);
    let dir = tempfile::tempdir().unwrap();
    let run = |token: &str| {
        output(
            sre()
                .args(["run", "--agent", "pagerduty-expert", "--json", "--script"])
                .arg(repo().join("examples/scripts/team-pagerduty.yaml"))
                .arg("--workspace")
                .arg(dir.path().join("ws"))
                .arg(team_home())
                .arg("What happened with incident Q1CHECKOUT?")
                .env("PAGERDUTY_MCP_URL", format!("http://127.0.0.1:{port}/mcp"))
                .env("PAGERDUTY_API_TOKEN", token),
        )
    };
    let (code, stdout, stderr) = run("pd-test-token");
    assert_eq!(code, 0, "stderr:\n{stderr}");
    let read = events(&stdout);
    let calls: Vec<_> = of_type(&read, "tool_finished")
        .into_iter()
        .filter(|e| {
            e["kind"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("mcp__pagerduty-mcp__"))
        })
        .collect();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(
        calls.iter().all(|e| e["kind"]["is_error"] == false),
        "{calls:?}"
    );
    assert!(answer(&read, "pagerduty-expert").contains("#4711"));
    // The stand-in refuses another token: the connector fails, and the script, which
    // expects the incident, stops the run.
    let (code, stdout, stderr) = run("wrong-token");
    assert_ne!(code, 0);
    assert!(stderr.contains("pagerduty-mcp"), "{stderr}");
    // The agent's events say what it had to do without, for whoever follows in JSON.
    let refused = events(&stdout);
    let warnings = of_type(&refused, "warning");
    assert!(
        warnings.iter().any(|w| w["agent"] == "pagerduty-expert"
            && w["kind"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("pagerduty-mcp"))),
        "{warnings:?}"
    );
}

#[test]
fn without_the_audit_hook_switched_on_it_stays_silent() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = output(
        sre()
            .args([
                "run",
                "--agent",
                "postgres-analyst",
                "--json",
                "--approve",
                "none",
                "--script",
            ])
            .arg(repo().join("examples/scripts/team-postgres.yaml"))
            .arg("--workspace")
            .arg(dir.path().join("ws"))
            .arg(team_home())
            .arg("pg-orders at 127.0.0.1:1 refuses connections. Investigate."),
    );
    assert_eq!(code, 0, "stderr:\n{stderr}");
    let events = events(&stdout);
    assert!(
        of_type(&events, "hook_decision")
            .iter()
            .all(|e| e["kind"]["hook"] != "audit"),
        "the on-demand hook ran while off"
    );
}

/// A one-agent home whose script runs a long command first.
fn slow_home(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let home = dir.join("home");
    std::fs::create_dir_all(home.join("agents")).unwrap();
    std::fs::write(
        home.join("agents/waiter.yaml"),
        "api_version: azuresre.ai/v2\nkind: ExtendedAgent\nspec:\n  name: waiter\n  system_prompt: Wait, then answer.\n  tools: [Bash]\n",
    )
    .unwrap();
    let script = dir.join("script.yaml");
    std::fs::write(
        &script,
        "turns:\n  - tool_calls:\n      - {tool: shell, args: {command: 'sleep 30'}}\n  - final: done waiting\n",
    )
    .unwrap();
    (home, script)
}

#[test]
fn ctrl_c_cancels_and_resume_finishes_the_thread() {
    let dir = tempfile::tempdir().unwrap();
    let (home, script) = slow_home(dir.path());
    let ws = dir.path().join("ws");
    let mut child = sre()
        .args(["run", "--agent", "waiter", "--session", "t-1", "--script"])
        .arg(&script)
        .arg("--workspace")
        .arg(&ws)
        .arg(&home)
        .arg("wait")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "ended early:\n{seen}"
        );
        seen.push_str(&line);
        if line.contains("→ shell") {
            break;
        }
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(130), "{seen}{rest}");
    assert!(
        started.elapsed().as_secs() < 20,
        "the sleep was not cut short"
    );
    // The hint is a whole command: run it as printed (the paths hold no spaces).
    let hint = rest
        .lines()
        .find_map(|l| l.split_once("sre run ").map(|(_, words)| words))
        .unwrap_or_else(|| panic!("no resume command in:\n{rest}"));
    assert!(hint.contains("--resume --session t-1"), "{hint}");
    let resumed = std::time::Instant::now();
    let (code, stdout, stderr) = output(sre().arg("run").args(hint.split_whitespace()));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), "done waiting", "{stderr}");
    // The interrupted `sleep 30` is not run again.
    assert!(resumed.elapsed().as_secs() < 20, "the call ran again");
}

#[test]
fn a_run_without_a_model_says_how_to_get_one() {
    let dir = tempfile::tempdir().unwrap();
    let (home, _) = slow_home(dir.path());
    let (code, _, stderr) = output(
        sre()
            .args(["run", "--agent", "waiter", "--workspace"])
            .arg(dir.path().join("ws"))
            .arg(&home)
            .arg("wait"),
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("--script"), "{stderr}");
}

#[test]
fn sre_serve_listens_on_loopback_unless_told_otherwise() {
    use clap::Parser;
    let cli = sre_host::cli::Cli::try_parse_from(["sre", "serve", "home"]).unwrap();
    let sre_host::cli::Command::Serve { listen, .. } = cli.command else {
        panic!("not serve: {:?}", cli.command);
    };
    assert!(listen.ip().is_loopback(), "{listen}");
    assert_eq!(listen.port(), 8080);
}

#[test]
fn a_relative_workspace_is_where_hooks_and_commands_run() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join("agents")).unwrap();
    std::fs::write(
        home.join("agents/lead.yaml"),
        "kind: ExtendedAgent\nspec:\n  name: lead\n  system_prompt: Look.\n  tools: [Bash]\n",
    )
    .unwrap();
    // The hook refuses writes and lets reads through: both need its working directory.
    std::fs::write(
        home.join("hooks.yaml"),
        "kind: HookConfiguration\nspec:\n  hooks:\n    - name: no-writes\n      event: PreToolUse\n      type: command\n      matcher: shell\n      command: 'if grep -q \">\"; then echo no writes in $(basename \"$PWD\") >&2; exit 2; fi'\n",
    )
    .unwrap();
    std::fs::write(
        home.join("script.yaml"),
        "turns:\n  - tool_calls:\n      - {tool: shell, args: {command: 'echo hi > scratch/x.txt'}}\n  - tool_calls:\n      - {tool: shell, args: {command: 'pwd'}}\n  - final: done\n",
    )
    .unwrap();
    let (code, stdout, stderr) = output(
        sre()
            .current_dir(dir.path())
            .args(["run", "--agent", "lead", "--json", "--approve", "none"])
            .args(["--script", "home/script.yaml", "--workspace", "ws", "home"])
            .arg("look"),
    );
    assert_eq!(code, 0, "stderr:\n{stderr}");
    let events = events(&stdout);
    assert!(
        of_type(&events, "hook_failed").is_empty(),
        "{:?}",
        of_type(&events, "hook_failed")
    );
    let refused = of_type(&events, "tool_refused");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0]["kind"]["reason"]
            .as_str()
            .unwrap()
            .contains("no writes in ws"),
        "{refused:?}"
    );
    let outputs: Vec<String> = of_type(&events, "tool_finished")
        .iter()
        .map(|e| e["kind"]["output"].as_str().unwrap_or_default().to_string())
        .collect();
    let ws = std::fs::canonicalize(dir.path().join("ws")).unwrap();
    assert_eq!(outputs.len(), 1, "{outputs:?}");
    assert!(
        outputs[0].contains(&format!("\n{}\n", ws.display())),
        "{outputs:?}"
    );
}
