//! Claude Code compatibility: real settings files with events we do not implement, plugin
//! folders (`CLAUDE_PLUGIN_ROOT`), `CLAUDE_PROJECT_DIR`, `transcript_path`, and matchers on
//! `SessionStart`/`PreCompact`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use common::{Events, RecordingShell, fixture, input, pre};
use pretty_assertions::assert_eq;
use sre_core::{Agent, AgentLoop, EventKind, HookPayload, ScriptedModel, Session, StopCause};
use sre_hooks::{BuildContext, HookConfig};

const RESTART: &str =
    "az postgres flexible-server restart --resource-group rg-prod --name pg-orders";

/// Run an agent whose model calls `Bash` with each command, then answers; returns what ran
/// and the refusal reasons.
async fn run_calls(
    hooks: Vec<Arc<dyn sre_core::Hook>>,
    cwd: Option<&Path>,
    store: Option<Arc<dyn sre_core::SessionStore>>,
    commands: &[&str],
) -> (Vec<String>, Vec<String>) {
    let calls: Vec<String> = commands
        .iter()
        .map(|c| format!("      - tool: Bash\n        args: {{command: {c:?}}}\n"))
        .collect();
    let script = format!(
        "turns:\n  - tool_calls:\n{}  - final: done\n",
        calls.concat()
    );
    let shell = RecordingShell::default();
    let mut builder = AgentLoop::builder(Arc::new(ScriptedModel::from_yaml(&script).unwrap()))
        .name("db-agent")
        .tool(shell.tool())
        .hooks(hooks);
    if let Some(dir) = cwd {
        builder = builder.cwd(dir.display().to_string());
    }
    if let Some(store) = store {
        builder = builder.session_store(store);
    }
    let agent = builder.build().unwrap();
    let events = Events::default();
    let outcome = agent
        .run(&Session::new("compat").with_events(events.sink()), "go")
        .await
        .unwrap();
    assert_eq!(outcome.cause, StopCause::Completed);
    // (the loop prefixes hook reasons with who blocked)
    let refusals = events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ToolRefused { reason, .. } => Some(
                reason
                    .strip_prefix("Blocked by a PreToolUse hook: ")
                    .unwrap_or(reason)
                    .to_string(),
            ),
            _ => None,
        })
        .collect();
    (shell.ran(), refusals)
}

/// A settings.json as people have them: permissions, env, a desktop notification, a
/// SessionEnd hook, a SubagentStart hook, an HTTP hook, and the PreToolUse safety hook.
#[tokio::test]
async fn settings_json_with_unimplemented_events_keeps_its_safety_hooks() {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("settings.json");
    let text = serde_json::json!({
        "$schema": "https://json.schemastore.org/claude-code-settings.json",
        "permissions": {"allow": ["Bash(kubectl get:*)"], "deny": ["Read(./.env)"]},
        "env": {"KUBECONFIG": "/etc/kube/config"},
        "hooks": {
            "Notification": [{"matcher": "", "hooks": [
                {"type": "command", "command": "notify-send 'Claude Code' 'Awaiting your input'"}]}],
            "PreToolUse": [{"matcher": "Bash", "hooks": [
                {"type": "command", "command": fixture("safety_guard.sh"), "timeout": 10}]}],
            "SessionEnd": [{"hooks": [{"type": "command", "command": "echo bye"}]}],
            "SubagentStart": [{"matcher": "db-pool", "hooks": [
                {"type": "command", "command": "echo start"}, {"type": "command", "command": "echo again"}]}],
            "Stop": [{"hooks": [{"type": "http", "url": "http://127.0.0.1:9/stop"}]}]
        }
    });
    std::fs::write(&settings, serde_json::to_string_pretty(&text).unwrap()).unwrap();
    let config = HookConfig::load(&settings).unwrap();

    let origin = settings.display().to_string();
    // (sorted: the order of JSON object keys depends on serde_json's features)
    let mut warnings: Vec<(String, String)> = config
        .warnings
        .iter()
        .map(|w| (w.location.clone(), w.message.clone()))
        .collect();
    warnings.sort();
    let locations: Vec<&str> = warnings.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(
        locations,
        [
            format!("{origin}: hooks.Notification"),
            format!("{origin}: hooks.SessionEnd"),
            format!("{origin}: hooks.Stop[0].hooks[0].type"),
            format!("{origin}: hooks.SubagentStart"),
        ]
    );
    assert!(
        warnings[0].1.starts_with(
            "event \"Notification\" is not implemented by sre-harness: its 1 hook(s) are ignored"
        ),
        "{warnings:?}"
    );
    assert!(warnings[3].1.contains("its 2 hook(s)"), "{warnings:?}");
    assert!(warnings[2].1.contains("\"http\""), "{warnings:?}");
    assert_eq!(config.global.len(), 1, "the PreToolUse safety hook loads");
    let notification = config
        .warnings
        .iter()
        .find(|w| w.location.ends_with("hooks.Notification"))
        .unwrap();
    assert_eq!(
        notification.to_string(),
        format!("{}: {}", warnings[0].0, warnings[0].1)
    );

    let registry = config.build(&BuildContext::default()).unwrap();
    let (ran, refusals) = run_calls(
        registry.hooks_for("db-agent"),
        Some(dir.path()),
        None,
        &["rm -rf /var/lib/postgresql", RESTART],
    )
    .await;
    assert_eq!(
        ran,
        vec![RESTART.to_string()],
        "the safety hook blocks rm -rf"
    );
    assert!(
        refusals
            .iter()
            .any(|r| r.contains("recursive force delete")),
        "{refusals:?}"
    );

    // YAML is our own strict format: an unknown event there is an error, not a warning.
    let err = HookConfig::from_yaml("- {event: Notification, command: x}\n", "a.yaml")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("a.yaml: [0].event: unknown event"), "{err}");
}

