//! Checks across documents: unique names per kind, every reference resolves (tools,
//! skills, connectors, handoff and agents-as-tools targets), no agents-as-tools cycle.

use std::collections::{BTreeMap, BTreeSet};

use super::agent::{AgentDef, AgentDraft};
use super::builtin::{self, builtin_tool};
use super::connector::{ConnectorDef, ConnectorDraft};
use super::diag::{Sink, Source, did_you_mean};
use super::fields::Spanned;
use super::skill::{SkillDef, SkillDraft};
use super::tool::{PythonToolDef, ToolDraft};
use super::yaml::Pos;
use super::{Location, ToolRef};

/// What the home defines, by name.
pub(crate) struct Resolved {
    pub agents: BTreeMap<String, AgentDef>,
    pub skills: BTreeMap<String, SkillDef>,
    pub tools: BTreeMap<String, PythonToolDef>,
    pub connectors: BTreeMap<String, ConnectorDef>,
}

/// Keep the first of each name; a second is an error naming both places.
fn unique<T>(
    items: Vec<T>,
    what: &str,
    key: impl Fn(&T) -> (&str, usize, Pos, &Location),
    sources: &[Source],
    out: &mut Sink,
) -> BTreeMap<String, T> {
    let mut map: BTreeMap<String, T> = BTreeMap::new();
    for item in items {
        let (name, file, pos, loc) = key(&item);
        if let Some(first) = map.get(name) {
            let first_loc = key(first).3.clone();
            out.error(
                &sources[file],
                pos,
                "name",
                format!("{what} `{name}` is defined twice"),
            )
            .help(format!("first defined at {first_loc}; this one at {loc}"));
            continue;
        }
        map.insert(name.to_string(), item);
    }
    map
}

pub(crate) fn resolve(
    agents: Vec<AgentDraft>,
    skills: Vec<SkillDraft>,
    tools: Vec<ToolDraft>,
    connectors: Vec<ConnectorDraft>,
    sources: &[Source],
    out: &mut Sink,
) -> Resolved {
    let tools = unique(
        tools,
        "tool",
        |t| (&t.def.name, t.file, t.name_pos, &t.def.location),
        sources,
        out,
    );
    for t in tools.values() {
        if builtin_tool(&t.def.name).is_some() {
            out.error(
                &sources[t.file],
                t.name_pos,
                "name",
                format!("`{}` is the name of a built-in tool", t.def.name),
            )
            .help("give the Python tool another name");
        }
    }
    let connectors = unique(
        connectors,
        "connector",
        |c| (&c.def.name, c.file, c.name_pos, &c.def.location),
        sources,
        out,
    );
    let skills = unique(
        skills,
        "skill",
        |s| (&s.def.name, s.file, s.name_pos, &s.def.location),
        sources,
        out,
    );
    let agents = unique(
        agents,
        "agent",
        |a| (&a.def.name, a.file, a.name_pos, &a.def.location),
        sources,
        out,
    );

    let r = Refs {
        tools: &tools,
        connectors: &connectors,
        skills: &skills,
        agents: &agents,
    };
    let mut out_skills = BTreeMap::new();
    for (name, s) in &skills {
        let src = &sources[s.file];
        let mut def = s.def.clone();
        def.tools = s.tools.iter().filter_map(|t| r.tool(t, src, out)).collect();
        for c in &s.connectors {
            r.connector(c, src, out);
        }
        for t in &s.allowed_tools {
            r.allowed_tool(t, src, out);
        }
        out_skills.insert(name.clone(), def);
    }
    let mut out_agents = BTreeMap::new();
    for (name, a) in &agents {
        let src = &sources[a.file];
        let mut def = a.def.clone();
        def.tools = a.tools.as_ref().map(|list| {
            let mut seen = BTreeSet::new();
            let mut v = Vec::new();
            for t in list {
                if let Some(tr) = r.tool(t, src, out) {
                    if seen.insert(tr.clone()) {
                        v.push(tr);
                    } else {
                        out.warn(
                            src,
                            t.pos,
                            &t.field,
                            format!("`{}` is listed twice", t.value),
                        );
                    }
                }
            }
            v
        });
        for s in &a.skills {
            r.named(s, "skill", r.skills.keys(), src, out);
        }
        for c in &a.connectors {
            r.connector(c, src, out);
        }
        for g in &a.mcp_tools {
            r.mcp_glob(g, src, out);
        }
        for (list, what) in [
            (&a.handoffs, "handoff"),
            (&a.agents_as_tools, "agents_as_tools"),
        ] {
            for t in list {
                if t.value == *name {
                    out.error(src, t.pos, &t.field, format!("`{name}` names itself"))
                        .help(format!("an agent cannot be its own {what} target"));
                    continue;
                }
                if r.named(t, "agent", r.agents.keys(), src, out)
                    && what == "handoff"
                    && let Some(target) = agents.get(&t.value)
                    && target.def.handoff_description.is_none()
                {
                    out.warn(
                        src,
                        t.pos,
                        &t.field,
                        format!("`{}` has no `handoff_description`: only its name tells when to hand off to it", t.value),
                    );
                }
            }
        }
        out_agents.insert(name.clone(), def);
    }
    check_cycles(&agents, sources, out);
    Resolved {
        agents: out_agents,
        skills: out_skills,
        tools: tools.into_iter().map(|(k, v)| (k, v.def)).collect(),
        connectors: connectors.into_iter().map(|(k, v)| (k, v.def)).collect(),
    }
}

