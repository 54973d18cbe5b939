//! Hooks through a real `sre_core::AgentLoop` with ScriptedModels and a recording tool.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

mod common;

use std::sync::Arc;

use common::{Events, RecordingShell, fixture};
use pretty_assertions::assert_eq;
use sre_core::{Agent, AgentLoop, HookDecision, HookEvent, ScriptedModel, Session, StopCause};
use sre_hooks::{
    Activation, AuditHook, AuditKey, BuildContext, FnHook, HookConfig, HookRegistry,
    default_tool_aliases, verify_audit_log,
};

const RESTART: &str =
    "az postgres flexible-server restart --resource-group rg-prod --name pg-orders";

fn model(yaml: &str) -> Arc<ScriptedModel> {
    Arc::new(ScriptedModel::from_yaml(yaml).unwrap())
}

/// The three calls of the safety scenario, then a check of what the model saw.
fn safety_script(expect: &[&str]) -> String {
    let expect: Vec<String> = expect.iter().map(|s| format!("{s:?}")).collect();
    format!(
        r#"
turns:
  - tool_calls:
      - tool: Bash
        args: {{command: "{RESTART}"}}
      - tool: Bash
        args: {{command: "rm -rf /var/lib/postgresql"}}
      - tool: Bash
        args: {{command: "psql -c 'DELETE FROM orders'"}}
  - expect:
      last_message_contains: [{}]
    final: done
"#,
        expect.join(", ")
    )
}