fn write_executable(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A plugin folder (with a space in its path) whose hook is `${CLAUDE_PLUGIN_ROOT}/...`,
/// the way Claude Code plugins ship their hooks.
#[tokio::test]
async fn plugin_hooks_get_claude_plugin_root_and_project_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let plugin = tmp.path().join("my plugins/sre-guard");
    let workspace = tmp.path().join("ws");
    std::fs::create_dir_all(&workspace).unwrap();
    write_executable(
        &plugin.join("scripts/check.sh"),
        r#"#!/bin/bash
input=$(cat)
printf '%s|%s|%s\n' "$1" "$CLAUDE_PLUGIN_ROOT" "$CLAUDE_PROJECT_DIR" >> "$CLAUDE_PROJECT_DIR/env-seen.txt"
if [[ $input == *'"command":"rm '* ]]; then echo "plugin guard: no rm" >&2; exit 2; fi
exit 0
"#,
    );
    std::fs::create_dir_all(plugin.join(".claude-plugin")).unwrap();
    std::fs::write(
        plugin.join(".claude-plugin/plugin.json"),
        r#"{"name": "sre-guard", "version": "1.0.0"}"#,
    )
    .unwrap();
    std::fs::create_dir_all(plugin.join("hooks")).unwrap();
    std::fs::write(
        plugin.join("hooks/hooks.json"),
        r#"{"description": "SRE guard",
            "hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [
              {"type": "command", "command": "${CLAUDE_PLUGIN_ROOT}/scripts/check.sh", "timeout": 10},
              {"type": "command", "command": "bash \"${CLAUDE_PLUGIN_ROOT}/scripts/check.sh\" via-shell", "timeout": 10}
            ]}]}}"#,
    )
    .unwrap();

    let config = HookConfig::from_plugin_dir(&plugin).unwrap();
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    let root = std::fs::canonicalize(&plugin).unwrap();
    assert!(
        config
            .global
            .iter()
            .all(|s| s.plugin_root.as_deref() == Some(root.as_path()))
    );
    let registry = config
        .build(&BuildContext {
            cwd: Some(workspace.clone()),
            ..Default::default()
        })
        .unwrap();
    let (ran, refusals) = run_calls(
        registry.hooks_for("db-agent"),
        Some(&workspace),
        None,
        &["rm -rf /tmp/x", "kubectl get pods"],
    )
    .await;
    assert_eq!(ran, vec!["kubectl get pods".to_string()]);
    assert!(
        refusals.iter().any(|r| r.contains("plugin guard: no rm")),
        "{refusals:?}"
    );
    let seen = std::fs::read_to_string(workspace.join("env-seen.txt")).unwrap();
    let mut lines: Vec<&str> = seen.lines().collect();
    lines.sort();
    lines.dedup();
    let (r, w) = (root.display(), workspace.display());
    let mut expected = [format!("|{r}|{w}"), format!("via-shell|{r}|{w}")];
    expected.sort();
    assert_eq!(
        lines, expected,
        "both the direct and the shell form see both variables"
    );

    // A folder without hooks is an error naming the file it looked for.
    let empty = tmp.path().join("empty-plugin");
    std::fs::create_dir_all(&empty).unwrap();
    let err = HookConfig::from_plugin_dir(&empty).unwrap_err().to_string();
    assert!(err.contains("hooks/hooks.json"), "{err}");
    // plugin.json may name another hooks file.
    std::fs::create_dir_all(empty.join(".claude-plugin")).unwrap();
    std::fs::write(
        empty.join(".claude-plugin/plugin.json"),
        r#"{"name": "x", "hooks": "./config/hooks.json"}"#,
    )
    .unwrap();
    std::fs::create_dir_all(empty.join("config")).unwrap();
    std::fs::write(
        empty.join("config/hooks.json"),
        r#"{"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "true"}]}]}}"#,
    )
    .unwrap();
    assert_eq!(HookConfig::from_plugin_dir(&empty).unwrap().global.len(), 1);
}

