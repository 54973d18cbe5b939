//! Command hooks against real processes: the protocol, and every way a hook can misbehave.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{fixture, input, post, pre};
use pretty_assertions::assert_eq;
use sre_core::{Hook, HookAction, HookContext, HookEvent, HookPayload};
use sre_hooks::{CommandHook, FailMode, HookError, HookFilter, ToolMatcher};

fn hook(name: &str, command: &str) -> CommandHook {
    let filter = HookFilter::new(
        name,
        [
            HookEvent::PreToolUse,
            HookEvent::PostToolUse,
            HookEvent::UserPromptSubmit,
            HookEvent::Stop,
        ],
        ToolMatcher::all(),
    );
    CommandHook::command(filter, command)
}

fn action_kind(a: &HookAction) -> &'static str {
    match a {
        HookAction::Continue => "continue",
        HookAction::Block { .. } => "block",
        HookAction::Ask { .. } => "ask",
        HookAction::Stop { .. } => "stop",
    }
}

#[tokio::test]
async fn safety_guards_python_and_bash_classify_commands() {
    let cases = [
        (
            "az postgres flexible-server restart --resource-group rg-prod --name pg-orders",
            "continue",
        ),
        ("rm -rf /var/lib/postgresql", "block"),
        ("sudo systemctl restart postgresql", "block"),
        ("psql -c 'DROP TABLE orders'", "block"),
        ("psql -c 'drop database orders'", "block"),
        ("psql -c 'TRUNCATE TABLE orders'", "block"),
        ("psql -c 'DELETE FROM orders'", "block"),
        ("psql -c 'DELETE FROM orders WHERE id = 7'", "ask"),
        ("az group delete --name rg-prod --yes", "block"),
        (
            "az postgres flexible-server delete --name pg-orders",
            "block",
        ),
        (
            "az postgres flexible-server restart --name pg-orders; rm -rf /",
            "block",
        ),
        ("uptime", "ask"),
    ];
    for script in ["safety_guard.py", "safety_guard.sh"] {
        let h = hook(script, &fixture(script));
        for (command, expected) in cases {
            let d = h.evaluate(&input(pre(command), None)).await.unwrap();
            assert_eq!(
                (script, command, action_kind(&d.action)),
                (script, command, expected),
                "{d:?}"
            );
            if let HookAction::Block { reason } = &d.action {
                assert!(reason.contains("safety policy"), "{script}: {reason}");
            }
        }
    }
}

#[tokio::test]
async fn exit_2_blocks_with_stderr_as_reason() {
    let h = hook("freeze", &fixture("exit2.sh"));
    for payload in [pre("uptime"), post("uptime", true)] {
        let d = h
            .run(&input(payload, None), &HookContext::detached())
            .await
            .unwrap();
        assert_eq!(
            d.action,
            HookAction::Block {
                reason: "change freeze in effect until 06:00 UTC".into()
            }
        );
    }
}

#[tokio::test]
async fn plain_stdout_is_context_for_user_prompt_submit_and_shell_commands_work() {
    let h = hook("ctx", "echo \"on-call: alice\"; cat > /dev/null");
    let d = h
        .run(
            &input(
                HookPayload::UserPromptSubmit {
                    prompt: "hi".into(),
                },
                None,
            ),
            &HookContext::detached(),
        )
        .await
        .unwrap();
    assert_eq!(d.additional_context.as_deref(), Some("on-call: alice"));
    let d = h
        .run(&input(pre("ls"), None), &HookContext::detached())
        .await
        .unwrap();
    assert_eq!(d.additional_context, None);
}

#[tokio::test]
async fn the_input_json_reaches_the_hook_and_cwd_is_the_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let h = hook(
        "dump",
        "cat > input.json; pwd > cwd.txt; echo \"$CLAUDE_PROJECT_DIR\" > project.txt",
    );
    h.run(
        &input(pre("ls -la"), Some(dir.path())),
        &HookContext::detached(),
    )
    .await
    .unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("input.json")).unwrap())
            .unwrap();
    assert_eq!(v["hook_event_name"], "PreToolUse");
    assert_eq!(v["tool_input"]["command"], "ls -la");
    assert_eq!(v["agent_name"], "db-agent");
    let canonical = dir.path().canonicalize().unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("cwd.txt"))
            .unwrap()
            .trim(),
        canonical.display().to_string()
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("project.txt"))
            .unwrap()
            .trim(),
        dir.path().display().to_string()
    );
}