async fn run_with(
    config_yaml: &str,
    script: &str,
    shell: &RecordingShell,
    events: &Events,
) -> sre_core::Outcome {
    let workspace = tempfile::tempdir().unwrap();
    let config = HookConfig::from_yaml(config_yaml, "agent.yaml").unwrap();
    let registry = config.build(&BuildContext::default()).unwrap();
    let agent = AgentLoop::builder(model(script))
        .name("db-agent")
        .tool(shell.tool())
        .hooks(registry.hooks_for("db-agent"))
        .cwd(workspace.path().display().to_string())
        .build()
        .unwrap();
    agent
        .run(
            &Session::new("s1").with_events(events.sink()),
            "Restart the orders database",
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn safety_hooks_at_pre_tool_use_python_and_bash() {
    for script in ["safety_guard.py", "safety_guard.sh"] {
        let config = format!(
            "kind: AgentConfiguration\nmetadata: {{name: db-agent}}\nspec:\n  hooks:\n    - event: PreToolUse\n      matcher: Bash|ExecuteShellCommand\n      command: {}\n      failMode: block\n",
            fixture(script)
        );
        let shell = RecordingShell::default();
        let events = Events::default();
        let outcome = run_with(
            &config,
            &safety_script(&[
                &format!("ran: {RESTART}"),
                "Blocked by a PreToolUse hook",
                "rm -rf",
                "DELETE FROM without WHERE",
            ]),
            &shell,
            &events,
        )
        .await;
        assert_eq!(outcome.cause, StopCause::Completed, "{script}");
        assert_eq!(
            shell.ran(),
            vec![RESTART.to_string()],
            "{script}: only the allowlisted command may run"
        );
        assert!(
            events.hook_failures().is_empty(),
            "{script}: {:?}",
            events.hook_failures()
        );
    }
}

#[tokio::test]
async fn safety_hook_at_post_tool_use_withholds_output_of_calls_that_ran() {
    let config = format!(
        "- event: PostToolUse\n  matcher: Bash\n  command: {}\n",
        fixture("safety_guard.py")
    );
    let shell = RecordingShell::default();
    let events = Events::default();
    let outcome = run_with(
        &config,
        &safety_script(&[
            &format!("ran: {RESTART}"),
            "Output withheld by a PostToolUse hook (the call already ran)",
            "rm -rf",
        ]),
        &shell,
        &events,
    )
    .await;
    assert_eq!(outcome.cause, StopCause::Completed);
    // PostToolUse cannot prevent anything: all three ran; the dangerous outputs were withheld.
    assert_eq!(shell.ran().len(), 3);

    // Same with the bash hook (exit 2 at PostToolUse).
    let config = format!(
        "- event: PostToolUse\n  matcher: Bash\n  command: {}\n",
        fixture("safety_guard.sh")
    );
    let shell = RecordingShell::default();
    let outcome = run_with(
        &config,
        &safety_script(&[
            "Output withheld by a PostToolUse hook",
            "DELETE FROM without WHERE",
        ]),
        &shell,
        &Events::default(),
    )
    .await;
    assert_eq!(outcome.cause, StopCause::Completed);
    assert_eq!(shell.ran().len(), 3);
}

#[tokio::test]
async fn audit_hook_additional_context_reaches_the_model() {
    let workspace = tempfile::tempdir().unwrap();
    let config = HookConfig::from_settings_json(
        &serde_json::json!({"hooks": {"PostToolUse": [{"matcher": "Bash", "hooks": [
            {"type": "command", "command": fixture("audit_context.py"), "timeout": 10}
        ]}]}})
        .to_string(),
        "settings.json",
    )
    .unwrap();
    let registry = config.build(&BuildContext::default()).unwrap();
    let shell = RecordingShell::default();
    let script = format!(
        r#"
turns:
  - tool_calls:
      - tool: Bash
        args: {{command: "{RESTART}"}}
  - expect:
      last_message_contains: ["AUDIT: Bash call call_default_00_0 recorded", "ran: {RESTART}"]
    final: restarted
"#
    );
    let agent = AgentLoop::builder(model(&script))
        .tool(shell.tool())
        .hooks(registry.hooks_for("agent"))
        .cwd(workspace.path().display().to_string())
        .build()
        .unwrap();
    let outcome = agent
        .run(&Session::new("s-audit"), "restart it")
        .await
        .unwrap();
    assert_eq!(outcome.cause, StopCause::Completed);
    let log = std::fs::read_to_string(workspace.path().join("audit.jsonl")).unwrap();
    assert!(log.contains("\"session\": \"s-audit\""), "{log}");
}

#[tokio::test]
async fn exit_2_blocks_the_call_and_the_model_sees_stderr() {
    let shell = RecordingShell::default();
    let config = format!("- event: PreToolUse\n  command: {}\n", fixture("exit2.sh"));
    let script = r#"
turns:
  - tool_calls:
      - tool: Bash
        args: {command: "kubectl rollout restart deploy/api"}
  - expect:
      last_message_contains: ["Blocked by a PreToolUse hook: change freeze in effect until 06:00 UTC"]
    final: blocked
"#;
    let outcome = run_with(&config, script, &shell, &Events::default()).await;
    assert_eq!(outcome.cause, StopCause::Completed);
    assert!(shell.ran().is_empty());
}

#[tokio::test]
async fn fail_modes_through_the_loop() {
    let script = r#"
turns:
  - tool_calls:
      - tool: Bash
        args: {command: "uptime"}
  - final: done
"#;
    // allow: the call runs, the failure is reported as a HookFailed event.
    let shell = RecordingShell::default();
    let events = Events::default();
    let config = format!(
        "- name: crashy\n  event: PreToolUse\n  command: {}\n",
        fixture("crash.sh")
    );
    run_with(&config, script, &shell, &events).await;
    assert_eq!(shell.ran(), vec!["uptime".to_string()]);
    let failures = events.hook_failures();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].0, "crashy");
    assert!(failures[0].1.contains("exit status 1"), "{failures:?}");

    // block: the call does not run and the model is told why.
    let shell = RecordingShell::default();
    let config = format!(
        "- name: crashy\n  event: PreToolUse\n  command: {}\n  failMode: block\n",
        fixture("crash.sh")
    );
    let script = r#"
turns:
  - tool_calls:
      - tool: Bash
        args: {command: "uptime"}
  - expect:
      last_message_contains: ["Blocked by a PreToolUse hook", "exit status 1", "failMode: block"]
    final: done
"#;
    run_with(&config, script, &shell, &Events::default()).await;
    assert!(shell.ran().is_empty());
}

