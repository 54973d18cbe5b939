//! Load time of a generated agent home: 50 agents (each with tools, skills, a handoff and
//! two hooks), 200 skills (100 `SKILL.md` folders, 100 `SkillConfiguration`s), 100 Python
//! tools. `cargo bench -p sre-host --bench home_load`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::Path;

use divan::Bencher;
use sre_host::home::AgentHome;

const AGENTS: usize = 50;
const FOLDER_SKILLS: usize = 100;
const CONFIG_SKILLS: usize = 100;
const TOOLS: usize = 100;

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// Write the home into `root`.
fn generate(root: &Path) {
    for i in 0..TOOLS {
        write(
            root,
            &format!("tools/tool_{i}.yaml"),
            &format!(
                "api_version: azuresre.ai/v2
kind: ExtendedAgentTool
spec:
  type: PythonTool
  name: tool_{i}
  description: Tool number {i} checks something about a host.
  timeout_seconds: 20
  dependencies: [requests]
  parameters:
    - {{name: host, type: string, description: Host name., required: true}}
    - {{name: port, type: integer, default: 443}}
  function_code: |
    def main(host, port=443):
        return {{\"host\": host, \"port\": int(port), \"tool\": {i}}}
"
            ),
        );
    }
    for i in 0..FOLDER_SKILLS {
        write(
            root,
            &format!("skills/skill-{i}/SKILL.md"),
            &format!(
                "---
name: skill-{i}
description: Skill {i}. Use it when the incident is about subsystem {i}; do not load it for anything else.
allowed-tools: Read Grep tool_{t}
metadata:
  owner: team-{i}
---
# Skill {i}

1. Read `references/guide.md`.
2. Run `tool_{t}` on each host.
3. Report a table.
",
                t = i % TOOLS
            ),
        );
        write(
            root,
            &format!("skills/skill-{i}/references/guide.md"),
            "# Guide\n",
        );
    }
    for i in 0..CONFIG_SKILLS {
        write(
            root,
            &format!("skills/config_{i}.yaml"),
            &format!(
                "api_version: azuresre.ai/v1
kind: SkillConfiguration
spec:
  name: config_skill_{i}
  display_name: Config skill {i}
  description: Configured skill {i}. Use for questions about area {i}.
  instructions: |
    Step one for {i}.
    Step two for {i}.
  tools: [tool_{t}]
",
                t = (i + 1) % TOOLS
            ),
        );
    }
    for i in 0..AGENTS {
        write(
            root,
            &format!("agents/agent_{i}.yaml"),
            &format!(
                "api_version: azuresre.ai/v2
kind: ExtendedAgent
metadata:
  owner: team-{i}
spec:
  name: agent-{i}
  displayName: Agent {i}
  systemPrompt: |
    You are agent {i}. Investigate incidents of area {i} with real figures.
  handoffDescription: Area {i} incidents.
  handoffs: [agent-{next}]
  tools: [grep, Read, Bash, tool_{a}, tool_{b}]
  skills: [skill-{a}, skill-{b}, config_skill_{a}]
  agentType: Review
  temperature: 0.1
  hooks:
    - name: gate
      event: PreToolUse
      type: allowlist
      matcher: Bash|shell
      allow: [\"kubectl get\", \"psql -c SELECT*\"]
    - name: judge
      event: Stop
      type: prompt
      prompt: Accept only reports with a root cause. $ARGUMENTS
",
                next = (i + 1) % AGENTS,
                a = (2 * i) % TOOLS,
                b = (2 * i + 1) % TOOLS
            ),
        );
    }
}

fn main() {
    divan::main();
}

#[divan::bench(sample_count = 20)]
fn load_50_agents_200_skills_100_tools(bencher: Bencher) {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path());
    let home = AgentHome::load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (
            home.agents.len(),
            home.skills.len(),
            home.python_tools.len()
        ),
        (AGENTS, FOLDER_SKILLS + CONFIG_SKILLS, TOOLS)
    );
    bencher.bench(|| AgentHome::load(dir.path()).map(|h| h.agents.len()));
}
