//! Agents: `kind: AgentConfiguration` (`azuresre.ai/v1`) and `kind: ExtendedAgent`
//! (`azuresre.ai/v2`), every `spec` field in snake_case or camelCase.

use std::collections::BTreeMap;

use sre_hooks::HookConfig;

use super::diag::{Sink, Source, suggestion};
use super::document::Envelope;
use super::fields::{Fields, Spanned};
use super::hooks::parse_hooks;
use super::{Location, ToolRef};

/// How much an agent may do on its own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AgentType {
    /// Runs every tool (the default).
    #[default]
    Autonomous,
    /// Every call that is not read-only goes to the approver before it runs.
    Review,
    /// Only tools annotated read-only.
    ReadOnly,
}

impl AgentType {
    /// `Autonomous`, `Review` or `ReadOnly`.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentType::Autonomous => "Autonomous",
            AgentType::Review => "Review",
            AgentType::ReadOnly => "ReadOnly",
        }
    }

    /// The stricter of two modes (ReadOnly, then Review, then Autonomous): a response
    /// plan's mode never lets an agent do more than its own type allows.
    pub fn stricter(self, other: AgentType) -> AgentType {
        let rank = |t: AgentType| match t {
            AgentType::Autonomous => 0,
            AgentType::Review => 1,
            AgentType::ReadOnly => 2,
        };
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }

    /// Parse a name (case, `_` and `-` ignored: `read_only` is `ReadOnly`).
    pub fn parse(s: &str) -> Option<Self> {
        let n: String = s
            .chars()
            .filter(|c| !matches!(c, '_' | '-' | ' '))
            .flat_map(char::to_lowercase)
            .collect();
        match n.as_str() {
            "autonomous" => Some(AgentType::Autonomous),
            "review" => Some(AgentType::Review),
            "readonly" => Some(AgentType::ReadOnly),
            _ => None,
        }
    }
}

/// One agent, its references resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentDef {
    /// Unique name (`spec.name`, or `metadata.name`).
    pub name: String,
    /// `AgentConfiguration` or `ExtendedAgent`.
    pub kind: String,
    /// `api_version` as written.
    pub api_version: Option<String>,
    /// `metadata` as written (`owner`, `version`, `tags`...), informational.
    pub metadata: BTreeMap<String, serde_json::Value>,
    /// Name for people.
    pub display_name: Option<String>,
    /// What the agent is (informational).
    pub description: Option<String>,
    /// The instructions (`system_prompt` or `instructions`; a `.md`/`.txt` file named next
    /// to the YAML is read).
    pub system_prompt: String,
    /// What other agents read to decide to hand a thread to this one.
    pub handoff_description: Option<String>,
    /// Agents this one may hand the thread to.
    pub handoffs: Vec<String>,
    /// Agents this one may call as tools (subagents).
    pub agents_as_tools: Vec<String>,
    /// The tools listed (`None`: none listed, the agent gets the workspace tools,
    /// [`super::WORKSPACE_TOOLS`]).
    pub tools: Option<Vec<ToolRef>>,
    /// Connectors whose tools the agent gets (`mcp_connectors` / `connectors`).
    pub connectors: Vec<String>,
    /// Globs narrowing the connectors' tools (`github-mcp/*`, `mcp__github-mcp__get_*`).
    pub mcp_tools: Vec<String>,
    /// Skills the agent may activate (`skills` / `allowed_skills`; `None`: not listed).
    pub skills: Option<Vec<String>>,
    /// Whether skills are enabled (default true).
    pub enable_skills: bool,
    /// Several tool calls of one turn may run at once (default true).
    pub allow_parallel_tool_calls: bool,
    /// Autonomous, Review or ReadOnly.
    pub agent_type: AgentType,
    /// Whether the agent's commands (shell, python, git, Python tools) may use the network
    /// (`network: on|off`, an sre extension). `None`: the default of its type, off for
    /// `ReadOnly` and on otherwise ([`AgentDef::network_on`]).
    pub network: Option<bool>,
    /// Sampling temperature for the provider.
    pub temperature: Option<f32>,
    /// Model name for the provider.
    pub llm_model_name: Option<String>,
    /// Parsed, not honoured yet (a warning says so).
    pub max_reflection_count: Option<u32>,
    /// The agent's hooks (scoped to it: `hooks.agents[name]`).
    pub hooks: HookConfig,
    /// Where it is defined.
    pub location: Location,
}