const GATE: &str = r#"
kind: AgentConfiguration
metadata: {name: investigator}
spec:
  hooks:
    - name: quality-gate
      event: Stop
      type: prompt
      prompt: |
        Judge the final answer of an SRE investigation. It must quote numbers and a timeline.
        $ARGUMENTS
      maxRejections: MAXREJ
"#;

fn gate(max_rejections: u32, judge: Arc<ScriptedModel>) -> HookRegistry {
    let config = HookConfig::from_yaml(
        &GATE.replace("MAXREJ", &max_rejections.to_string()),
        "agent.yaml",
    )
    .unwrap();
    config
        .build(&BuildContext {
            model: Some(judge),
            ..Default::default()
        })
        .unwrap()
}

#[tokio::test]
async fn stop_quality_gate_rejects_twice_then_accepts() {
    let judge = Arc::new(
        ScriptedModel::from_yaml(
            r#"
turns:
  - final: 'Verdict: {"ok": false, "reason": "no numbers"}'
  - final: "```json\n{\"ok\": false, \"reason\": \"no timeline\"}\n```"
  - expect: {last_message_contains: ["p99 rose from 80 ms to 2400 ms", "stop_rejection_count\": 2"]}
    final: '{"ok": true}'
"#,
        )
        .unwrap()
        .recording(),
    );
    let registry = gate(3, judge.clone());
    let agent_model = model(
        r#"
turns:
  - final: "The database is slow."
  - expect: {last_message_contains: ["no numbers", "1 of at most 3"]}
    final: "The database is slow: p99 is very high."
  - expect: {last_message_contains: ["no timeline", "2 of at most 3"]}
    final: "At 14:02 UTC p99 rose from 80 ms to 2400 ms when the pool hit 100/100 connections."
"#,
    );
    let agent = AgentLoop::builder(agent_model)
        .name("investigator")
        .hooks(registry.hooks_for("investigator"))
        .build()
        .unwrap();
    let outcome = agent
        .run(&Session::new("s-gate"), "Why is checkout slow?")
        .await
        .unwrap();
    assert_eq!(outcome.cause, StopCause::Completed);
    assert_eq!(
        outcome.stop_rejections,
        vec!["no numbers".to_string(), "no timeline".to_string()]
    );
    assert!(outcome.answer.unwrap().contains("2400 ms"));
    // The judge got one user message with the template and the JSON context.
    let requests = judge.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[0].messages.len(), 1);
    let text = requests[0].messages[0].text();
    assert!(text.starts_with("Judge the final answer"), "{text}");
    assert!(text.contains("\"hook_event_name\": \"Stop\""), "{text}");
    assert!(text.contains("The database is slow."), "{text}");
}

#[tokio::test]
async fn max_rejections_of_the_loop_ends_the_run() {
    // The hook would reject 5 times; the loop allows 2 rejections: the third ends the run.
    let judge = model(
        "turns:\n  - final: '{\"ok\": false, \"reason\": \"shallow\"}'\n  - final: '{\"ok\": false, \"reason\": \"still shallow\"}'\n  - final: '{\"ok\": false, \"reason\": \"shallow again\"}'\n",
    );
    let registry = gate(5, judge);
    let agent_model = model("turns:\n  - final: a\n  - final: b\n  - final: c\n");
    let agent = AgentLoop::builder(agent_model)
        .name("investigator")
        .max_stop_rejections(2)
        .hooks(registry.hooks_for("investigator"))
        .build()
        .unwrap();
    let outcome = agent.run(&Session::new("s-max"), "Why?").await.unwrap();
    assert_eq!(
        outcome.cause,
        StopCause::MaxRejections {
            last_reason: "shallow again".into()
        }
    );
    assert_eq!(outcome.answer.as_deref(), Some("c"));
}

