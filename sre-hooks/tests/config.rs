//! Both config formats load to the same hook definitions; bad configs give precise errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

use pretty_assertions::assert_eq;
use sre_core::HookEvent;
use sre_hooks::{
    ActivationMode, BuildContext, FailMode, HookConfig, HookError, HookFormat, HookKind,
};

const YAML: &str = r#"
kind: AgentConfiguration
metadata:
  name: db-agent
spec:
  hooks:
    - event: PreToolUse
      type: command
      matcher: Bash|ExecuteShellCommand|ExecutePythonCode
      command: hooks/safety.py
      timeout: 10
      failMode: block
    - event: PostToolUse
      matcher: "*"
      command: hooks/audit.sh
    - name: quality-gate
      event: Stop
      type: prompt
      prompt: "Is this answer backed by evidence? $ARGUMENTS"
      maxRejections: 5
    - name: sql-guard
      event: PreToolUse
      matcher: ExecuteSqlQuery
      activation: on-demand
      script: |
        #!/bin/bash
        grep -qi 'drop table' && { echo 'no DROP' >&2; exit 2; }
        exit 0
"#;

const SETTINGS: &str = r##"{
  "hooks": {
    "PreToolUse": [
      {"matcher": "Bash|ExecuteShellCommand|ExecutePythonCode",
       "hooks": [{"type": "command", "command": "hooks/safety.py", "timeout": 10, "failMode": "block"}]},
      {"matcher": "ExecuteSqlQuery",
       "hooks": [{"type": "command", "name": "sql-guard", "activation": "on-demand",
                  "script": "#!/bin/bash\ngrep -qi 'drop table' && { echo 'no DROP' >&2; exit 2; }\nexit 0\n"}]}
    ],
    "PostToolUse": [{"matcher": "", "hooks": [{"type": "command", "command": "hooks/audit.sh"}]}],
    "Stop": [{"hooks": [{"type": "prompt", "name": "quality-gate",
                         "prompt": "Is this answer backed by evidence? $ARGUMENTS", "maxRejections": 5}]}]
  }
}"##;