struct Refs<'a> {
    tools: &'a BTreeMap<String, ToolDraft>,
    connectors: &'a BTreeMap<String, ConnectorDraft>,
    skills: &'a BTreeMap<String, SkillDraft>,
    agents: &'a BTreeMap<String, AgentDraft>,
}

impl Refs<'_> {
    /// `mcp__<connector>__<tool>` with a known connector.
    fn mcp(&self, name: &str) -> Option<ToolRef> {
        let rest = name.strip_prefix("mcp__")?;
        let (connector, tool) = rest.split_once("__")?;
        self.connectors
            .contains_key(connector)
            .then(|| ToolRef::Mcp {
                connector: connector.to_string(),
                tool: tool.to_string(),
            })
    }

    /// Every name a tool may be listed by.
    fn tool_names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = builtin::all_names().collect();
        v.extend(self.tools.keys().map(String::as_str));
        v
    }

    fn lookup(&self, name: &str) -> Option<ToolRef> {
        if let Some(b) = builtin_tool(name) {
            return Some(ToolRef::Builtin(b.to_string()));
        }
        if self.tools.contains_key(name) {
            return Some(ToolRef::Python(name.to_string()));
        }
        self.mcp(name)
    }

    fn tool(&self, t: &Spanned, src: &Source, out: &mut Sink) -> Option<ToolRef> {
        if let Some(r) = self.lookup(&t.value) {
            return Some(r);
        }
        let d = out.error(src, t.pos, &t.field, format!("unknown tool `{}`", t.value));
        if let Some(c) = did_you_mean(&t.value, self.tool_names()) {
            d.help(format!("did you mean `{c}`?"));
        } else if self.skills.contains_key(&t.value) {
            d.help(format!("`{}` is a skill: list it under `skills`", t.value));
        } else if self.connectors.contains_key(&t.value) {
            d.help(format!(
                "`{}` is a connector: list it under `mcp_connectors`",
                t.value
            ));
        } else {
            d.help("tools are built-in names (e.g. `grep`, `Bash`), Python tools of this home, or `mcp__<connector>__<tool>`");
        }
        None
    }

    /// An `allowed-tools` entry (`Bash(git:*)`): unknown ones are warnings (the field is
    /// experimental and other tools' names are common).
    fn allowed_tool(&self, t: &Spanned, src: &Source, out: &mut Sink) {
        let base = t.value.split('(').next().unwrap_or("");
        if self.lookup(base).is_some() || base.starts_with("mcp__") && self.mcp(base).is_some() {
            return;
        }
        if let Some(rest) = base.strip_prefix("mcp__") {
            let connector = rest.split("__").next().unwrap_or("");
            let d = out.warn(
                src,
                t.pos,
                &t.field,
                format!("`{base}` names connector `{connector}`, which this home does not define"),
            );
            if let Some(c) = did_you_mean(connector, self.connectors.keys().map(String::as_str)) {
                d.help(format!("did you mean `{c}`?"));
            }
            return;
        }
        let d = out.warn(
            src,
            t.pos,
            &t.field,
            format!("unknown tool `{base}` in allowed-tools (not enforced)"),
        );
        if let Some(c) = did_you_mean(base, self.tool_names()) {
            d.help(format!("did you mean `{c}`?"));
        }
    }

    fn named<'k>(
        &self,
        s: &Spanned,
        what: &str,
        names: impl Iterator<Item = &'k String> + Clone,
        src: &Source,
        out: &mut Sink,
    ) -> bool {
        named(s, what, names, src, out)
    }

    fn connector(&self, c: &Spanned, src: &Source, out: &mut Sink) -> bool {
        self.named(c, "connector", self.connectors.keys(), src, out)
    }

    /// `connector/glob` or `mcp__connector__glob`.
    fn mcp_glob(&self, g: &Spanned, src: &Source, out: &mut Sink) {
        let connector = match g.value.strip_prefix("mcp__") {
            Some(rest) => rest.split("__").next(),
            None => g.value.split_once('/').map(|(c, _)| c),
        };
        let Some(connector) = connector.filter(|c| !c.is_empty()) else {
            out.error(
                src,
                g.pos,
                &g.field,
                format!("`{}` names no connector", g.value),
            )
            .help("write `<connector>/<tool glob>`, e.g. `github-mcp/*`");
            return;
        };
        if connector.contains('*') {
            return;
        }
        let s = Spanned {
            value: connector.to_string(),
            pos: g.pos,
            field: g.field.clone(),
        };
        self.connector(&s, src, out);
    }
}