#[tokio::test]
async fn the_hook_stops_rejecting_at_its_own_max_rejections() {
    // maxRejections 2: after two rejections the hook lets the answer through without
    // asking the judge (whose script has only two steps: a third call would fail).
    let judge = model(
        "turns:\n  - final: '{\"ok\": false, \"reason\": \"r1\"}'\n  - final: '{\"ok\": false, \"reason\": \"r2\"}'\n",
    );
    let registry = gate(2, judge);
    let agent_model = model("turns:\n  - final: a\n  - final: b\n  - final: c\n");
    let events = Events::default();
    let agent = AgentLoop::builder(agent_model)
        .name("investigator")
        .hooks(registry.hooks_for("investigator"))
        .build()
        .unwrap();
    let outcome = agent
        .run(&Session::new("s-own").with_events(events.sink()), "Why?")
        .await
        .unwrap();
    assert_eq!(outcome.cause, StopCause::Completed);
    assert_eq!(
        outcome.stop_rejections,
        vec!["r1".to_string(), "r2".to_string()]
    );
    assert_eq!(outcome.answer.as_deref(), Some("c"));
    assert!(
        events.hook_failures().is_empty(),
        "{:?}",
        events.hook_failures()
    );
}

#[tokio::test]
async fn on_demand_hooks_are_switched_per_session() {
    let activation = Activation::new();
    let config = HookConfig::from_yaml(
        &format!(
            "- name: freeze\n  event: PreToolUse\n  activation: on-demand\n  command: {}\n",
            fixture("exit2.sh")
        ),
        "hooks.yaml",
    )
    .unwrap();
    let registry = config
        .build(&BuildContext {
            activation: activation.clone(),
            ..Default::default()
        })
        .unwrap();
    let script = "turns:\n  - tool_calls:\n      - tool: Bash\n        args: {command: uptime}\n  - final: done\n";

    let shell = RecordingShell::default();
    let agent = |shell: &RecordingShell| {
        AgentLoop::builder(model(script))
            .tool(shell.tool())
            .hooks(registry.hooks_for("any"))
            .build()
            .unwrap()
    };
    agent(&shell)
        .run(&Session::new("thread-a"), "go")
        .await
        .unwrap();
    assert_eq!(shell.ran().len(), 1, "off by default");

    activation.enable("thread-b", "freeze");
    assert_eq!(activation.active("thread-b"), vec!["freeze".to_string()]);
    let shell = RecordingShell::default();
    agent(&shell)
        .run(&Session::new("thread-b"), "go")
        .await
        .unwrap();
    assert!(shell.ran().is_empty(), "enabled in thread-b");

    let shell = RecordingShell::default();
    agent(&shell)
        .run(&Session::new("thread-c"), "go")
        .await
        .unwrap();
    assert_eq!(shell.ran().len(), 1, "still off in other threads");
}