impl AgentDef {
    /// Whether the agent's commands get the network: as declared, else off for a
    /// `ReadOnly` agent (it investigates, it does not reach out) and on otherwise.
    pub fn network_on(&self) -> bool {
        self.network
            .unwrap_or(self.agent_type != AgentType::ReadOnly)
    }
}

/// An `agent_mode` field (a response plan's, a scheduled task's): `default` when absent or
/// wrong (an error names the modes).
pub(crate) fn mode_field(
    f: &mut super::fields::Fields<'_>,
    default: AgentType,
    src: &Source,
    out: &mut Sink,
) -> AgentType {
    let Some(x) = f.take(&["agent_mode"], src, out) else {
        return default;
    };
    match x.string(src, out) {
        Some(s) => AgentType::parse(&s).unwrap_or_else(|| {
            out.error(
                src,
                x.node.pos,
                &x.path,
                format!("unknown agent mode `{s}`"),
            )
            .help("expected Autonomous, Review or ReadOnly");
            default
        }),
        None => default,
    }
}

/// An agent as parsed, its references not resolved yet.
pub(crate) struct AgentDraft {
    pub def: AgentDef,
    pub file: usize,
    pub name_pos: super::yaml::Pos,
    pub tools: Option<Vec<Spanned>>,
    pub skills: Vec<Spanned>,
    pub connectors: Vec<Spanned>,
    pub mcp_tools: Vec<Spanned>,
    pub handoffs: Vec<Spanned>,
    pub agents_as_tools: Vec<Spanned>,
}

/// Every `spec` field of an agent (canonical spelling).
pub const AGENT_FIELDS: &[&str] = &[
    "name",
    "display_name",
    "description",
    "system_prompt",
    "instructions",
    "handoff_description",
    "handoffs",
    "agents_as_tools",
    "tools",
    "mcp_connectors",
    "connectors",
    "mcp_tools",
    "skills",
    "allowed_skills",
    "enable_skills",
    "allow_parallel_tool_calls",
    "agent_type",
    "temperature",
    "network",
    "llm_model_name",
    "max_reflection_count",
    "hooks",
];

/// Agent fields parsed but not honoured yet, and why.
pub const UNHONOURED_AGENT_FIELDS: &[(&str, &str)] = &[(
    "max_reflection_count",
    "reflection passes are not implemented (the agent runs without them)",
)];