/// An agents-as-tools cycle (a calls b calls a) would assemble forever: an error at the
/// reference that closes it.
fn check_cycles(agents: &BTreeMap<String, AgentDraft>, sources: &[Source], out: &mut Sink) {
    let mut state: BTreeMap<&str, u8> = BTreeMap::new(); // 1 = on the path, 2 = done
    for start in agents.keys() {
        if state.contains_key(start.as_str()) {
            continue;
        }
        // Iterative DFS: (agent, next child index).
        let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
        state.insert(start, 1);
        while let Some((name, i)) = stack.pop() {
            let Some(a) = agents.get(name) else { continue };
            let Some(next) = a.agents_as_tools.get(i) else {
                state.insert(name, 2);
                continue;
            };
            stack.push((name, i + 1));
            let Some((target, _)) = agents.get_key_value(&next.value) else {
                continue;
            };
            if target == name {
                // Reported as "names itself".
                continue;
            }
            match state.get(target.as_str()) {
                Some(1) => {
                    let mut path: Vec<&str> = stack.iter().map(|(n, _)| *n).collect();
                    if let Some(at) = path.iter().position(|n| *n == target) {
                        path.drain(..at);
                    }
                    path.push(target);
                    out.error(
                        &sources[a.file],
                        next.pos,
                        &next.field,
                        format!("agents_as_tools cycle: {}", path.join(" -> ")),
                    )
                    .help("an agent cannot (indirectly) call itself as a tool");
                }
                Some(_) => {}
                None => {
                    state.insert(target, 1);
                    stack.push((target, 0));
                }
            }
        }
    }
}

/// Whether `s` names one of `names` (a `what`: agent, connector...); if not, an error at
/// its place with a "did you mean" or the known names.
pub(crate) fn named<'k>(
    s: &Spanned,
    what: &str,
    names: impl Iterator<Item = &'k String> + Clone,
    src: &Source,
    out: &mut Sink,
) -> bool {
    if names.clone().any(|n| *n == s.value) {
        return true;
    }
    let d = out.error(
        src,
        s.pos,
        &s.field,
        format!("unknown {what} `{}`", s.value),
    );
    match did_you_mean(&s.value, names.clone().map(String::as_str)) {
        Some(c) => d.help(format!("did you mean `{c}`?")),
        None => {
            let list: Vec<&str> = names.map(String::as_str).take(20).collect();
            if list.is_empty() {
                d.help(format!("this home defines no {what}"))
            } else {
                d.help(format!("known: {}", list.join(", ")))
            }
        }
    };
    false
}