#[tokio::test]
async fn global_then_agent_hooks_and_in_process_hooks() {
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut registry = HookRegistry::new();
    for (scope, name) in [
        (None, "global"),
        (Some("db-agent"), "agent"),
        (Some("other"), "other"),
    ] {
        let order = order.clone();
        let hook = FnHook::new(name, [HookEvent::PreToolUse], "Bash", move |input| {
            let order = order.clone();
            async move {
                order.lock().unwrap().push(input.agent_name.clone());
                Ok(HookDecision::allow().with_context(format!(
                    "{name} hook saw {}",
                    input.tool_name().unwrap_or_default()
                )))
            }
        })
        .unwrap()
        .into_arc();
        match scope {
            None => registry.add_global(hook),
            Some(agent) => registry.add_agent(agent, hook),
        }
    }
    let hooks = registry.hooks_for("db-agent");
    assert_eq!(
        hooks
            .iter()
            .map(|h| h.name().to_string())
            .collect::<Vec<_>>(),
        ["global", "agent"]
    );
    let shell = RecordingShell::default();
    let script = r#"
turns:
  - tool_calls:
      - tool: Bash
        args: {command: uptime}
  - expect: {last_message_contains: ["global hook saw Bash", "agent hook saw Bash"]}
    final: done
"#;
    let agent = AgentLoop::builder(model(script))
        .name("db-agent")
        .tool(shell.tool())
        .hooks(hooks)
        .build()
        .unwrap();
    let outcome = agent.run(&Session::new("s"), "go").await.unwrap();
    assert_eq!(outcome.cause, StopCause::Completed);
    assert_eq!(order.lock().unwrap().len(), 2);
}

struct ApproveRestartsOnly;

#[async_trait::async_trait]
impl sre_core::Approver for ApproveRestartsOnly {
    async fn approve(&self, input: &sre_core::HookInput, _reason: &str) -> bool {
        input.to_json()["tool_input"]["command"]
            .as_str()
            .unwrap_or_default()
            .starts_with("kubectl")
    }
}

#[tokio::test]
async fn ask_goes_to_the_approver_and_is_denied_without_one() {
    let config = format!(
        "- event: PreToolUse\n  matcher: Bash\n  command: {}\n",
        fixture("safety_guard.py")
    );
    let registry = HookConfig::from_yaml(&config, "hooks.yaml")
        .unwrap()
        .build(&BuildContext::default())
        .unwrap();
    let script = r#"
turns:
  - tool_calls:
      - tool: Bash
        args: {command: "kubectl rollout restart deploy/api"}
      - tool: Bash
        args: {command: "uptime"}
  - final: done
"#;
    // No approver: "ask" is a denial.
    let shell = RecordingShell::default();
    let denied = script.replace("  - final: done", "  - expect: {last_message_contains: [\"needs approval\", \"not on the allowlist\"]}\n    final: done");
    let agent = AgentLoop::builder(model(&denied))
        .tool(shell.tool())
        .hooks(registry.hooks_for("a"))
        .build()
        .unwrap();
    agent.run(&Session::new("s"), "go").await.unwrap();
    assert!(shell.ran().is_empty());
    // With an approver: it decides per call.
    let shell = RecordingShell::default();
    let agent = AgentLoop::builder(model(script))
        .tool(shell.tool())
        .hooks(registry.hooks_for("a"))
        .approver(Arc::new(ApproveRestartsOnly))
        .build()
        .unwrap();
    agent.run(&Session::new("s"), "go").await.unwrap();
    assert_eq!(
        shell.ran(),
        vec!["kubectl rollout restart deploy/api".to_string()]
    );
}

#[tokio::test]
async fn prompt_and_session_hooks_add_context_block_prompts_and_stop_runs() {
    let config = r#"
- event: SessionStart
  command: "cat >/dev/null; echo 'on-call: alice'"
- event: UserPromptSubmit
  script: |
    input=$(cat)
    if [[ $input == *"drop the database"* ]]; then echo "destructive request refused" >&2; exit 2; fi
    echo "runbook: RB-42"
- event: PreToolUse
  matcher: Bash
  command: "cat >/dev/null; echo '{\"continue\": false, \"stopReason\": \"maintenance window closed\"}'"
"#;
    let registry = HookConfig::from_yaml(config, "hooks.yaml")
        .unwrap()
        .build(&BuildContext::default())
        .unwrap();
    let script = r#"
turns:
  - expect: {last_message_contains: ["Check the API", "on-call: alice", "runbook: RB-42"]}
    tool_calls:
      - tool: Bash
        args: {command: uptime}
"#;
    let shell = RecordingShell::default();
    let agent = AgentLoop::builder(model(script))
        .tool(shell.tool())
        .hooks(registry.hooks_for("a"))
        .build()
        .unwrap();
    let outcome = agent
        .run(&Session::new("s1"), "Check the API")
        .await
        .unwrap();
    assert_eq!(
        outcome.cause,
        StopCause::StoppedByHook {
            reason: "maintenance window closed".into()
        }
    );
    assert!(shell.ran().is_empty());

    let outcome = agent
        .run(&Session::new("s2"), "please drop the database")
        .await
        .unwrap();
    assert_eq!(
        outcome.cause,
        StopCause::PromptBlocked {
            reason: "destructive request refused".into()
        }
    );
}

