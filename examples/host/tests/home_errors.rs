//! Every kind of error the agent-home loader reports, each at its exact file:line:column
//! and field, with the help line where there is one; all errors at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

use std::path::Path;

use pretty_assertions::assert_eq;
use sre_host::home::{AgentHome, Diagnostic, HomeErrors};
use tempfile::TempDir;

/// A home made of `files` (path, content).
fn home(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, content) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    dir
}

fn failure(dir: &Path) -> HomeErrors {
    match AgentHome::load(dir) {
        Ok(h) => panic!("loaded, with warnings {:#?}", h.warnings),
        Err(e) => e,
    }
}

fn headlines(ds: &[Diagnostic]) -> Vec<String> {
    ds.iter().map(Diagnostic::headline).collect()
}

fn errors(files: &[(&str, &str)]) -> Vec<String> {
    let dir = home(files);
    headlines(&failure(dir.path()).errors)
}

fn help_of(e: &HomeErrors, needle: &str) -> Option<String> {
    e.errors
        .iter()
        .chain(&e.warnings)
        .find(|d| d.message.contains(needle))
        .and_then(|d| d.help.clone())
}

const AGENT: &str = "kind: ExtendedAgent
spec:
  name: a
  system_prompt: hi
";

#[test]
fn yaml_syntax_errors_point_at_the_character() {
    let e = errors(&[(
        "agents/a.yaml",
        "kind: ExtendedAgent\nspec:\n  name: [a, b\n  tools: x\n",
    )]);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(e[0].starts_with("error: agents/a.yaml:4:"), "{e:#?}");
    assert!(e[0].contains("invalid YAML"));
}

#[test]
fn duplicate_keys_are_errors_at_the_second() {
    let e = errors(&[(
        "a.yaml",
        "kind: ExtendedAgent\nspec:\n  name: a\n  system_prompt: x\n  name: b\n",
    )]);
    assert_eq!(
        e,
        ["error: a.yaml:5:3: duplicate key `name` (first at line 3)"]
    );
}

#[test]
fn unknown_fields_get_a_did_you_mean() {
    let dir = home(&[(
        "agents/a.yaml",
        "kind: ExtendedAgent\nspec:\n  name: a\n  sytem_prompt: hi\n  instructions: hi\n",
    )]);
    let e = failure(dir.path());
    assert_eq!(
        headlines(&e.errors),
        ["error: agents/a.yaml:4:3: spec.sytem_prompt: unknown field `sytem_prompt`"]
    );
    assert_eq!(
        help_of(&e, "sytem_prompt").as_deref(),
        Some("did you mean `system_prompt`?")
    );
    assert_eq!(
        e.errors[0].to_string(),
        "error: agents/a.yaml:4:3: spec.sytem_prompt: unknown field `sytem_prompt`\n  4 |   sytem_prompt: hi\n    |   ^\n  help: did you mean `system_prompt`?"
    );
}

#[test]
fn both_spellings_of_one_field_are_an_error() {
    let e = errors(&[(
        "a.yaml",
        "kind: ExtendedAgent\nspec:\n  name: a\n  system_prompt: x\n  systemPrompt: y\n",
    )]);
    assert_eq!(
        e,
        [
            "error: a.yaml:5:3: spec.systemPrompt: `systemPrompt` is given twice (also as `system_prompt`)"
        ]
    );
}

#[test]
fn wrong_types_and_values_point_at_the_value() {
    let e = errors(&[(
        "a.yaml",
        "kind: ExtendedAgent\nspec:\n  name: a\n  system_prompt: x\n  temperature: hot\n  allowParallelToolCalls: 1\n  agent_type: ReadOnlyy\n  tools: grep\n",
    )]);
    assert_eq!(
        e,
        [
            "error: a.yaml:5:16: spec.temperature: expected a number, got a string",
            "error: a.yaml:6:27: spec.allowParallelToolCalls: expected true or false, got a number",
            "error: a.yaml:7:15: spec.agent_type: unknown agent type `ReadOnlyy`",
            "error: a.yaml:8:10: spec.tools: expected a list of strings, got a string",
        ]
    );
}

