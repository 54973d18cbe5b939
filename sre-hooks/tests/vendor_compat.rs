//! Hook files written for other harnesses govern our agent unmodified: matchers that name
//! the tools by their Claude Code / Azure SRE Agent names (`Bash`, `ExecutePythonCode`)
//! match ours through tool aliases; a YAML (vendor-format) `PostToolUse` hook also sees
//! failed calls while a Claude Code one does not; a hook's stderr reaches the events.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

mod common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use sre_core::{
    Agent, AgentLoop, EventKind, HookAction, ScriptedModel, Session, Tool, ToolAnnotations,
    ToolContext, ToolError, ToolOutput, ToolSpec,
};
use sre_hooks::{BuildContext, HookConfig, HookFormat, ToolMatcher, default_tool_aliases};

use common::{Events, fixture};

/// A tool that records that it ran and answers ok, or fails when `fails`.
struct Probe {
    spec: ToolSpec,
    fails: bool,
    ran: Mutex<usize>,
}

impl Probe {
    fn new(name: &str, fails: bool) -> Arc<Self> {
        Arc::new(Probe {
            spec: ToolSpec {
                name: name.into(),
                description: format!("probe {name}"),
                input_schema: json!({"type": "object"}),
            },
            fails,
            ran: Mutex::new(0),
        })
    }
    fn ran(&self) -> usize {
        *self.ran.lock().unwrap()
    }
}

#[async_trait]
impl Tool for Probe {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }
    fn annotations(&self) -> ToolAnnotations {
        ToolAnnotations::read_only()
    }
    async fn call(&self, _input: Value, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        *self.ran.lock().unwrap() += 1;
        Ok(if self.fails {
            ToolOutput::error("connection refused")
        } else {
            ToolOutput::ok("fine")
        })
    }
}

/// Run `db-agent`, whose model calls each of `tools` once, with the hooks of `config` built
/// with `ctx`. Returns the events.
async fn run(config: &HookConfig, ctx: &BuildContext, tools: &[Arc<Probe>]) -> Events {
    let calls: Vec<String> = tools
        .iter()
        .map(|t| format!("{{tool: {}}}", t.spec.name))
        .collect();
    let script = format!(
        "turns:\n  - tool_calls: [{}]\n  - final: done\n",
        calls.join(", ")
    );
    let registry = config.build(ctx).unwrap();
    let agent = AgentLoop::builder(Arc::new(ScriptedModel::from_yaml(&script).unwrap()))
        .name("db-agent")
        .tools(tools.iter().map(|t| t.clone() as Arc<dyn Tool>))
        .hooks(registry.hooks_for("db-agent"))
        .build()
        .unwrap();
    let events = Events::default();
    let out = agent
        .run(&Session::new("s").with_events(events.sink()), "go")
        .await
        .unwrap();
    assert_eq!(out.answer.as_deref(), Some("done"));
    events
}

/// The `output` of every HookDecision event of `hook`, sorted.
fn outputs(events: &Events, hook: &str) -> Vec<String> {
    let mut out: Vec<String> = events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::HookDecision {
                hook: h,
                output: Some(o),
                action: HookAction::Continue,
                ..
            } if h == hook => Some(o.clone()),
            _ => None,
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_yaml_post_tool_use_hook_sees_failed_calls_and_its_stderr_reaches_the_events() {
    let yaml = format!(
        r#"
api_version: azuresre.ai/v2
kind: ExtendedAgent
metadata: {{name: db-agent}}
spec:
  hooks:
    - name: audit
      event: PostToolUse
      type: command
      matcher: "*"
      command: {}
"#,
        fixture("audit_stderr.py")
    );
    let config = HookConfig::from_yaml(&yaml, "db-agent.yaml").unwrap();
    assert_eq!(config.agents["db-agent"][0].format, HookFormat::AgentYaml);
    let tools = [Probe::new("inventory", false), Probe::new("restart", true)];
    let events = run(&config, &BuildContext::default(), &tools).await;
    // The published audit hook writes its line to stderr and exits 0: the line is kept,
    // for the failed call too, which the hook is told about as a PostToolUse.
    assert_eq!(
        outputs(&events, "audit"),
        [
            "[AUDIT] PostToolUse agent=db-agent tool=inventory succeeded=true",
            "[AUDIT] PostToolUse agent=db-agent tool=restart succeeded=false",
        ]
    );
    assert!(events.hook_failures().is_empty());
}

#[tokio::test]
async fn a_claude_code_post_tool_use_hook_sees_successful_calls_only() {
    let settings = json!({"hooks": {"PostToolUse": [{"matcher": "*", "hooks": [
        {"type": "command", "name": "audit", "command": fixture("audit_stderr.py")}
    ]}]}});
    let config = HookConfig::from_settings_json(&settings.to_string(), "settings.json").unwrap();
    assert_eq!(config.global[0].format, HookFormat::ClaudeCode);
    let tools = [Probe::new("inventory", false), Probe::new("restart", true)];
    let events = run(&config, &BuildContext::default(), &tools).await;
    assert_eq!(
        outputs(&events, "audit"),
        ["[AUDIT] PostToolUse agent=db-agent tool=inventory succeeded=true"]
    );
}

const GUARD: &str = r#"
kind: AgentConfiguration
metadata: {name: db-agent}
spec:
  hooks:
    - name: guard
      event: PreToolUse
      type: command
      matcher: Bash|ExecuteShellCommand|ExecutePythonCode
      script: |
        #!/bin/bash
        cat >/dev/null
        echo "no commands during the change freeze" >&2
        exit 2
"#;

#[tokio::test]
async fn matchers_naming_other_harnesses_tools_govern_ours_through_aliases() {
    let config = HookConfig::from_yaml(GUARD, "db-agent.yaml").unwrap();
    let with_aliases = BuildContext {
        tool_aliases: default_tool_aliases(),
        ..Default::default()
    };
    let tools = [
        Probe::new("shell", false),
        Probe::new("python", false),
        Probe::new("read_file", false),
    ];
    let events = run(&config, &with_aliases, &tools).await;
    assert_eq!(
        tools.iter().map(|t| t.ran()).collect::<Vec<_>>(),
        [0, 0, 1],
        "shell and python are governed, read_file is not"
    );
    let refused: Vec<String> = events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ToolRefused { name, reason, .. } => {
                assert!(reason.contains("no commands during the change freeze"));
                Some(name.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(refused.len(), 2, "{refused:?}");

    // Without the aliases the matcher names no tool of ours.
    let tools = [Probe::new("shell", false), Probe::new("python", false)];
    run(&config, &BuildContext::default(), &tools).await;
    assert_eq!(tools.iter().map(|t| t.ran()).collect::<Vec<_>>(), [1, 1]);
}

#[test]
fn aliases_keep_full_match_semantics() {
    let aliases = Arc::new(default_tool_aliases());
    let m = |p: &str| {
        ToolMatcher::new(Some(p))
            .unwrap()
            .with_aliases(aliases.clone())
    };
    assert!(m("Bash").matches_tool("shell"));
    assert!(m("shell").matches_tool("shell"));
    assert!(m("Read|Grep").matches_tool("grep"));
    assert!(m("LS").matches_tool("list"));
    assert!(
        !m("Bas").matches_tool("shell"),
        "a part of an alias is no match"
    );
    assert!(!m("Bash").matches_tool("python"));
    assert!(!m("Bash").matches_tool("Shell"), "case-sensitive");
    assert!(m("*").matches_tool("anything"));
    // Aliases are for tool names only: a SessionStart source is matched as it is.
    assert!(!m("Bash").matches(Some("startup")));
}