#[tokio::test]
async fn subagents_get_the_parent_hooks_then_their_own() {
    // Parent (global) hook: blocks sudo everywhere, in the parent and its subagents.
    let config = format!(
        "- event: PreToolUse\n  matcher: Bash\n  command: {}\n",
        fixture("safety_guard.sh")
    );
    let registry = HookConfig::from_yaml(&config, "hooks.yaml")
        .unwrap()
        .build(&BuildContext::default())
        .unwrap();
    // The subagents' own hook: a SubagentStop gate that rejects the first answer.
    let judge = model(
        "turns:\n  - final: '{\"ok\": false, \"reason\": \"name the pool size\"}'\n  - final: '{\"ok\": true}'\n",
    );
    let child_hooks = HookConfig::from_yaml(
        "- name: sub-gate\n  event: SubagentStop\n  type: prompt\n  prompt: Is the finding specific?\n",
        "sub.yaml",
    )
    .unwrap()
    .build(&BuildContext { model: Some(judge), ..Default::default() })
    .unwrap();
    let script = r#"
turns:
  - tool_calls:
      - tool: spawn_subagents
        args: {tasks: [{name: db-pool, prompt: "Check the pool"}]}
  - expect: {last_message_contains: ["Pool size 100, 100 in use"]}
    final: "The pool is exhausted."
agents:
  db-pool:
    - tool_calls:
        - tool: Bash
          args: {command: "sudo cat /etc/pgbouncer.ini"}
    - expect: {last_message_contains: ["privilege escalation (sudo)"]}
      final: "The pool is full."
    - expect: {last_message_contains: ["name the pool size"]}
      final: "Pool size 100, 100 in use."
"#;
    let shell = RecordingShell::default();
    let agent = AgentLoop::builder(model(script))
        .name("investigator")
        .tool(shell.tool())
        .hooks(registry.hooks_for("investigator"))
        .subagents(sre_core::SubagentOptions {
            hooks: child_hooks.hooks_for("investigator/db-pool"),
            ..Default::default()
        })
        .build()
        .unwrap();
    let outcome = agent
        .run(&Session::new("s-sub"), "Why is checkout failing?")
        .await
        .unwrap();
    assert_eq!(outcome.cause, StopCause::Completed);
    assert!(
        shell.ran().is_empty(),
        "the parent's safety hook applies to the subagent"
    );
}