/// Without a configured workspace, `CLAUDE_PROJECT_DIR` is still set (the host's working
/// directory), so a hook using it does not fail on an empty path.
#[tokio::test]
async fn command_hooks_always_get_claude_project_dir() {
    let config = HookConfig::from_yaml(
        "- {event: PreToolUse, matcher: Bash, command: 'echo \"dir=$CLAUDE_PROJECT_DIR\" >&2; exit 2'}\n",
        "h.yaml",
    )
    .unwrap();
    let registry = config.build(&BuildContext::default()).unwrap();
    let (ran, refusals) = run_calls(registry.hooks_for("a"), None, None, &["ls"]).await;
    assert!(ran.is_empty());
    let here = std::env::current_dir().unwrap();
    assert_eq!(refusals, vec![format!("dir={}", here.display())]);
}

/// `transcript_path` is the JSONL file when the store keeps one, and `null` otherwise.
#[tokio::test]
async fn transcript_path_is_the_jsonl_file_or_null() {
    let config = HookConfig::from_yaml(
        r#"
- event: PreToolUse
  matcher: Bash
  script: |
    #!/usr/bin/env python3
    import json, os, sys
    p = json.load(sys.stdin)["transcript_path"]
    print("null" if p is None else ("readable " + p if os.access(p, os.R_OK) else "missing " + p), file=sys.stderr)
    sys.exit(2)
"#,
        "h.yaml",
    )
    .unwrap();
    let registry = config.build(&BuildContext::default()).unwrap();
    let (_, in_memory) = run_calls(registry.hooks_for("a"), None, None, &["ls"]).await;
    assert_eq!(in_memory, vec!["null".to_string()]);

    let sessions = tempfile::tempdir().unwrap();
    let store = Arc::new(sre_core::JsonlSessionStore::new(sessions.path()).unwrap());
    let (_, jsonl) = run_calls(registry.hooks_for("a"), None, Some(store), &["ls"]).await;
    assert_eq!(jsonl.len(), 1);
    assert!(
        jsonl[0].starts_with(&format!("readable {}", sessions.path().display()))
            && jsonl[0].ends_with(".jsonl"),
        "{jsonl:?}"
    );
}

/// As in Claude Code, a `SessionStart` matcher matches the source and a `PreCompact`
/// matcher the trigger.
#[test]
fn session_start_and_pre_compact_matchers_match_source_and_trigger() {
    let config = HookConfig::from_settings_json(
        r#"{"hooks": {
            "SessionStart": [{"matcher": "resume", "hooks": [{"type": "command", "command": "a"}]}],
            "PreCompact": [{"matcher": "manual", "hooks": [{"type": "command", "command": "b"}]}]}}"#,
        "settings.json",
    )
    .unwrap();
    let hooks = config
        .build(&BuildContext::default())
        .unwrap()
        .hooks_for("x");
    let at = |payload: HookPayload| {
        hooks
            .iter()
            .filter(|h| h.handles(&input(payload.clone(), None)))
            .count()
    };
    let start = |s: &str| HookPayload::SessionStart { source: s.into() };
    let compact = |t: &str| HookPayload::PreCompact { trigger: t.into() };
    assert_eq!((at(start("resume")), at(start("startup"))), (1, 0));
    assert_eq!((at(compact("manual")), at(compact("auto"))), (1, 0));
    assert_eq!(at(pre("ls")), 0);
}
