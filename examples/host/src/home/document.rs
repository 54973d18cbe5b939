//! One YAML document: its envelope (`api_version`, `kind`, `metadata`, `spec`) and the
//! dispatch by `kind`.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::diag::{Severity, Sink, Source, did_you_mean, suggestion};
use super::fields::{Fields, Spanned, snake};
use super::yaml::{Node, Pos};
use super::{
    Loaded, Location, UnusedDocument, agent, connector, hooks, plan, schedule, skill, tool, world,
};

/// Every `kind` the loader reads.
pub const KINDS: &[&str] = &[
    "AgentConfiguration",
    "ExtendedAgent",
    "SkillConfiguration",
    "Skill",
    "PythonTool",
    "ExtendedAgentTool",
    "ToolList",
    "DataConnector",
    "McpConnector",
    "HookConfiguration",
    "Workspace",
    "IncidentFilter",
    "ScheduledTask",
];

/// Largest text file read by name (prompts, tool code).
pub const MAX_TEXT_FILE: u64 = 1024 * 1024;

/// The envelope of a document.
pub(crate) struct Envelope<'n> {
    pub kind: &'n str,
    pub api_version: Option<String>,
    pub metadata: BTreeMap<String, Json>,
    /// `metadata.name`, if given.
    pub meta_name: Option<Spanned>,
    pub spec: Option<&'n Node>,
    /// The document's position.
    pub pos: Pos,
}

impl Envelope<'_> {
    /// The document's name: `spec.name`, else `metadata.name`; missing is an error naming
    /// `what` ("a response plan").
    pub(crate) fn spec_name(
        &self,
        f: &mut Fields<'_>,
        what: &str,
        src: &Source,
        out: &mut Sink,
    ) -> Option<String> {
        match (
            f.take(&["name"], src, out).and_then(|x| x.string(src, out)),
            &self.meta_name,
        ) {
            (Some(n), _) => Some(n),
            (None, Some(m)) => Some(m.value.clone()),
            (None, None) => {
                out.error(
                    src,
                    f.pos(),
                    "spec.name",
                    format!("missing: {what} needs a name"),
                );
                None
            }
        }
    }
}

/// Load one document of `src` into `loaded`.
pub(crate) fn load_document(
    root: &Node,
    file: usize,
    src: &Source,
    out: &mut Sink,
    loaded: &mut Loaded,
) {
    if root.is_null() || root.entries().is_none() {
        // Not one of ours (a list, a scalar): data files may live in the home.
        return;
    }
    let Some(kind_entry) = root.get("kind") else {
        if root.get("connectors").is_some() {
            connector::parse_mcp_config(root, file, src, out, loaded);
        }
        // Files without a kind (topology, data) are not home documents.
        return;
    };
    let Some(kind) = kind_entry.value.as_str() else {
        out.error(
            src,
            kind_entry.value.pos,
            "kind",
            format!("expected a string, got {}", kind_entry.value.kind_name()),
        );
        return;
    };
    let Some(mut top) = Fields::of(root, "", src, out) else {
        return;
    };
    let _ = top.take(&["kind"], src, out);
    let api_version = top
        .take(&["api_version"], src, out)
        .and_then(|f| f.text(src, out));
    let (metadata, meta_name) = match top.take(&["metadata"], src, out) {
        Some(m) => read_metadata(m.node, src, out),
        None => (BTreeMap::new(), None),
    };
    let spec = top.take(&["spec"], src, out).map(|f| f.node);
    let known_kind = KINDS.contains(&kind);
    if known_kind {
        top.finish(
            &["api_version", "kind", "metadata", "spec"],
            &[],
            false,
            src,
            out,
        );
    }
    let env = Envelope {
        kind,
        api_version,
        metadata,
        meta_name,
        spec,
        pos: root.pos,
    };
    if !known_kind {
        unknown_kind(&env, kind_entry.value.pos, src, out);
        return;
    }
    if env.spec.is_none() {
        out.error(
            src,
            root.pos,
            "spec",
            format!("missing: a {kind} needs a `spec`"),
        );
        return;
    }
    match kind {
        "AgentConfiguration" | "ExtendedAgent" => {
            if let Some(a) = agent::parse_agent(&env, file, src, out) {
                loaded.agents.push(a);
            }
        }
        "SkillConfiguration" | "Skill" => {
            if let Some(s) = skill::parse_skill_configuration(&env, file, src, out) {
                loaded.skills.push(s);
            }
        }
        "PythonTool" | "ExtendedAgentTool" | "ToolList" => {
            tool::parse_tool_document(&env, file, src, out, loaded);
        }
        "DataConnector" | "McpConnector" => {
            if let Some(c) = connector::parse_connector_document(&env, file, src, out) {
                loaded.connectors.push(c);
            }
        }
        "HookConfiguration" => {
            if let Some(spec) = env.spec
                && let Some(mut f) = Fields::of(spec, "spec", src, out)
            {
                if let Some(h) = f.take(&["hooks"], src, out) {
                    let cfg = hooks::parse_hooks(h.node, &f.path_of(h.key), None, src, out);
                    loaded.global_hooks.merge(cfg);
                }
                f.finish(&["hooks"], &[], false, src, out);
            }
        }
        "Workspace" => world::parse_workspace(&env, src, out, loaded),
        "IncidentFilter" => {
            if let Some(p) = plan::parse_plan(&env, file, src, out) {
                loaded.plans.push(p);
            }
        }
        "ScheduledTask" => {
            if let Some(s) = schedule::parse_schedule(&env, file, src, out) {
                loaded.schedules.push(s);
            }
        }
        _ => {
            // ScheduledTask: kept for the scheduler.
            let name = env.meta_name.as_ref().map(|n| n.value.clone()).or_else(|| {
                env.spec
                    .and_then(|s| s.get("name"))
                    .and_then(|e| e.value.as_str())
                    .map(str::to_string)
            });
            out.at(
                Severity::Note,
                src,
                root.pos,
                "kind",
                format!(
                    "`{kind}` documents are kept but not used yet (scheduled tasks come later)"
                ),
            );
            loaded.unused.push(UnusedDocument {
                kind: kind.to_string(),
                name,
                value: root.to_json(),
                location: Location::new(src, root.pos),
            });
        }
    }
}