pub(crate) fn parse_agent(
    env: &Envelope<'_>,
    file: usize,
    src: &Source,
    out: &mut Sink,
) -> Option<AgentDraft> {
    let spec = env.spec?;
    let mut f = Fields::of(spec, "spec", src, out)?;
    let name_field = f.take(&["name"], src, out);
    let (name, name_pos) = match (name_field, &env.meta_name) {
        (Some(n), meta) => {
            let name = n.string(src, out)?;
            if let Some(m) = meta
                && m.value != name
            {
                out.error(
                    src,
                    m.pos,
                    "metadata.name",
                    format!("`{}` differs from spec.name `{name}`", m.value),
                )
                .help("give the name once (spec.name)");
            }
            (name, n.node.pos)
        }
        (None, Some(m)) => (m.value.clone(), m.pos),
        (None, None) => {
            out.error(src, f.pos(), "spec.name", "missing: an agent needs a name");
            return None;
        }
    };
    check_name(&name, name_pos, "spec.name", "agent", src, out);

    let string = |f: &mut Fields<'_>, names: &[&str], out: &mut Sink| {
        f.take(names, src, out).and_then(|x| x.string(src, out))
    };
    let display_name = string(&mut f, &["display_name"], out);
    let description = string(&mut f, &["description"], out);
    let handoff_description = string(&mut f, &["handoff_description"], out);
    let llm_model_name = string(&mut f, &["llm_model_name"], out);
    let system_prompt = match f.take(&["system_prompt", "instructions"], src, out) {
        Some(x) => {
            let path = x.path.clone();
            x.string(src, out)
                .and_then(|s| super::document::text_or_file(&s, x.node.pos, &path, src, out))
                .unwrap_or_default()
        }
        None => {
            out.error(src, f.pos(), "spec.system_prompt", "missing: the agent's instructions")
                .help("add `system_prompt:` (or `instructions:`), inline or as a .md file next to this YAML");
            String::new()
        }
    };
    let list = |f: &mut Fields<'_>, names: &[&str], out: &mut Sink| {
        f.take(names, src, out).map(|x| x.strings(false, src, out))
    };
    let handoffs = list(&mut f, &["handoffs"], out).unwrap_or_default();
    let agents_as_tools = list(&mut f, &["agents_as_tools"], out).unwrap_or_default();
    let tools = list(&mut f, &["tools"], out);
    let connectors = list(&mut f, &["mcp_connectors", "connectors"], out).unwrap_or_default();
    let mcp_tools = list(&mut f, &["mcp_tools"], out).unwrap_or_default();
    let skills = list(&mut f, &["skills", "allowed_skills"], out);

    let enable_skills = f
        .take(&["enable_skills"], src, out)
        .and_then(|x| x.bool(src, out))
        .unwrap_or(true);
    let allow_parallel_tool_calls = f
        .take(&["allow_parallel_tool_calls"], src, out)
        .and_then(|x| x.bool(src, out))
        .unwrap_or(true);
    let agent_type = match f.take(&["agent_type"], src, out) {
        Some(x) => match x.string(src, out) {
            Some(s) => match AgentType::parse(&s) {
                Some(t) => t,
                None => {
                    let names = ["Autonomous", "Review", "ReadOnly"];
                    let d = out.error(
                        src,
                        x.node.pos,
                        &x.path,
                        format!("unknown agent type `{s}`"),
                    );
                    match suggestion(&s, names) {
                        Some(h) => d.help(h),
                        None => d.help("expected Autonomous, Review or ReadOnly"),
                    };
                    AgentType::default()
                }
            },
            None => AgentType::default(),
        },
        None => AgentType::default(),
    };
    let network = f.take(&["network"], src, out).and_then(|x| {
        use super::yaml::Scalar;
        match x.node.scalar() {
            Some(Scalar::Bool(b)) => Some(b),
            Some(Scalar::Str("on")) => Some(true),
            Some(Scalar::Str("off")) => Some(false),
            _ => {
                out.error(src, x.node.pos, &x.path, "expected `on` or `off`")
                    .help("`off` cuts the agent's commands off the network (the default for ReadOnly agents)");
                None
            }
        }
    });
    let temperature = f.take(&["temperature"], src, out).and_then(|x| {
        let t = x.number(src, out)?;
        if !(0.0..=2.0).contains(&t) {
            out.error(
                src,
                x.node.pos,
                &x.path,
                format!("must be between 0 and 2, got {t}"),
            );
            return None;
        }
        Some(t as f32)
    });
    let max_reflection_count = f.take(&["max_reflection_count"], src, out).and_then(|x| {
        out.warn(
            src,
            x.key_pos,
            &x.path,
            format!(
                "`{}` is not supported yet and is ignored: {}",
                x.key, UNHONOURED_AGENT_FIELDS[0].1
            ),
        );
        x.count(src, out).and_then(|n| u32::try_from(n).ok())
    });
    let hooks = match f.take(&["hooks"], src, out) {
        Some(x) => parse_hooks(x.node, &x.path, Some(&name), src, out),
        None => HookConfig::default(),
    };
    f.finish(AGENT_FIELDS, &[], false, src, out);

    Some(AgentDraft {
        def: AgentDef {
            name,
            kind: env.kind.to_string(),
            api_version: env.api_version.clone(),
            metadata: env.metadata.clone(),
            display_name,
            description,
            system_prompt,
            handoff_description,
            handoffs: handoffs.iter().map(|s| s.value.clone()).collect(),
            agents_as_tools: agents_as_tools.iter().map(|s| s.value.clone()).collect(),
            tools: None,
            connectors: connectors.iter().map(|s| s.value.clone()).collect(),
            mcp_tools: mcp_tools.iter().map(|s| s.value.clone()).collect(),
            skills: skills
                .as_ref()
                .map(|v| v.iter().map(|s| s.value.clone()).collect()),
            enable_skills,
            allow_parallel_tool_calls,
            agent_type,
            network,
            temperature,
            llm_model_name,
            max_reflection_count,
            hooks,
            location: Location::new(src, env.pos),
        },
        file,
        name_pos,
        tools,
        skills: skills.unwrap_or_default(),
        connectors,
        mcp_tools,
        handoffs,
        agents_as_tools,
    })
}

/// Names of agents, tools and connectors become tool names: letters, digits, `_`, `-`,
/// 1 to 64 characters.
pub(crate) fn check_name(
    name: &str,
    pos: super::yaml::Pos,
    field: &str,
    what: &str,
    src: &Source,
    out: &mut Sink,
) -> bool {
    let ok = !name.is_empty()
        && name.chars().count() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        out.error(
            src,
            pos,
            field,
            format!("invalid {what} name `{name}`: use 1 to 64 ASCII letters, digits, `_` or `-`"),
        );
    }
    ok
}
