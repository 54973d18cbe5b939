//! Test helpers: fixture paths, hook inputs, a shell-like tool that records its runs, and
//! an event collector.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;
use sre_core::{
    AgentEvent, EventKind, HookInput, HookPayload, Tool, ToolAnnotations, ToolContext, ToolError,
    ToolOutput, TypedTool, typed_tool,
};

/// Absolute path of a fixture, with its executable bit set (except the one that must not
/// have it).
pub fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    assert!(path.exists(), "missing fixture {}", path.display());
    use std::os::unix::fs::PermissionsExt;
    let mode = if name == "not_executable.sh" {
        0o644
    } else {
        0o755
    };
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path.display().to_string()
}

pub fn input(payload: HookPayload, cwd: Option<&std::path::Path>) -> HookInput {
    HookInput {
        session_id: "s1".into(),
        transcript_path: None,
        cwd: cwd.map(|p| p.display().to_string()),
        agent_name: "db-agent".into(),
        current_turn: 1,
        max_turns: 10,
        payload,
    }
}

pub fn pre(command: &str) -> HookPayload {
    HookPayload::PreToolUse {
        tool_name: "Bash".into(),
        tool_input: json!({"command": command}),
        tool_use_id: "call_1".into(),
        annotations: Some(ToolAnnotations::unrestricted()),
    }
}

pub fn post(command: &str, succeeded: bool) -> HookPayload {
    HookPayload::PostToolUse {
        tool_name: "Bash".into(),
        tool_input: json!({"command": command}),
        tool_use_id: "call_1".into(),
        tool_response: "ok".into(),
        succeeded,
        duration_ms: 3,
        annotations: Some(ToolAnnotations::unrestricted()),
    }
}

/// Arguments of the in-test shell tool.
#[derive(Deserialize, JsonSchema)]
pub struct ShellArgs {
    /// The command line.
    pub command: String,
}

/// A shell-like tool that does not run anything: it records the commands it was called
/// with, so tests can assert whether a call ran.
#[derive(Clone, Default)]
pub struct RecordingShell {
    pub ran: Arc<Mutex<Vec<String>>>,
}

#[async_trait::async_trait]
impl TypedTool for RecordingShell {
    type Args = ShellArgs;
    fn name(&self) -> &str {
        "Bash"
    }
    fn description(&self) -> &str {
        "Run a shell command."
    }
    fn annotations(&self) -> ToolAnnotations {
        ToolAnnotations::unrestricted()
    }
    async fn run(&self, args: ShellArgs, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        self.ran.lock().unwrap().push(args.command.clone());
        Ok(ToolOutput::ok(format!("ran: {}", args.command)))
    }
}

impl RecordingShell {
    pub fn tool(&self) -> Arc<dyn Tool> {
        typed_tool(self.clone()).unwrap()
    }
    pub fn ran(&self) -> Vec<String> {
        self.ran.lock().unwrap().clone()
    }
}

/// Collects events.
#[derive(Clone, Default)]
pub struct Events(pub Arc<Mutex<Vec<AgentEvent>>>);

impl Events {
    pub fn sink(&self) -> Arc<dyn sre_core::EventSink> {
        let store = self.0.clone();
        Arc::new(move |e: AgentEvent| store.lock().unwrap().push(e))
    }
    pub fn hook_failures(&self) -> Vec<(String, String)> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::HookFailed { hook, error, .. } => Some((hook.clone(), error.clone())),
                _ => None,
            })
            .collect()
    }
}

/// Run an agent whose model calls `Bash` once with `command`, governed by `hook`.
/// Returns the commands that ran, the refusal reasons and the hook failures reported.
pub async fn run_bash_once(
    hook: Arc<dyn sre_core::Hook>,
    cwd: Option<&std::path::Path>,
    command: &str,
) -> (Vec<String>, Vec<String>, Vec<(String, String)>) {
    let shell = RecordingShell::default();
    let model = sre_core::ScriptedModel::from_yaml(&format!(
        "turns:\n  - tool_calls: [{{tool: Bash, args: {{command: {command:?}}}}}]\n  - final: done\n"
    ))
    .unwrap();
    let mut builder = sre_core::AgentLoop::builder(Arc::new(model))
        .tool(shell.tool())
        .hook(hook);
    if let Some(dir) = cwd {
        builder = builder.cwd(dir.display().to_string());
    }
    let agent = builder.build().unwrap();
    let events = Events::default();
    sre_core::Agent::run(
        &agent,
        &sre_core::Session::new("once").with_events(events.sink()),
        "go",
    )
    .await
    .unwrap();
    let refusals = events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ToolRefused { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    (shell.ran(), refusals, events.hook_failures())
}
