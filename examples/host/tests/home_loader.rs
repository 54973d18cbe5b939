//! The agent-home loader on real files: every kind, both spellings, multi-document files,
//! SKILL.md folders, settings.json, the reference team.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

use std::path::{Path, PathBuf};
use std::time::Duration;

use pretty_assertions::assert_eq;
use sre_core::HookEvent;
use sre_hooks::{ActivationMode, HookKind};
use sre_host::home::{
    AgentHome, AgentType, ConnectorShape, ParamType, RepoSource, Severity, ToolRef,
};
use sre_mcp::{Auth, Transport};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn load(dir: &Path) -> AgentHome {
    match AgentHome::load(dir) {
        Ok(h) => h,
        Err(e) => panic!("{e}"),
    }
}

fn warnings(home: &AgentHome) -> Vec<String> {
    home.warnings.iter().map(|d| d.headline()).collect()
}

#[test]
fn snake_case_v1_agent_loads_every_field() {
    let home = load(&fixture("home_full"));
    let a = &home.agents["triage"];
    assert_eq!(a.kind, "AgentConfiguration");
    assert_eq!(a.api_version.as_deref(), Some("azuresre.ai/v1"));
    assert_eq!(a.metadata["version"], serde_json::json!("1.0"));
    assert_eq!(a.display_name.as_deref(), Some("Triage"));
    assert_eq!(a.description.as_deref(), Some("First responder."));
    assert!(
        a.system_prompt.starts_with("You triage incidents."),
        "prompt read from the .md file"
    );
    assert_eq!(
        a.handoff_description.as_deref(),
        Some("Takes every new incident first.")
    );
    assert_eq!(a.handoffs, ["db-expert"]);
    assert_eq!(a.agents_as_tools, ["log-reader"]);
    assert_eq!(
        a.tools,
        Some(vec![
            ToolRef::Builtin("grep".into()),
            ToolRef::Builtin("read_file".into()),
            ToolRef::Python("check_tls".into()),
        ])
    );
    assert_eq!(a.connectors, ["pagerduty"]);
    assert_eq!(a.mcp_tools, ["pagerduty/get_*"]);
    assert_eq!(a.skills, Some(vec!["tls-audit".to_string()]));
    assert!(a.enable_skills);
    assert!(!a.allow_parallel_tool_calls);
    assert_eq!(a.agent_type, AgentType::ReadOnly);
    assert_eq!(a.temperature, Some(0.2));
    assert_eq!(a.llm_model_name.as_deref(), Some("gpt-4.1"));
    assert_eq!(a.location.file, Path::new("agents/triage.yaml"));
    assert_eq!((a.location.line, a.location.column), (2, 1));
    let hooks = &a.hooks.agents["triage"];
    assert_eq!(hooks.len(), 2);
    assert!(matches!(hooks[0].kind, HookKind::Allowlist(_)));
    match &hooks[1].kind {
        HookKind::Prompt { prompt } => assert!(
            prompt.starts_with("Accept the answer only"),
            "prompt file read"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn camel_case_v2_agents_load_from_one_multi_document_file() {
    let home = load(&fixture("home_full"));
    let db = &home.agents["db-expert"];
    assert_eq!(db.kind, "ExtendedAgent");
    assert_eq!(db.display_name.as_deref(), Some("Database Expert"));
    assert_eq!(db.system_prompt, "You investigate PostgreSQL.");
    assert_eq!(
        db.handoff_description.as_deref(),
        Some("PostgreSQL pools, locks and slow queries.")
    );
    assert_eq!(
        db.tools,
        Some(vec![
            ToolRef::Builtin("shell".into()),
            ToolRef::Builtin("python".into()),
            ToolRef::Python("lookup_owner".into()),
            ToolRef::Python("summarize".into()),
        ])
    );
    assert_eq!(db.connectors, ["datadog"]);
    assert_eq!(db.skills, Some(vec!["datadog-observability".to_string()]));
    assert_eq!(db.agent_type, AgentType::Review);
    assert_eq!(db.llm_model_name.as_deref(), Some("claude-sonnet"));
    assert_eq!(db.max_reflection_count, Some(2));
    let reader = &home.agents["log-reader"];
    assert_eq!(reader.system_prompt, "Read logs and summarise them.");
    assert_eq!(reader.tools, None, "no tools listed: the workspace tools");
    assert_eq!(reader.location.line, 32);
}

#[test]
fn event_map_hooks_load_both_shapes_and_resolve_files() {
    let home = load(&fixture("home_full"));
    let hooks = &home.agents["db-expert"].hooks.agents["db-expert"];
    assert_eq!(hooks.len(), 2);
    let pre = &hooks[0];
    assert_eq!(pre.event, HookEvent::PreToolUse);
    assert_eq!(pre.matcher.as_deref(), Some("Bash"));
    assert_eq!(pre.timeout_secs, 5);
    let check = fixture("home_full").join("hooks/check.sh");
    let check = std::fs::canonicalize(check).unwrap_or_default();
    assert_eq!(
        pre.kind,
        HookKind::Command {
            command: check.display().to_string()
        },
        "an executable command file runs by its absolute path"
    );
    let post = &hooks[1];
    assert_eq!(post.event, HookEvent::PostToolUse);
    assert_eq!(post.name, "audit-post");
    match &post.kind {
        HookKind::Script { script } => assert!(script.starts_with("#!/usr/bin/env python3")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn blocking_post_tool_use_hooks_on_command_tools_are_warned_about() {
    let home = load(&fixture("home_full"));
    let w = warnings(&home);
    assert!(
        w.contains(&"warning: agents/team.yaml:26:9: spec.hooks.PostToolUse[0]: PostToolUse hook `audit-post` can block `Bash`, but it runs after the command ran: blocking cannot undo it".to_string()),
        "{w:#?}"
    );
    let d = home
        .warnings
        .iter()
        .find(|d| d.message.contains("audit-post"))
        .map(|d| d.to_string());
    assert!(
        d.is_some_and(|d| d.contains("help: gate the call before it runs with a PreToolUse hook"))
    );
    // The global audit hook sees every tool and fails open: an observer, not a gate.
    assert!(!w.iter().any(|w| w.contains("hook `audit`")), "{w:#?}");
}

#[test]
fn post_tool_use_hooks_on_every_tool_that_fail_closed_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hooks.yaml"),
        "kind: HookConfiguration\nspec:\n  hooks:\n    - {event: PostToolUse, type: prompt, prompt: judge $ARGUMENTS, failMode: block}\n    - {event: PostToolUse, matcher: Read, command: echo}\n",
    )
    .unwrap();
    let home = load(dir.path());
    let w = warnings(&home);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(
        w[0].starts_with("warning: hooks.yaml:4:7: spec.hooks[0]: PostToolUse hook `"),
        "{w:#?}"
    );
    assert!(w[0].ends_with("can block `shell`, `Bash`, `ExecuteShellCommand`, `python`, `ExecutePythonCode`, but it runs after the command ran: blocking cannot undo it"));
}

#[test]
fn unhonoured_fields_are_warnings_naming_them() {
    let home = load(&fixture("home_full"));
    assert!(warnings(&home).contains(
        &"warning: agents/team.yaml:17:3: spec.maxReflectionCount: `maxReflectionCount` is not supported yet and is ignored: reflection passes are not implemented (the agent runs without them)".to_string()
    ));
}

#[test]
fn skills_load_from_configurations_and_folders() {
    let home = load(&fixture("home_full"));
    let dd = &home.skills["datadog-observability"];
    assert_eq!(dd.display_name.as_deref(), Some("Datadog observability"));
    assert!(dd.description.contains("Use for metric or log questions."));
    assert!(dd.instructions.starts_with("1. Query the error rate."));
    assert_eq!(dd.connectors, ["datadog"]);
    assert_eq!(dd.tools, [ToolRef::Python("summarize".into())]);
    assert_eq!(dd.dir, None);
    let tls = &home.skills["tls-audit"];
    assert_eq!(tls.allowed_tools, ["check_tls", "Read"]);
    assert!(tls.instructions.starts_with("# TLS audit"));
    assert_eq!(
        tls.files,
        [
            PathBuf::from("references/levels.md"),
            PathBuf::from("scripts/table.py")
        ]
    );
    assert!(
        tls.dir
            .as_ref()
            .is_some_and(|d| d.ends_with("skills/tls-audit"))
    );
    assert_eq!(tls.location.file, Path::new("skills/tls-audit/SKILL.md"));
}

#[test]
fn python_tools_load_in_all_three_shapes() {
    let home = load(&fixture("home_full"));
    let tls = &home.python_tools["check_tls"];
    assert_eq!(tls.timeout, Some(Duration::from_secs(20)));
    assert_eq!(tls.dependencies, ["cryptography>=42"]);
    assert!(tls.code.starts_with("def main(domain, port=443):"));
    assert!(
        tls.code_file
            .as_ref()
            .is_some_and(|f| f.ends_with("tools/check_tls.py"))
    );
    assert_eq!(tls.parameters.len(), 2);
    assert_eq!(tls.parameters[0].name, "domain");
    assert!(tls.parameters[0].required);
    assert_eq!(tls.parameters[0].description.as_deref(), Some("Host name."));
    assert_eq!(tls.parameters[1].ty, ParamType::Integer);
    assert_eq!(tls.parameters[1].default, Some(serde_json::json!(443)));
    assert!(
        !tls.parameters[1].required,
        "a parameter with a default is optional"
    );
    let owner = &home.python_tools["lookup_owner"];
    assert_eq!(owner.timeout, Some(Duration::from_secs(5)));
    assert!(owner.code.contains("def main(service)"));
    assert_eq!(owner.code_file, None);
    let sum = &home.python_tools["summarize"];
    assert_eq!(sum.parameters[1].default, Some(serde_json::json!(100)));
    assert_eq!(sum.location.line, 20);
}

#[test]
fn connectors_load_in_all_three_shapes() {
    let home = load(&fixture("home_full"));
    let pd = &home.connectors["pagerduty"];
    assert_eq!(pd.shape, ConnectorShape::DataConnector);
    match &pd.config.transport {
        Transport::StreamableHttp { url, auth, .. } => {
            assert_eq!(url, "https://mcp.pagerduty.example/mcp");
            assert_eq!(auth, &Some(Auth::Bearer("${PAGERDUTY_TOKEN}".into())));
        }
        other => panic!("{other:?}"),
    }
    let dd = &home.connectors["datadog"];
    assert_eq!(dd.shape, ConnectorShape::McpConnector);
    assert_eq!(dd.config.call_timeout, Duration::from_secs(60));
    assert_eq!(dd.config.tools.deny, ["*delete*"]);
    let ev = &home.connectors["everything"];
    assert_eq!(ev.shape, ConnectorShape::McpConfig);
    assert!(matches!(&ev.config.transport, Transport::Stdio { command, .. } if command == "npx"));
}

#[test]
fn global_hooks_come_from_hook_configurations_and_settings_json() {
    let home = load(&fixture("home_full"));
    let names: Vec<&str> = home
        .global_hooks
        .global
        .iter()
        .map(|h| h.name.as_str())
        .collect();
    assert_eq!(home.global_hooks.global.len(), 2, "{names:?}");
    let audit = home.global_hooks.global.iter().find(|h| h.name == "audit");
    let audit = audit.unwrap_or_else(|| panic!("{names:?}"));
    assert_eq!(audit.activation, ActivationMode::OnDemand);
    assert!(
        matches!(&audit.kind, HookKind::Script { script } if script.contains("print(\"audit\""))
    );
    assert!(
        home.global_hooks
            .global
            .iter()
            .any(|h| h.matcher.as_deref() == Some("Write|Edit"))
    );
    // The settings file's unimplemented event is a warning at its key.
    let w = warnings(&home);
    assert!(
        w.iter().any(|w| w.starts_with("warning: .claude/settings.json:6:5: hooks.Notification: event \"Notification\" is not implemented")),
        "{w:#?}"
    );
    // Global then the agent's own.
    let all = home.hooks_for("triage");
    assert_eq!(all.global.len(), 2);
    assert_eq!(all.agents["triage"].len(), 2);
}

#[test]
fn the_world_plans_and_unused_documents_load() {
    let home = load(&fixture("home_full"));
    let root = &home.root;
    assert_eq!(
        home.world.knowledge.as_deref(),
        Some(root.join("knowledge").as_path())
    );
    assert_eq!(
        home.world.topology.as_deref(),
        Some(root.join("topology.yaml").as_path())
    );
    assert_eq!(
        home.world.memory.as_deref(),
        Some(root.join(".memory").as_path())
    );
    let repos = &home.world.repositories;
    assert_eq!(repos[0].name, "checkout");
    assert_eq!(
        repos[0].source,
        RepoSource::Git("https://github.com/example/checkout.git".into())
    );
    assert_eq!(repos[0].branch.as_deref(), Some("main"));
    assert_eq!(repos[0].mount, Path::new("checkout"));
    assert_eq!(
        repos[1].source,
        RepoSource::Path(root.join("repos/payments"))
    );
    assert_eq!(repos[1].mount, Path::new("src/payments"));
    let kinds: Vec<(&str, Option<&str>)> = home
        .unused_documents
        .iter()
        .map(|d| (d.kind.as_str(), d.name.as_deref()))
        .collect();
    assert!(kinds.is_empty(), "{kinds:?}");
    let task = &home.schedules[0];
    assert_eq!(
        (task.name.as_str(), task.agent.as_str()),
        ("nightly-cert-check", "triage")
    );
    assert_eq!(task.cron, "0 2 * * *");
    assert_eq!(task.time_zone, chrono_tz::Tz::Europe__Paris);
    assert_eq!(task.run_limit, Some(30));
    assert!(task.catch_up && task.enabled);
    // The response plan, camelCase fields read.
    let plan = &home.plans[0];
    assert_eq!(plan.name, "sev1-only");
    assert_eq!(
        plan.platform,
        Some(sre_host::incident::Source::AzureMonitor)
    );
    assert_eq!(plan.agent, "triage");
    assert_eq!(
        plan.priorities,
        [
            sre_host::incident::Priority(1),
            sre_host::incident::Priority(2)
        ]
    );
    assert_eq!(plan.title_not_contains, ["test"]);
    assert_eq!(plan.mode, sre_host::home::AgentType::Review);
    assert_eq!(plan.max_attempts, 2);
    assert_eq!(
        plan.custom_instructions.as_deref(),
        Some("Check the last deployment first.")
    );
    assert!(
        home.warnings
            .iter()
            .all(|d| d.severity != Severity::Note || !d.message.contains("not used yet"))
    );
}

#[test]
fn skill_folders_in_the_anthropics_corpus_shape_load() {
    let home = load(&fixture("home_skills"));
    let names: Vec<&str> = home.skills.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["k8s_Debug", "log-triage", "pdf-report", "runbook-writer"]
    );
    let pdf = &home.skills["pdf-report"];
    assert_eq!(
        pdf.allowed_tools,
        ["Bash(python:*)", "Read", "Write"],
        "a space-separated string"
    );
    assert_eq!(
        pdf.license.as_deref(),
        Some("Complete terms in LICENSE.txt")
    );
    assert_eq!(
        pdf.files,
        [
            PathBuf::from("LICENSE.txt"),
            PathBuf::from("references/forms.md"),
            PathBuf::from("references/layout.md"),
            PathBuf::from("scripts/fill_form.py"),
        ]
    );
    assert!(
        pdf.description.contains("Do not use it for"),
        "the whole description is kept"
    );
    let logs = &home.skills["log-triage"];
    assert_eq!(
        logs.allowed_tools,
        ["Grep", "Read", "mcp__loki__query"],
        "a list"
    );
    assert_eq!(logs.metadata["version"], "2.1");
    assert_eq!(
        logs.compatibility.as_deref(),
        Some("Needs network access to Loki.")
    );
    let runbook = &home.skills["runbook-writer"];
    assert!(
        runbook
            .dir
            .as_ref()
            .is_some_and(|d| d.ends_with(".claude/skills/runbook-writer"))
    );
    let w = warnings(&home);
    let expect = [
        "warning: .claude/skills/runbook-writer/SKILL.md:4:1: disable-model-invocation: `disable-model-invocation` is not supported yet and is ignored: every skill is offered to the model",
        "warning: .claude/skills/runbook-writer/SKILL.md:5:1: argument-hint: `argument-hint` is not supported yet and is ignored: there are no slash commands",
        "warning: skills/k8s_Debug/SKILL.md:2:7: name: `k8s_Debug` does not follow the Agent Skills spec (lowercase letters, digits and single `-`); loaded anyway",
        "warning: skills/log-triage/SKILL.md:9:5: allowed-tools[2]: `mcp__loki__query` names connector `loki`, which this home does not define",
    ];
    assert_eq!(w, expect);
    let spec = home
        .warnings
        .iter()
        .find(|d| d.message.contains("k8s_Debug"))
        .map(|d| d.to_string());
    assert!(spec.is_some_and(|s| {
        s.contains("help: other tools may refuse it: `k8s-debug` would be portable")
    }));
    assert_eq!(
        home.agents["skilled"].skills.as_ref().map(Vec::len),
        Some(4)
    );
}

#[test]
fn the_reference_team_loads() {
    let team = Path::new(env!("CARGO_MANIFEST_DIR")).join("../team");
    if !team.is_dir() {
        return;
    }
    let home = load(&team);
    let names: Vec<&str> = home.agents.keys().map(String::as_str).collect();
    assert!(
        names.contains(&"incident-orchestrator") && names.contains(&"postgres-analyst"),
        "{names:?}"
    );
    assert!(home.python_tools.contains_key("check_tls_certificate"));
    assert!(
        home.connectors.contains_key("pagerduty-mcp")
            && home.connectors.contains_key("datadog-mcp")
    );
    // Its PostToolUse allowlist on the command tools is warned about, as its README says.
    assert!(
        home.warnings
            .iter()
            .any(|d| d.file.ends_with("postgres-analyst.yaml")
                && d.message.contains("PostToolUse hook `command-allowlist`"))
    );
}

#[test]
fn loading_twice_gives_the_same_home() {
    let a = load(&fixture("home_full"));
    let b = load(&fixture("home_full"));
    assert_eq!(a.agents, b.agents);
    assert_eq!(a.skills, b.skills);
    assert_eq!(a.warnings, b.warnings);
}

#[test]
fn tools_and_connectors_of_unsupported_types_are_skipped_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("vendor.yaml"),
        "kind: ExtendedAgentTool\nspec:\n  name: q\n  type: KustoTool\n  query: x\n---\nkind: DataConnector\nspec:\n  name: kusto\n  type: Kusto\n  endpoint: https://k.example\n",
    )
    .unwrap();
    let home = load(dir.path());
    assert!(home.python_tools.is_empty() && home.connectors.is_empty());
    assert_eq!(
        warnings(&home),
        [
            "warning: vendor.yaml:4:9: spec.type: tools of type `KustoTool` are not supported yet: this tool is skipped",
            "warning: vendor.yaml:10:9: spec.type: data connectors of type `Kusto` are not supported yet: `kusto` is skipped",
        ]
    );
}