/// The host setup shown in the README and the report, end to end.
#[tokio::test]
async fn host_loads_yaml_and_settings_json_and_attaches_them() -> anyhow::Result<()> {
    let workspace = tempfile::tempdir()?;
    let ws = workspace.path();
    std::fs::write(
        ws.join("db-agent.yaml"),
        format!(
            "kind: AgentConfiguration\nmetadata: {{name: db-agent}}\nspec:\n  hooks:\n    - name: safety\n      event: PreToolUse\n      matcher: Bash\n      command: {}\n      failMode: block\n    - name: quality-gate\n      event: Stop\n      type: prompt\n      prompt: 'Is the answer specific? $ARGUMENTS'\n",
            fixture("safety_guard.py")
        ),
    )?;
    std::fs::write(
        ws.join("settings.json"),
        serde_json::json!({"hooks": {"PostToolUse": [{"matcher": "Bash", "hooks": [
            {"type": "command", "command": fixture("audit_context.py"), "timeout": 10}]}]}})
        .to_string(),
    )?;
    let judge_model: Arc<dyn sre_core::Model> = model("turns:\n  - final: '{\"ok\": true}'\n");
    let agent_model: Arc<dyn sre_core::Model> = model(&format!(
        "turns:\n  - tool_calls:\n      - tool: Bash\n        args: {{command: \"{RESTART}\"}}\n  - expect: {{last_message_contains: [\"AUDIT: Bash call\"]}}\n    final: Restarted.\n"
    ));
    let shell = RecordingShell::default();
    let host = tempfile::tempdir()?; // the host's own directory, outside the workspace
    AuditKey::create_file(host.path().join("audit.key"))?;

    // --- host code ---
    let mut config = HookConfig::load(ws.join("db-agent.yaml"))?; // YAML agent definitions
    config.merge(HookConfig::load(ws.join("settings.json"))?); // Claude Code settings: global hooks
    for warning in &config.warnings {
        eprintln!("warning: {warning}"); // events or hook types sre-harness skips
    }
    // The audit key and anchor live outside the workspace, readable by the host user only.
    let audit_key = AuditKey::from_file(host.path().join("audit.key"))?;
    let audit_anchor = host.path().join("audit.anchor");
    let activation = Activation::new(); // keep a clone to switch on-demand hooks per session
    let registry = config.build(&BuildContext {
        model: Some(judge_model.clone()), // judge of prompt hooks
        cwd: Some(ws.to_path_buf()),      // default cwd of command hooks
        activation: activation.clone(),
        tool_aliases: default_tool_aliases(), // matchers may say `Bash` for our `shell`
        confine: None, // or sre-tools' executor: hooks confined like the agent's commands
    })?;
    let agent = AgentLoop::builder(agent_model)
        .name("db-agent")
        .cwd(ws.display().to_string()) // hooks run in the workspace
        .tool(shell.tool())
        .hooks(registry.hooks_for("db-agent")) // global first, then the agent's own
        .hook(Arc::new(
            AuditHook::new(ws.join("audit.log"), audit_key.clone(), &audit_anchor).with_requests(),
        ))
        .build()?;
    let outcome = agent
        .run(&Session::new("thread-1"), "Restart the orders database")
        .await?;
    // --- end ---

    assert_eq!(outcome.cause, StopCause::Completed);
    assert_eq!(shell.ran(), vec![RESTART.to_string()]);
    assert!(verify_audit_log(ws.join("audit.log"), &audit_key, &audit_anchor)?.is_valid());
    Ok(())
}

#[tokio::test]
async fn updated_input_rewrites_the_call() {
    let config = r#"
- name: dry-run
  event: PreToolUse
  matcher: Bash
  script: |
    #!/usr/bin/env python3
    import json, sys
    d = json.load(sys.stdin)
    cmd = d["tool_input"]["command"]
    print(json.dumps({"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "allow",
                      "updatedInput": {"command": cmd + " --dry-run"}}}))
"#;
    let registry = HookConfig::from_yaml(config, "hooks.yaml")
        .unwrap()
        .build(&BuildContext::default())
        .unwrap();
    let shell = RecordingShell::default();
    let script = "turns:\n  - tool_calls:\n      - tool: Bash\n        args: {command: kubectl apply -f x.yaml}\n  - expect: {last_message_contains: [\"ran: kubectl apply -f x.yaml --dry-run\"]}\n    final: done\n";
    let agent = AgentLoop::builder(model(script))
        .tool(shell.tool())
        .hooks(registry.hooks_for("a"))
        .build()
        .unwrap();
    agent.run(&Session::new("s"), "apply").await.unwrap();
    assert_eq!(
        shell.ran(),
        vec!["kubectl apply -f x.yaml --dry-run".to_string()]
    );
}