#[tokio::test]
async fn relative_commands_resolve_against_the_workspace() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("hooks")).unwrap();
    std::fs::copy(fixture("exit2.sh"), dir.path().join("hooks/freeze.sh")).unwrap();
    let h = hook("rel", "hooks/freeze.sh");
    let d = h
        .run(
            &input(pre("ls"), Some(dir.path())),
            &HookContext::detached(),
        )
        .await
        .unwrap();
    assert!(matches!(d.action, HookAction::Block { .. }), "{d:?}");
}

/// Runs `command` with both fail modes, as the agent loop applies them: the hook reports
/// its failure as an error whatever its mode; through a loop, `allow` lets the call run and
/// `block` blocks it with a reason naming the failure. Returns the raw error.
async fn both_fail_modes(command: &str, cwd: Option<&std::path::Path>) -> HookError {
    let h = hook("bad", command);
    let err = h.evaluate(&input(pre("ls"), cwd)).await.unwrap_err();
    let message = err.to_string();

    for mode in [FailMode::Allow, FailMode::Block] {
        let h = h.clone().fail_mode(mode);
        assert_eq!(sre_core::Hook::fail_mode(&h), mode);
        match h
            .run(&input(pre("ls"), cwd), &HookContext::detached())
            .await
        {
            Err(sre_core::Error::Hook { hook, message: m }) => {
                assert_eq!(hook, "bad");
                assert!(message.contains(&m), "{message} vs {m}");
            }
            other => panic!("a failing hook reports an error, got {other:?}"),
        }
        let pre_only = CommandHook::command(
            HookFilter::new("bad", [HookEvent::PreToolUse], ToolMatcher::all()),
            command,
        )
        .fail_mode(mode);
        let (ran, refusals, failures) = common::run_bash_once(Arc::new(pre_only), cwd, "ls").await;
        assert_eq!(failures.len(), 1, "the failure is always reported");
        match mode {
            FailMode::Allow => assert_eq!(ran, ["ls"], "failMode allow lets the call run"),
            _ => {
                assert!(ran.is_empty(), "failMode block blocks the call");
                assert!(
                    refusals.iter().any(|r| r.contains("failMode: block")),
                    "{refusals:?}"
                );
            }
        }
    }
    err
}

#[tokio::test]
async fn missing_file() {
    let err = both_fail_modes("/nonexistent/hooks/guard.py", None).await;
    assert!(
        matches!(&err, HookError::Spawn { message, .. } if message.contains("No such file")),
        "{err}"
    );
    // Through the shell, too (exit 127).
    let err = both_fail_modes("/nonexistent/hooks/guard.py --strict", None).await;
    assert!(
        matches!(&err, HookError::Spawn { message, .. } if message.contains("127")),
        "{err}"
    );
}

#[tokio::test]
async fn not_executable() {
    let err = both_fail_modes(&fixture("not_executable.sh"), None).await;
    assert!(
        matches!(&err, HookError::Spawn { message, .. } if message.contains("Permission denied")),
        "{err}"
    );
}