fn unknown_kind(env: &Envelope<'_>, pos: Pos, src: &Source, out: &mut Sink) {
    let ours = env
        .api_version
        .as_deref()
        .is_some_and(|v| v.starts_with("azuresre.ai") || v.starts_with("sre-harness"));
    let near = did_you_mean(env.kind, KINDS.iter().copied());
    let msg = format!("unknown kind `{}`", env.kind);
    if ours || near.is_some() {
        let d = out.error(src, pos, "kind", msg);
        match near {
            Some(k) => d.help(format!("did you mean `{k}`?")),
            None => d.help(format!("expected one of: {}", KINDS.join(", "))),
        };
    } else {
        out.warn(src, pos, "kind", format!("{msg}: the document is skipped"));
    }
}

fn read_metadata(
    node: &Node,
    src: &Source,
    out: &mut Sink,
) -> (BTreeMap<String, Json>, Option<Spanned>) {
    let Some(entries) = node.entries() else {
        if !node.is_null() {
            out.error(
                src,
                node.pos,
                "metadata",
                format!("expected a mapping, got {}", node.kind_name()),
            );
        }
        return (BTreeMap::new(), None);
    };
    let mut name = None;
    let mut map = BTreeMap::new();
    for e in entries {
        if snake(&e.key) == "name" && !e.value.is_null() {
            match e.value.as_str() {
                Some(s) => {
                    name = Some(Spanned {
                        value: s.to_string(),
                        pos: e.value.pos,
                        field: "metadata.name".into(),
                    })
                }
                None => {
                    out.error(
                        src,
                        e.value.pos,
                        "metadata.name",
                        format!("expected a string, got {}", e.value.kind_name()),
                    );
                }
            }
        }
        let value = match e.value.scalar_text() {
            Some(t) if snake(&e.key) == "version" => Json::String(t.to_string()),
            _ => e.value.to_json(),
        };
        map.insert(e.key.clone(), value);
    }
    (map, name)
}

/// `value` itself, or the content of the file it names: a single word ending in `.md` or
/// `.txt`, relative to the YAML file. A named file that is missing is an error.
pub(crate) fn text_or_file(
    value: &str,
    pos: Pos,
    field: &str,
    src: &Source,
    out: &mut Sink,
) -> Option<String> {
    let v = value.trim();
    let is_path = !v.contains(char::is_whitespace)
        && [".md", ".txt"]
            .iter()
            .any(|ext| v.to_ascii_lowercase().ends_with(ext));
    if !is_path {
        return Some(value.to_string());
    }
    read_text(&src.join(v), pos, field, src, out)
}

/// Read a text file named in `src` at `pos` (errors point there).
pub(crate) fn read_text(
    path: &std::path::Path,
    pos: Pos,
    field: &str,
    src: &Source,
    out: &mut Sink,
) -> Option<String> {
    let meta = match std::fs::metadata(path) {
        Ok(m) if m.is_file() => m,
        Ok(_) | Err(_) => {
            let d = out.error(
                src,
                pos,
                field,
                format!("file not found: {}", path.display()),
            );
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let siblings: Vec<String> = path
                .parent()
                .and_then(|p| std::fs::read_dir(p).ok())
                .map(|rd| {
                    rd.filter_map(Result::ok)
                        .take(500)
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            match suggestion(&name, siblings.iter().map(String::as_str)) {
                Some(h) => d.help(h),
                None => d.help("paths are relative to the YAML file that names them"),
            };
            return None;
        }
    };
    if meta.len() > MAX_TEXT_FILE {
        out.error(
            src,
            pos,
            field,
            format!(
                "{} is {} bytes (at most {MAX_TEXT_FILE})",
                path.display(),
                meta.len()
            ),
        );
        return None;
    }
    if let Err(message) = super::diag::inside_home(&src.home, path) {
        out.error(src, pos, field, message);
        return None;
    }
    match std::fs::read_to_string(path) {
        Ok(t) => Some(t),
        Err(e) => {
            out.error(
                src,
                pos,
                field,
                format!("cannot read {}: {e}", path.display()),
            );
            None
        }
    }
}