fn sorted(mut v: Vec<sre_hooks::HookSpec>) -> Vec<sre_hooks::HookSpec> {
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

#[test]
fn yaml_and_settings_json_load_to_the_same_specs() {
    let yaml = HookConfig::from_yaml(YAML, "agent.yaml").unwrap();
    let json = HookConfig::from_settings_json(SETTINGS, "settings.json")
        .unwrap()
        .into_agent("db-agent");
    assert!(yaml.global.is_empty());
    let y = sorted(yaml.agents["db-agent"].clone());
    let j = sorted(json.agents["db-agent"].clone());
    // The same hooks, each knowing its dialect (what PostToolUse means).
    assert!(y.iter().all(|s| s.format == HookFormat::AgentYaml));
    assert!(j.iter().all(|s| s.format == HookFormat::ClaudeCode));
    let as_yaml = |v: &[sre_hooks::HookSpec]| -> Vec<sre_hooks::HookSpec> {
        v.iter()
            .cloned()
            .map(|mut s| {
                s.format = HookFormat::AgentYaml;
                s
            })
            .collect()
    };
    assert_eq!(y, as_yaml(&j));
    assert_eq!(y.len(), 4);

    let safety = y
        .iter()
        .find(|s| {
            s.kind
                == HookKind::Command {
                    command: "hooks/safety.py".into(),
                }
        })
        .unwrap();
    assert_eq!(safety.event, HookEvent::PreToolUse);
    assert_eq!(
        safety.matcher.as_deref(),
        Some("Bash|ExecuteShellCommand|ExecutePythonCode")
    );
    assert_eq!(safety.timeout_secs, 10);
    assert_eq!(safety.fail_mode, FailMode::Block);
    assert!(
        safety.name.starts_with("PreToolUse-command-"),
        "{}",
        safety.name
    );

    let audit = y
        .iter()
        .find(|s| {
            s.kind
                == HookKind::Command {
                    command: "hooks/audit.sh".into(),
                }
        })
        .unwrap();
    assert_eq!(audit.matcher, None, "`*` and empty mean every tool");
    assert_eq!(
        (audit.timeout_secs, audit.fail_mode, audit.max_rejections),
        (30, FailMode::Allow, 3)
    );

    let gate = y.iter().find(|s| s.name == "quality-gate").unwrap();
    assert_eq!(gate.max_rejections, 5);
    assert!(matches!(gate.kind, HookKind::Prompt { .. }));
    let sql = y.iter().find(|s| s.name == "sql-guard").unwrap();
    assert_eq!(sql.activation, ActivationMode::OnDemand);
}

#[test]
fn files_are_loaded_by_extension_and_documents_scope_hooks() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("settings.json"), SETTINGS).unwrap();
    let multi = format!("{YAML}\n---\n- event: SessionStart\n  command: echo hello\n");
    std::fs::write(dir.path().join("agents.yaml"), multi).unwrap();
    let json = HookConfig::load(dir.path().join("settings.json")).unwrap();
    assert_eq!(json.global.len(), 4);
    let mut yaml = HookConfig::load(dir.path().join("agents.yaml")).unwrap();
    assert_eq!(yaml.global.len(), 1);
    assert_eq!(yaml.agents["db-agent"].len(), 4);
    yaml.merge(json);
    assert_eq!(yaml.global.len(), 5);

    // Everything but the prompt hook builds without a model; with one, all of it does.
    let err = yaml.build(&BuildContext::default()).unwrap_err();
    assert!(
        err.to_string().contains("prompt hooks need a model"),
        "{err}"
    );
    let judge: std::sync::Arc<dyn sre_core::Model> = std::sync::Arc::new(
        sre_core::ScriptedModel::from_yaml("turns:\n  - final: '{\"ok\": true}'\n").unwrap(),
    );
    let registry = yaml
        .build(&BuildContext {
            model: Some(judge),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(registry.hooks_for("db-agent").len(), 9);
    assert_eq!(registry.hooks_for("nobody").len(), 5);
}

fn yaml_err(hook: &str) -> String {
    let doc = format!(
        "kind: AgentConfiguration\nmetadata: {{name: a}}\nspec:\n  hooks:\n    - event: Stop\n      command: ok.sh\n    - {hook}\n"
    );
    match HookConfig::from_yaml(&doc, "agent.yaml") {
        Err(e @ HookError::Config { .. }) => e.to_string(),
        other => panic!("expected a config error for {hook}, got {other:?}"),
    }
}

#[test]
fn bad_yaml_configs_give_precise_errors() {
    let cases = [
        (
            "{event: PreToolUse, matcher: 'Bash(', command: x}",
            "agent.yaml: spec.hooks[1].matcher: invalid regex",
        ),
        (
            "{event: PreToolUsed, command: x}",
            "agent.yaml: spec.hooks[1].event: unknown event \"PreToolUsed\"",
        ),
        (
            "{event: Stop, command: x, timeout: 0}",
            "agent.yaml: spec.hooks[1].timeout: must be between 1 and 300 seconds, got 0",
        ),
        (
            "{event: Stop, command: x, timeout: 301}",
            "agent.yaml: spec.hooks[1].timeout: must be between 1 and 300 seconds, got 301",
        ),
        (
            "{event: Stop, command: x, timeout: 30s}",
            "agent.yaml: spec.hooks[1].timeout: must be a whole number",
        ),
        (
            "{event: Stop, type: prompt, prompt: p, maxRejections: 0}",
            "agent.yaml: spec.hooks[1].maxRejections: must be between 1 and 25, got 0",
        ),
        (
            "{event: Stop, type: prompt, prompt: p, maxRejections: 26}",
            "agent.yaml: spec.hooks[1].maxRejections: must be between 1 and 25, got 26",
        ),
        (
            "{event: PreToolUse, type: command}",
            "agent.yaml: spec.hooks[1].command: missing",
        ),
        (
            "{event: Stop, type: prompt}",
            "agent.yaml: spec.hooks[1].prompt: missing",
        ),
        (
            "{event: Stop, type: http, command: x}",
            "agent.yaml: spec.hooks[1].type: must be \"command\", \"prompt\" or \"allowlist\"",
        ),
        (
            "{event: Stop, command: x, failMode: ignore}",
            "agent.yaml: spec.hooks[1].failMode: must be \"allow\" or \"block\"",
        ),
        (
            "{event: Stop, command: x, failmode: block}",
            "agent.yaml: spec.hooks[1].failmode: unknown field",
        ),
        (
            "{event: Stop, command: x, activation: on-demand}",
            "agent.yaml: spec.hooks[1].name: missing: an on-demand hook needs a `name`",
        ),
        (
            "{event: Stop, command: x, script: y}",
            "agent.yaml: spec.hooks[1].script: give either",
        ),
        ("{command: x}", "agent.yaml: spec.hooks[1].event: missing"),
        (
            "{event: Stop, command: 5}",
            "agent.yaml: spec.hooks[1].command: must be a string, got a number",
        ),
    ];
    for (hook, expected) in cases {
        let err = yaml_err(hook);
        assert!(
            err.starts_with(expected),
            "for {hook}:\n  got      {err}\n  expected {expected}..."
        );
    }
}

#[test]
fn bad_settings_json_gives_precise_errors() {
    let cases = [
        (
            r#"{"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"command": "a"}, {"command": "b", "timeout": 500}]}]}}"#,
            "settings.json: hooks.PreToolUse[0].hooks[1].timeout: must be between 1 and 300 seconds, got 500",
        ),
        (
            r#"{"hooks": {"PreToolUse": [{"matcher": "[", "hooks": []}]}}"#,
            "settings.json: hooks.PreToolUse[0].matcher: invalid regex",
        ),
        (
            r#"{"hooks": {"Stop": {"matcher": ""}}}"#,
            "settings.json: hooks.Stop: expected a list",
        ),
        (
            r#"{"hooks": {"Stop": [{"hooks": [{"type": "command"}]}]}}"#,
            "settings.json: hooks.Stop[0].hooks[0].command: missing",
        ),
        (
            r#"{"hooks": {"Stop": [{"matcher": ""}]}}"#,
            "settings.json: hooks.Stop[0].hooks: missing",
        ),
        (
            r#"{"hooks": {"Stop": [{"hooks": [{"type": "prompt", "prompt": "p", "maxRejections": 30}]}]}}"#,
            "settings.json: hooks.Stop[0].hooks[0].maxRejections: must be between 1 and 25, got 30",
        ),
        (
            r#"{"hooks": ["x"]}"#,
            "settings.json: hooks: expected an object",
        ),
        ("{\"hooks\": ", "settings.json:1:10: invalid JSON"),
    ];
    for (text, expected) in cases {
        let err = HookConfig::from_settings_json(text, "settings.json")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(expected),
            "for {text}:\n  got      {err}\n  expected {expected}..."
        );
    }
    // Unknown keys are ignored in the Claude Code format (it evolves); an empty file has no hooks.
    let ok = HookConfig::from_settings_json(r#"{"model": "x", "hooks": {"Stop": [{"hooks": [{"type": "command", "command": "a", "statusMessage": "s"}]}]}}"#, "s.json").unwrap();
    assert_eq!(ok.global.len(), 1);
    assert_eq!(
        HookConfig::from_settings_json("{}", "s.json").unwrap(),
        HookConfig::default()
    );
}

#[test]
fn agent_documents_need_a_name_and_the_right_kind() {
    let err = HookConfig::from_yaml("kind: AgentConfiguration\nspec: {hooks: []}\n", "a.yaml")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("a.yaml: metadata.name: missing"), "{err}");
    let err = HookConfig::from_yaml("kind: Deployment\n", "a.yaml")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("a.yaml: kind: expected `AgentConfiguration`"),
        "{err}"
    );
    let err = HookConfig::from_yaml("a: [\n", "a.yaml")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("a.yaml:") && err.contains("invalid YAML"),
        "{err}"
    );
    let err = HookConfig::from_yaml(
        "- {event: Stop, command: x}\n---\n- {event: Nope, command: x}\n",
        "a.yaml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("a.yaml (document 2): [0].event: unknown event"),
        "{err}"
    );
}

#[test]
fn yaml_agents_may_use_the_claude_code_nesting() {
    let nested = r#"
kind: AgentConfiguration
metadata: {name: db-agent}
spec:
  hooks:
    PreToolUse:
      - matcher: Bash|ExecuteShellCommand|ExecutePythonCode
        hooks:
          - {type: command, command: hooks/safety.py, timeout: 10, failMode: block}
"#;
    let a = HookConfig::from_yaml(nested, "agent.yaml").unwrap();
    let b = HookConfig::from_yaml(YAML, "agent.yaml").unwrap();
    assert_eq!(a.agents["db-agent"][0], b.agents["db-agent"][0]);
    let bad = nested.replace("timeout: 10", "timeout: 0");
    let err = HookConfig::from_yaml(&bad, "agent.yaml")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(
            "agent.yaml: spec.hooks.PreToolUse[0].hooks[0].timeout: must be between 1 and 300"
        ),
        "{err}"
    );
}