#[tokio::test]
async fn crash_exit_1() {
    let err = both_fail_modes(&fixture("crash.sh"), None).await;
    match &err {
        HookError::Exit { status, stderr, .. } => {
            assert_eq!(status, "exit status 1");
            assert!(stderr.contains("boom"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn killed_by_signal() {
    let err = both_fail_modes(&fixture("killed.sh"), None).await;
    assert!(
        matches!(&err, HookError::Exit { status, .. } if status == "killed by signal 9"),
        "{err}"
    );
}

#[tokio::test]
async fn invalid_json() {
    let err = both_fail_modes(&fixture("invalid_json.sh"), None).await;
    assert!(
        matches!(&err, HookError::Output { message, .. } if message.contains("not valid JSON")),
        "{err}"
    );
}

#[tokio::test]
async fn wrong_types() {
    let err = both_fail_modes(&fixture("wrong_types.sh"), None).await;
    assert!(
        matches!(&err, HookError::Output { message, .. } if message.contains("`decision` must be a string")),
        "{err}"
    );
}

#[tokio::test]
async fn ten_megabytes_of_stdout_hit_the_cap() {
    let started = Instant::now();
    let err = both_fail_modes(&fixture("big_output.sh"), None).await;
    assert!(
        matches!(&err, HookError::Output { message, .. } if message.contains("cap")),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn ten_megabytes_of_stderr_are_drained() {
    let d = hook("noisy", &fixture("big_stderr.sh"))
        .evaluate(&input(pre("ls"), None))
        .await
        .unwrap();
    assert_eq!(d.additional_context.as_deref(), Some("survived"));
    // Its stderr is kept with the decision, cut at the cap.
    let output = d.output.unwrap();
    assert!(output.starts_with("eeee"), "{}", &output[..20]);
    assert!(
        output.len() <= sre_hooks::command::OUTPUT_CAP + 100,
        "{}",
        output.len()
    );
    assert!(
        output.ends_with("[stderr truncated to 8192 bytes]"),
        "{}",
        &output[output.len() - 60..]
    );
}

fn pid_in(dir: &std::path::Path, file: &str) -> u32 {
    std::fs::read_to_string(dir.join(file))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Gone, or a zombie waiting to be reaped by init.
fn dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

#[tokio::test]
async fn timeout_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let timeout = Duration::from_secs(2);
    let h = hook("sleeper", &fixture("sleeper.sh")).timeout(timeout);
    let started = Instant::now();
    let err = h
        .evaluate(&input(pre("ls"), Some(dir.path())))
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        matches!(
            err,
            HookError::Timeout {
                timeout_ms: 2000,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        elapsed >= timeout && elapsed < timeout + Duration::from_secs(3),
        "returned after {elapsed:?}"
    );

    let (leader, child) = (
        pid_in(dir.path(), "hook.pid"),
        pid_in(dir.path(), "child.pid"),
    );
    // SIGKILL was sent to the group before returning; wait (bounded) for the kernel to
    // finish tearing the processes down.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(dead(leader) && dead(child)) {
        assert!(
            Instant::now() < deadline,
            "processes {leader} and {child} survived the timeout"
        );
        tokio::task::yield_now().await;
    }

    // failMode block turns the timeout into a block, in the loop.
    let pre_only = CommandHook::command(
        HookFilter::new("sleepy", [HookEvent::PreToolUse], ToolMatcher::all()),
        fixture("sleeper.sh"),
    )
    .fail_mode(FailMode::Block)
    .timeout(Duration::from_secs(1));
    let (ran, refusals, _) =
        common::run_bash_once(Arc::new(pre_only), Some(dir.path()), "ls").await;
    assert!(ran.is_empty());
    assert!(
        refusals.iter().any(|r| r.contains("timed out")),
        "{refusals:?}"
    );
}

#[tokio::test]
async fn inline_scripts_run_with_bash_or_their_shebang() {
    let filter = HookFilter::new(
        "inline",
        [HookEvent::PreToolUse],
        ToolMatcher::new(Some("Bash")).unwrap(),
    );
    let h = CommandHook::script(
        filter.clone(),
        "cat >/dev/null\necho 'inline says no' >&2\nexit 2\n",
    )
    .unwrap();
    let d = h
        .run(&input(pre("ls"), None), &HookContext::detached())
        .await
        .unwrap();
    assert_eq!(
        d.action,
        HookAction::Block {
            reason: "inline says no".into()
        }
    );

    let py = "#!/usr/bin/env python3\nimport json, sys\nd = json.load(sys.stdin)\nprint(json.dumps({'hookSpecificOutput': {'additionalContext': 'py saw ' + d['tool_input']['command']}}))\n";
    let h = CommandHook::script(filter, py).unwrap();
    let d = h
        .run(&input(pre("df -h"), None), &HookContext::detached())
        .await
        .unwrap();
    assert_eq!(d.additional_context.as_deref(), Some("py saw df -h"));
}

#[tokio::test]
async fn matcher_is_anchored_and_only_for_tool_events() {
    let filter = HookFilter::new(
        "m",
        [HookEvent::PreToolUse, HookEvent::Stop],
        ToolMatcher::new(Some("Bash|ExecutePythonCode")).unwrap(),
    );
    let h = CommandHook::command(filter, fixture("exit2.sh"));
    assert!(h.handles(&input(pre("ls"), None)));
    let mut other = input(pre("ls"), None);
    if let HookPayload::PreToolUse { tool_name, .. } = &mut other.payload {
        *tool_name = "BashExtra".into();
    }
    assert!(!h.handles(&other), "the matcher must match the whole name");
    assert!(
        !h.handles(&input(post("ls", true), None)),
        "PostToolUse is not one of its events"
    );
    let stop = HookPayload::Stop {
        final_output: "x".into(),
        stop_hook_active: false,
        rejection_count: 0,
        subagent: false,
    };
    assert!(h.handles(&input(stop, None)));
}