#[test]
fn missing_required_fields_point_at_the_mapping() {
    let e = errors(&[("a.yaml", "kind: ExtendedAgent\nspec:\n  display_name: x\n")]);
    assert_eq!(
        e,
        ["error: a.yaml:3:3: spec.name: missing: an agent needs a name"]
    );
    let e = errors(&[("a.yaml", "kind: ExtendedAgent\nspec:\n  name: a\n")]);
    assert_eq!(
        e,
        ["error: a.yaml:3:3: spec.system_prompt: missing: the agent's instructions"]
    );
    let e = errors(&[("a.yaml", "kind: ExtendedAgent\nmetadata: {name: a}\n")]);
    assert_eq!(
        e,
        ["error: a.yaml:1:1: spec: missing: a ExtendedAgent needs a `spec`"]
    );
}

#[test]
fn unresolved_references_are_errors_with_did_you_mean() {
    let dir = home(&[
        (
            "agents/a.yaml",
            "kind: ExtendedAgent
spec:
  name: a
  system_prompt: hi
  tools: [grep, grepp, Bassh, skill-one]
  skills: [skill-onee]
  mcp_connectors: [githubb]
  mcp_tools: [nowhere/*, '*']
  handoffs: [bee, a]
  agents_as_tools: [zzz]
",
        ),
        (
            "agents/b.yaml",
            "kind: ExtendedAgent\nspec:\n  name: b\n  system_prompt: hi\n  handoff_description: b things\n",
        ),
        (
            "skills/s.yaml",
            "kind: SkillConfiguration\nspec:\n  name: skill-one\n  description: d\n  instructions: i\n  tools: [Reed]\n  mcp_connectors: [github]\n",
        ),
        (
            "mcp.yaml",
            "connectors:\n  - name: github\n    transport: stdio\n    command: gh-mcp\n",
        ),
    ]);
    let e = failure(dir.path());
    assert_eq!(
        headlines(&e.errors),
        [
            "error: agents/a.yaml:5:17: spec.tools[1]: unknown tool `grepp`",
            "error: agents/a.yaml:5:24: spec.tools[2]: unknown tool `Bassh`",
            "error: agents/a.yaml:5:31: spec.tools[3]: unknown tool `skill-one`",
            "error: agents/a.yaml:6:12: spec.skills[0]: unknown skill `skill-onee`",
            "error: agents/a.yaml:7:20: spec.mcp_connectors[0]: unknown connector `githubb`",
            "error: agents/a.yaml:8:15: spec.mcp_tools[0]: unknown connector `nowhere`",
            "error: agents/a.yaml:8:26: spec.mcp_tools[1]: `*` names no connector",
            "error: agents/a.yaml:9:14: spec.handoffs[0]: unknown agent `bee`",
            "error: agents/a.yaml:9:19: spec.handoffs[1]: `a` names itself",
            "error: agents/a.yaml:10:21: spec.agents_as_tools[0]: unknown agent `zzz`",
            "error: skills/s.yaml:6:11: spec.tools[0]: unknown tool `Reed`",
        ]
    );
    assert_eq!(
        help_of(&e, "`grepp`").as_deref(),
        Some("did you mean `grep`?")
    );
    assert_eq!(
        help_of(&e, "`Bassh`").as_deref(),
        Some("did you mean `Bash`?")
    );
    assert_eq!(
        help_of(&e, "tool `skill-one`").as_deref(),
        Some("`skill-one` is a skill: list it under `skills`")
    );
    assert_eq!(
        help_of(&e, "`skill-onee`").as_deref(),
        Some("did you mean `skill-one`?")
    );
    assert_eq!(
        help_of(&e, "`githubb`").as_deref(),
        Some("did you mean `github`?")
    );
    assert_eq!(help_of(&e, "`bee`").as_deref(), Some("known: a, b"));
    assert_eq!(
        help_of(&e, "`Reed`").as_deref(),
        Some("did you mean `Read`?")
    );
}

#[test]
fn a_name_defined_twice_names_both_places() {
    let dir = home(&[
        (
            "agents/one.yaml",
            "kind: ExtendedAgent\nspec:\n  name: dup\n  system_prompt: x\n",
        ),
        (
            "agents/two.yaml",
            "# again\nkind: AgentConfiguration\nspec:\n  name: dup\n  system_prompt: y\n",
        ),
        (
            "skills/dup-skill/SKILL.md",
            "---\nname: dup-skill\ndescription: d\n---\nbody\n",
        ),
        (
            "skills/dup.yaml",
            "kind: SkillConfiguration\nspec:\n  name: dup-skill\n  description: d\n  instructions: i\n",
        ),
    ]);
    let e = failure(dir.path());
    assert_eq!(
        headlines(&e.errors),
        [
            "error: agents/two.yaml:4:9: name: agent `dup` is defined twice",
            "error: skills/dup-skill/SKILL.md:2:7: name: skill `dup-skill` is defined twice",
        ]
    );
    assert_eq!(
        help_of(&e, "agent `dup`").as_deref(),
        Some("first defined at agents/one.yaml:1:1; this one at agents/two.yaml:2:1")
    );
    assert_eq!(
        help_of(&e, "skill `dup-skill`").as_deref(),
        Some("first defined at skills/dup.yaml:1:1; this one at skills/dup-skill/SKILL.md:1:1")
    );
}

#[test]
fn python_tool_errors_point_at_their_field() {
    let dir = home(&[
        (
            "tools/t.yaml",
            "kind: PythonTool
spec:
  name: t1
  description: d
  function_file: t1.pyy
---
kind: PythonTool
spec:
  name: t2
  description: d
  function_code: |
    def helper(x):
        return {}
---
kind: PythonTool
spec:
  name: t3
  description: d
  function_code: \"def main(a, b):\\n    return {}\\n\"
  parameters:
    - {name: a, type: strin}
    - {name: c, type: integer, default: ten}
  dependencies: [requests, --index-url=http://evil]
  timeout_seconds: 0
---
kind: PythonTool
spec:
  name: grep
  description: d
  function_code: \"def main(): pass\"
",
        ),
        ("tools/t1.py", "def main(): pass\n"),
    ]);
    let e = failure(dir.path());
    assert_eq!(
        headlines(&e.errors),
        [
            "error: tools/t.yaml:5:18: spec.function_file: file not found: ".to_string()
                + &dir.path().canonicalize().unwrap().join("tools/t1.pyy").display().to_string(),
            "error: tools/t.yaml:12:5: spec.function_code: the code defines no top-level `def main(...)`".into(),
            "error: tools/t.yaml:19:18: spec.function_code: parameter `c` is not an argument of `main`".into(),
            "error: tools/t.yaml:19:18: spec.function_code: `main` needs `b`, which is not declared in `parameters`".into(),
            "error: tools/t.yaml:21:23: spec.parameters[0].type: unknown type `strin`".into(),
            "error: tools/t.yaml:22:41: spec.parameters[1].default: the default is a string, not integer".into(),
            "error: tools/t.yaml:23:28: spec.dependencies[1]: `--index-url=http://evil` is not a requirement (pip options are not allowed)".into(),
            "error: tools/t.yaml:24:20: spec.timeout_seconds: must be more than 0 and at most 3600 seconds, got 0".into(),
            "error: tools/t.yaml:28:9: name: `grep` is the name of a built-in tool".into(),
        ]
    );
    assert_eq!(
        help_of(&e, "t1.pyy").as_deref(),
        Some("did you mean `t1.py`?")
    );
    assert_eq!(
        help_of(&e, "`strin`").as_deref(),
        Some("did you mean `string`?")
    );
}

#[test]
fn hook_errors_are_mapped_to_the_hook_field() {
    let dir = home(&[
        (
            "agents/a.yaml",
            "kind: ExtendedAgent
spec:
  name: a
  system_prompt: hi
  hooks:
    - name: slow
      event: Stop
      type: prompt
      prompt: judge
      timeout: 0
    - name: missing
      event: PreToolUse
      script: hooks/gate.shh
    - name: bad-event
      event: PreToolUze
      command: echo
",
        ),
        (
            "agents/b.yaml",
            "kind: ExtendedAgent
spec:
  name: b
  system_prompt: hi
  hooks:
    Stopp:
      - {type: prompt, prompt: x}
    PostToolUse:
      - matcher: Bash
        hooks:
          - {type: command, command: echo, failMode: sometimes}
",
        ),
        ("agents/hooks/gate.sh", "#!/bin/sh\nexit 0\n"),
    ]);
    let e = failure(dir.path());
    let h = headlines(&e.errors);
    assert_eq!(
        h[0],
        "error: agents/a.yaml:10:7: spec.hooks[0].timeout: must be between 1 and 300 seconds, got 0"
    );
    assert!(
        h[1].starts_with(
            "error: agents/a.yaml:13:7: spec.hooks[1].script: hook file `hooks/gate.shh` not found"
        ),
        "{h:#?}"
    );
    assert!(
        h[2].starts_with(
            "error: agents/a.yaml:15:7: spec.hooks[2].event: unknown event \"PreToolUze\""
        ),
        "{h:#?}"
    );
    assert_eq!(
        h[3],
        "error: agents/b.yaml:6:5: spec.hooks.Stopp: unknown hook event `Stopp`"
    );
    assert_eq!(
        h[4],
        "error: agents/b.yaml:11:44: spec.hooks.PostToolUse[0].hooks[0].failMode: must be \"allow\" or \"block\", got \"sometimes\""
    );
    assert_eq!(h.len(), 5, "{h:#?}");
    assert_eq!(
        help_of(&e, "gate.shh").as_deref(),
        Some("did you mean `gate.sh`?")
    );
    assert_eq!(
        help_of(&e, "`Stopp`").as_deref(),
        Some("did you mean `Stop`?")
    );
}

#[test]
fn connector_errors_keep_secrets_out_of_files() {
    let e = errors(&[(
        "connectors/c.yaml",
        "kind: DataConnector
spec:
  name: pd
  type: Mcp
  endpoint: https://pd.example/mcp
  auth:
    type: BearerToken
    token: abc123
---
kind: McpConnector
spec:
  name: dd
  transport: htttp
---
kind: McpConnector
spec:
  name: bad-url
  transport: streamable_http
  url: ftp://x
---
kind: McpConnector
spec:
  name: two-auths
  transport: streamable_http
  url: https://x.example
  auth: {bearer: '${A}', token: '${B}'}
",
    )]);
    assert_eq!(
        e,
        [
            "error: connectors/c.yaml:8:12: spec.auth.token: a secret written in the file",
            "error: connectors/c.yaml:13:14: spec.transport: unknown transport `htttp`",
            "error: connectors/c.yaml:19:3: spec.url: must start with `http://` or `https://`",
            "error: connectors/c.yaml:26:9: spec.auth: needs exactly one of `bearer`, `token`, `basic`",
        ]
    );
}

#[test]
fn credentials_written_in_files_are_errors_that_never_show_them() {
    let dir = home(&[
        (
            "connectors/c.yaml",
            "kind: McpConnector
spec:
  name: dd
  transport: streamable_http
  url: https://dd.example/mcp
  headers:
    X-Trace: 'on'
    DD-API-KEY: ddkey-s3cr3t-1
    Authorization: 'Bearer tok-s3cr3t-2'
    X-Tenant: '${TENANT}'
---
kind: McpConnector
spec:
  name: gh
  transport: stdio
  command: github-mcp
  env:
    GITHUB_PERSONAL_ACCESS_TOKEN: ghp-s3cr3t-3
    LOG_LEVEL: debug
    MAX_TOKENS: '4096'
    SSH_KEY_PATH: /keys/id
    DATABASE_URL: postgres://app:db-s3cr3t-7@db/app
---
kind: DataConnector
spec:
  name: pd
  type: Mcp
  endpoint: https://pd.example/mcp
  auth: {type: BearerToken, token: pd-s3cr3t-4}
  headers: {X-Api-Token: pd-s3cr3t-5}
",
        ),
        (
            "workspace.yaml",
            "kind: Workspace
spec:
  repositories:
    - {name: a, url: 'https://bot:repo-s3cr3t-6@git.example/a.git', branch: -x}
    - {name: b, url: 'https://bot:${GIT_TOKEN}@git.example/b.git', branch: --upload-pack=evil}
    - {name: c, url: 'https://${GIT_USER}:${GIT_TOKEN}@git.example/c.git'}
    - {name: d, url: 'https://ghp_s3cr3t8@github.com/o/d.git'}
    - {name: e, url: 'tok-s3cr3t-9@github.com/o/e.git'}
    - {name: f, url: 'git@github.com:o/f.git', unknown: x}
",
        ),
    ]);
    let e = failure(dir.path());
    assert_eq!(
        headlines(&e.errors),
        [
            "error: connectors/c.yaml:8:17: spec.headers.DD-API-KEY: a secret written in the file",
            "error: connectors/c.yaml:9:20: spec.headers.Authorization: a secret written in the file",
            "error: connectors/c.yaml:18:35: spec.env.GITHUB_PERSONAL_ACCESS_TOKEN: a secret written in the file",
            "error: connectors/c.yaml:22:19: spec.env.DATABASE_URL: a password written in the file",
            "error: connectors/c.yaml:29:36: spec.auth.token: a secret written in the file",
            "error: connectors/c.yaml:30:26: spec.headers.X-Api-Token: a secret written in the file",
            "error: workspace.yaml:4:22: spec.repositories[0].url: a credential written in the file",
            "error: workspace.yaml:5:76: spec.repositories[1].branch: `--upload-pack=evil` is not a branch name",
            "error: workspace.yaml:7:22: spec.repositories[3].url: a credential written in the file",
            "error: workspace.yaml:8:22: spec.repositories[4].url: `****@github.com/o/e.git` is not a git URL",
            "error: workspace.yaml:9:48: spec.repositories[5].unknown: unknown field `unknown`",
        ]
    );
    // Shown in full (source lines included), no error gives the secret away.
    let shown = e.to_string();
    assert!(shown.contains("****"), "{shown}");
    assert!(!shown.contains("s3cr3t"), "{shown}");
}

#[test]
fn skill_folders_are_checked_against_the_spec() {
    let e = errors(&[
        ("skills/no-front/SKILL.md", "# just a body\n"),
        (
            "skills/other/SKILL.md",
            "---\nname: not-other\ndescription: d\n---\n",
        ),
        (
            "skills/bad name/SKILL.md",
            "---\nname: bad name\ndescription: d\n---\n",
        ),
        (
            "skills/no-desc/SKILL.md",
            "---\nname: no-desc\nlicence: MIT\n---\n",
        ),
        ("skills/open/SKILL.md", "---\nname: open\ndescription: d\n"),
    ]);
    assert_eq!(
        e,
        [
            "error: skills/bad name/SKILL.md:2:7: name: `bad name`: ' ' is not allowed in a skill name (use a-z, 0-9 and `-`)",
            "error: skills/no-desc/SKILL.md:2:1: description: missing: the description tells the model what the skill does and when to load it",
            "error: skills/no-desc/SKILL.md:3:1: licence: unknown field `licence`",
            "error: skills/no-front/SKILL.md:1:1: SKILL.md must start with YAML front matter between `---` lines",
            "error: skills/open/SKILL.md:1:1: the front matter is not closed (no second `---` line)",
            "error: skills/other/SKILL.md:2:7: name: `not-other` differs from its folder name `other`",
        ]
    );
}

#[test]
fn kinds_are_checked_and_foreign_documents_skipped() {
    let dir = home(&[
        (
            "a.yaml",
            "api_version: azuresre.ai/v1\nkind: AgentConfig\nspec: {}\n",
        ),
        (
            "k8s/deploy.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n",
        ),
    ]);
    let e = failure(dir.path());
    assert_eq!(
        headlines(&e.errors),
        ["error: a.yaml:2:7: kind: unknown kind `AgentConfig`"]
    );
    assert_eq!(
        help_of(&e, "AgentConfig").as_deref(),
        Some("did you mean `AgentConfiguration`?")
    );
    assert_eq!(
        headlines(&e.warnings),
        ["warning: k8s/deploy.yaml:2:7: kind: unknown kind `Deployment`: the document is skipped"]
    );
}

#[test]
fn agents_as_tools_cycles_are_errors() {
    let e = errors(&[(
        "agents.yaml",
        "kind: ExtendedAgent\nspec: {name: a, system_prompt: x, agents_as_tools: [b]}\n---\nkind: ExtendedAgent\nspec: {name: b, system_prompt: x, agents_as_tools: [c]}\n---\nkind: ExtendedAgent\nspec: {name: c, system_prompt: x, agents_as_tools: [a]}\n",
    )]);
    assert_eq!(
        e,
        [
            "error: agents.yaml:8:53: spec.agents_as_tools[0]: agents_as_tools cycle: a -> b -> c -> a"
        ]
    );
}

#[test]
fn workspace_errors_name_the_path() {
    let e = errors(&[(
        "workspace.yaml",
        "kind: Workspace
spec:
  knowledge: notes
  repositories:
    - {url: 'not a url'}
    - {name: x, url: 'https://h.example/x.git', mount: ../outside}
---
kind: Workspace
spec: {}
",
    )]);
    assert_eq!(e.len(), 4, "{e:#?}");
    assert!(
        e[0].starts_with("error: workspace.yaml:3:14: spec.knowledge: not a folder: "),
        "{e:#?}"
    );
    assert_eq!(
        e[1],
        "error: workspace.yaml:5:13: spec.repositories[0].url: `not a url` is not a git URL"
    );
    assert_eq!(
        e[2],
        "error: workspace.yaml:6:56: spec.repositories[1].mount: `../outside` must be a relative path inside the workspace (no `..`)"
    );
    assert_eq!(
        e[3],
        "error: workspace.yaml:8:1: kind: a second `Workspace` document"
    );
}

#[test]
fn hostile_yaml_is_an_error_not_a_hang() {
    let mut bomb =
        String::from("kind: ExtendedAgent\nspec:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 0..9 {
        let prev = if i == 0 {
            "a".to_string()
        } else {
            format!("l{}", i - 1)
        };
        bomb.push_str(&format!("  l{i}: &l{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
    }
    let deep = format!(
        "kind: ExtendedAgent\nspec: {}{}\n",
        "[".repeat(500),
        "]".repeat(500)
    );
    let e = errors(&[("bomb.yaml", &bomb), ("deep.yaml", &deep)]);
    assert_eq!(e.len(), 2, "{e:#?}");
    assert!(
        e[0].starts_with("error: bomb.yaml:7:") && e[0].contains("alias bomb"),
        "{e:#?}"
    );
    assert!(
        e[1].starts_with("error: deep.yaml:2:") && e[1].contains("recursion limit"),
        "{e:#?}"
    );
}

#[test]
fn unreadable_files_are_errors() {
    let dir = home(&[("ok.yaml", AGENT)]);
    std::fs::write(
        dir.path().join("latin1.yaml"),
        b"kind: ExtendedAgent\nspec: {name: \xe9}\n",
    )
    .unwrap();
    let e = headlines(&failure(dir.path()).errors);
    assert_eq!(
        e,
        ["error: latin1.yaml: not UTF-8 text: invalid utf-8 sequence of 1 bytes from index 33"]
    );
    let missing = AgentHome::load(dir.path().join("nope"))
        .map(|_| ())
        .unwrap_err();
    assert!(
        missing.errors[0]
            .message
            .starts_with("cannot load the agent home:")
    );
}

#[test]
fn broken_settings_json_points_at_the_character() {
    let e = errors(&[(
        ".claude/settings.json",
        "{\n  \"hooks\": {\n    \"PreToolUse\": [,]\n  }\n}\n",
    )]);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(
        e[0].starts_with("error: .claude/settings.json:3:20: invalid JSON"),
        "{e:#?}"
    );
}

#[test]
fn every_error_of_every_file_is_reported_at_once() {
    let e = errors(&[
        (
            "a.yaml",
            "kind: ExtendedAgent\nspec: {name: a, system_prompt: x, tools: [nope1]}\n",
        ),
        (
            "b.yaml",
            "kind: ExtendedAgent\nspec: {name: b, system_prompt: x, tools: [nope2], colour: red}\n",
        ),
        ("c.yaml", "kind: PythonTool\nspec: {name: c}\n"),
    ]);
    assert_eq!(e.len(), 5, "{e:#?}");
}

#[test]
fn a_hook_that_is_not_a_mapping_is_an_error() {
    let e = errors(&[(
        "a.yaml",
        "kind: ExtendedAgent\nspec:\n  name: a\n  system_prompt: x\n  hooks:\n    - just-a-string\n",
    )]);
    assert_eq!(
        e,
        ["error: a.yaml:6:7: spec.hooks[0]: expected a hook (a mapping), got a string"]
    );
}

#[test]
fn files_that_lead_outside_the_home_are_refused_and_never_shown() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("shadow"), "root:OUTSIDE-SECRET:1:0\n").unwrap();
    let dir = home(&[(
        "agents/a.yaml",
        "kind: ExtendedAgent\nspec:\n  name: a\n  system_prompt: prompt.md\n",
    )]);
    std::os::unix::fs::symlink(
        outside.path().join("shadow"),
        dir.path().join("agents/prompt.md"),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("skills/s1")).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("shadow"),
        dir.path().join("skills/s1/SKILL.md"),
    )
    .unwrap();
    let e = failure(dir.path());
    let shown = e.to_string();
    assert!(!shown.contains("OUTSIDE-SECRET"), "{shown}");
    assert_eq!(
        e.errors
            .iter()
            .filter(|d| d.message.contains("leads outside the agent home"))
            .count(),
        2,
        "{shown}"
    );
}

#[test]
fn run_together_credential_names_and_connector_urls_with_passwords_are_caught() {
    let e = errors(&[(
        "connectors/c.yaml",
        "kind: McpConnector
spec:
  name: pg
  transport: stdio
  command: pg-mcp
  env: {PGPASSWORD: S3CRET19}
---
kind: McpConnector
spec:
  name: web
  transport: streamable_http
  url: https://user:S3CRETPW@host.example/mcp
",
    )]);
    assert_eq!(
        e,
        [
            "error: connectors/c.yaml:6:21: spec.env.PGPASSWORD: a secret written in the file",
            "error: connectors/c.yaml:12:8: spec.url: a password written in the file",
        ]
    );
}

#[test]
fn a_huge_list_of_repeated_entries_is_checked_in_linear_time() {
    // 200,000 repeated tools on one line: each is a "listed twice" warning. Before the
    // diagnostics past the cap stopped scanning the file for their line, this took about
    // 18 s (debug build); now under a second.
    let list = vec!["Bash"; 200_000].join(", ");
    let dir = home(&[(
        "agents/a.yaml",
        &format!(
            "kind: ExtendedAgent\nspec:\n  name: a\n  system_prompt: hi\n  tools: [{list}, grepp]\n"
        ),
    )]);
    let started = std::time::Instant::now();
    let e = failure(dir.path());
    assert!(started.elapsed().as_secs() < 8, "{:?}", started.elapsed());
    assert!(
        headlines(&e.errors)
            .iter()
            .any(|h| h.contains("unknown tool `grepp`"))
    );
}
