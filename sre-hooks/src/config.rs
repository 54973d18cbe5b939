//! Loading hook definitions from YAML agent definitions and Claude Code settings JSON.
//!
//! YAML (`kind: AgentConfiguration` documents, several per file allowed, or a bare list of
//! hooks which are global):
//!
//! ```yaml
//! kind: AgentConfiguration
//! metadata:
//!   name: db-agent
//! spec:
//!   hooks:
//!     - name: safety
//!       event: PreToolUse
//!       type: command
//!       matcher: Bash|ExecuteShellCommand
//!       command: hooks/safety.py
//!       timeout: 10
//!       failMode: block
//! ```
//!
//! `spec.hooks` may also use the Claude Code nesting shown next.
//!
//! Claude Code settings (`{"hooks": {"<Event>": [{"matcher": ..., "hooks": [...]}]}}`); the
//! hooks are global. Our extension keys (`name`, `script`, `failMode`, `maxRejections`,
//! `activation`) are accepted inside the inner hook objects.
//!
//! Errors name the file, the path inside it and the field:
//! `agent.yaml: spec.hooks[2].timeout: must be between 1 and 300 seconds, got 0`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};
use sre_core::HookEvent;

use crate::error::HookError;
use crate::matcher::{ActivationMode, ToolMatcher};
use crate::output::kind;
use crate::registry::HookRegistry;
use crate::spec::{
    BuildContext, FailMode, HookKind, HookSpec, MAX_REJECTIONS_RANGE, TIMEOUT_RANGE,
};

/// Hook definitions by scope: global ones and per-agent ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HookConfig {
    /// Hooks of every agent (run first).
    pub global: Vec<HookSpec>,
    /// Hooks of one agent, by agent name (run after the global ones).
    pub agents: BTreeMap<String, Vec<HookSpec>>,
}

impl HookConfig {
    /// Load a file: `.json` files are Claude Code settings, anything else YAML.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, HookError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| HookError::io(path, e))?;
        let origin = path.display().to_string();
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        {
            Self::from_settings_json(&text, &origin)
        } else {
            Self::from_yaml(&text, &origin)
        }
    }

    /// Parse YAML agent definitions; `origin` names the file in errors.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Self, HookError> {
        use serde::Deserialize;
        let mut docs = Vec::new();
        for (i, doc) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
            let value = Value::deserialize(doc).map_err(|e| {
                let at = e
                    .location()
                    .map(|l| format!(":{}:{}", l.line(), l.column()))
                    .unwrap_or_default();
                HookError::config(
                    format!("{origin}{at}"),
                    format!("document {}: invalid YAML: {e}", i + 1),
                )
            })?;
            docs.push(value);
        }
        let multi = docs.len() > 1;
        let mut config = HookConfig::default();
        for (i, doc) in docs.iter().enumerate() {
            let file = if multi {
                format!("{origin} (document {})", i + 1)
            } else {
                origin.to_string()
            };
            match doc {
                Value::Null => {}
                Value::Array(items) => {
                    for (j, item) in items.iter().enumerate() {
                        config.global.push(parse_hook(
                            item,
                            &Loc::new(&file, format!("[{j}]")),
                            None,
                            true,
                        )?);
                    }
                }
                Value::Object(obj) => {
                    let (agent, hooks) = parse_agent_document(obj, &file)?;
                    match agent {
                        Some(agent) => config.agents.entry(agent).or_default().extend(hooks),
                        None => config.global.extend(hooks),
                    }
                }
                other => {
                    return Err(HookError::config(
                        format!("{file}: (root)"),
                        format!(
                            "expected an AgentConfiguration mapping or a list of hooks, got {}",
                            kind(other)
                        ),
                    ));
                }
            }
        }
        Ok(config)
    }

    /// Parse Claude Code settings JSON; `origin` names the file in errors. All hooks are
    /// global (use [`HookConfig::into_agent`] to scope them to one agent).
    pub fn from_settings_json(text: &str, origin: &str) -> Result<Self, HookError> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            HookError::config(
                format!("{origin}:{}:{}", e.line(), e.column()),
                format!("invalid JSON: {e}"),
            )
        })?;
        let root = value.as_object().ok_or_else(|| {
            HookError::config(format!("{origin}: (root)"), "expected a JSON object")
        })?;
        let mut config = HookConfig::default();
        let Some(hooks) = root.get("hooks").filter(|v| !v.is_null()) else {
            return Ok(config);
        };
        let hooks = hooks.as_object().ok_or_else(|| {
            HookError::config(
                format!("{origin}: hooks"),
                format!("expected an object, got {}", kind(hooks)),
            )
        })?;
        config.global = parse_event_map(hooks, &Loc::new(origin, "hooks".into()), false)?;
        Ok(config)
    }

    /// Move every global hook to `agent`'s scope (e.g. settings JSON meant for one agent).
    pub fn into_agent(mut self, agent: &str) -> Self {
        let global = std::mem::take(&mut self.global);
        let entry = self.agents.entry(agent.to_string()).or_default();
        let mut scoped = global;
        scoped.append(entry);
        *entry = scoped;
        self
    }

    /// Append `other`'s hooks after this config's, scope by scope.
    pub fn merge(&mut self, other: HookConfig) {
        self.global.extend(other.global);
        for (agent, hooks) in other.agents {
            self.agents.entry(agent).or_default().extend(hooks);
        }
    }

    /// Every hook with its scope (`None` = global).
    pub fn iter(&self) -> impl Iterator<Item = (Option<&str>, &HookSpec)> {
        self.global.iter().map(|h| (None, h)).chain(
            self.agents
                .iter()
                .flat_map(|(a, hs)| hs.iter().map(move |h| (Some(a.as_str()), h))),
        )
    }

    /// Build every hook into a registry.
    pub fn build(&self, ctx: &BuildContext) -> Result<HookRegistry, HookError> {
        HookRegistry::from_config(self, ctx)
    }
}

/// A position inside a config file, for errors.
#[derive(Clone)]
struct Loc {
    file: String,
    path: String,
}

impl Loc {
    fn new(file: &str, path: String) -> Self {
        Loc {
            file: file.to_string(),
            path,
        }
    }
    fn field(&self, name: &str) -> Self {
        let path = if self.path.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.path)
        };
        Loc {
            file: self.file.clone(),
            path,
        }
    }
    fn index(&self, i: usize) -> Self {
        Loc {
            file: self.file.clone(),
            path: format!("{}[{i}]", self.path),
        }
    }
    fn err(&self, message: impl Into<String>) -> HookError {
        let path = if self.path.is_empty() {
            "(root)"
        } else {
            &self.path
        };
        HookError::config(format!("{}: {path}", self.file), message)
    }
}

/// Parse the Claude Code nesting `{"<Event>": [{"matcher": ..., "hooks": [...]}]}` at `at`.
fn parse_event_map(
    hooks: &Map<String, Value>,
    at: &Loc,
    strict: bool,
) -> Result<Vec<HookSpec>, HookError> {
    let mut out = Vec::new();
    for (event_name, groups) in hooks {
        let loc = at.field(event_name);
        let event =
            HookEvent::parse(event_name).ok_or_else(|| loc.err(unknown_event(event_name)))?;
        let groups = groups
            .as_array()
            .ok_or_else(|| loc.err(format!("expected a list, got {}", kind(groups))))?;
        for (g, group) in groups.iter().enumerate() {
            let gloc = loc.index(g);
            let gobj = group
                .as_object()
                .ok_or_else(|| gloc.err(format!("expected an object, got {}", kind(group))))?;
            let matcher = match gobj.get("matcher") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(v) => {
                    return Err(gloc
                        .field("matcher")
                        .err(format!("must be a string, got {}", kind(v))));
                }
            };
            if let Some(m) = &matcher {
                check_matcher(m, &gloc.field("matcher"), None)?;
            }
            let entries = match gobj.get("hooks") {
                Some(Value::Array(a)) => a,
                Some(v) => {
                    return Err(gloc
                        .field("hooks")
                        .err(format!("must be a list, got {}", kind(v))));
                }
                None => {
                    return Err(gloc
                        .field("hooks")
                        .err("missing (the list of hooks of this matcher)"));
                }
            };
            for (h, entry) in entries.iter().enumerate() {
                let hloc = gloc.field("hooks").index(h);
                out.push(parse_hook(
                    entry,
                    &hloc,
                    Some((event, matcher.clone())),
                    strict,
                )?);
            }
        }
    }
    Ok(out)
}

fn unknown_event(name: &str) -> String {
    let known: Vec<&str> = HookEvent::ALL.iter().map(|e| e.as_str()).collect();
    format!(
        "unknown event {name:?} (expected one of {})",
        known.join(", ")
    )
}

fn check_matcher(m: &str, loc: &Loc, hook: Option<&str>) -> Result<(), HookError> {
    let of = hook.map(|h| format!(" (hook `{h}`)")).unwrap_or_default();
    ToolMatcher::new(Some(m))
        .map(|_| ())
        .map_err(|e| loc.err(format!("invalid regex {m:?}{of}: {e}")))
}

fn parse_agent_document(
    obj: &Map<String, Value>,
    file: &str,
) -> Result<(Option<String>, Vec<HookSpec>), HookError> {
    let root = Loc::new(file, String::new());
    if let Some(k) = obj.get("kind") {
        match k.as_str() {
            Some("AgentConfiguration") | Some("HookConfiguration") => {}
            Some(other) => {
                return Err(root.field("kind").err(format!(
                    "expected `AgentConfiguration` (or `HookConfiguration` for global hooks), got {other:?}"
                )));
            }
            None => {
                return Err(root
                    .field("kind")
                    .err(format!("must be a string, got {}", kind(k))));
            }
        }
    }
    let is_global = obj.get("kind").and_then(Value::as_str) == Some("HookConfiguration");
    let name = obj
        .get("metadata")
        .and_then(|m| m.get("name"))
        .or_else(|| obj.get("name"))
        .or_else(|| obj.get("spec").and_then(|s| s.get("name")));
    let agent = match name {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(v) => {
            return Err(root
                .field("metadata.name")
                .err(format!("must be a string, got {}", kind(v))));
        }
    };
    let agent = if is_global {
        None
    } else {
        Some(agent.ok_or_else(|| {
            root.field("metadata.name")
                .err("missing: an AgentConfiguration needs a name")
        })?)
    };
    let Some(spec) = obj.get("spec").filter(|v| !v.is_null()) else {
        return Ok((agent, Vec::new()));
    };
    let spec_loc = root.field("spec");
    let spec = spec
        .as_object()
        .ok_or_else(|| spec_loc.err(format!("expected a mapping, got {}", kind(spec))))?;
    let hooks_loc = spec_loc.field("hooks");
    let hooks = match spec.get("hooks") {
        None | Some(Value::Null) => return Ok((agent, Vec::new())),
        Some(Value::Array(a)) => a,
        // The Claude Code nesting, inside a YAML agent definition.
        Some(Value::Object(map)) => return Ok((agent, parse_event_map(map, &hooks_loc, true)?)),
        Some(v) => return Err(hooks_loc.err(format!("must be a list, got {}", kind(v)))),
    };
    let mut out = Vec::with_capacity(hooks.len());
    for (i, h) in hooks.iter().enumerate() {
        out.push(parse_hook(h, &hooks_loc.index(i), None, true)?);
    }
    Ok((agent, out))
}

const YAML_KEYS: &[&str] = &[
    "name",
    "description",
    "event",
    "type",
    "matcher",
    "command",
    "script",
    "prompt",
    "timeout",
    "failMode",
    "fail_mode",
    "maxRejections",
    "max_rejections",
    "activation",
];

/// Parse one hook object. `outer` is the event and matcher given by the settings-JSON
/// nesting; YAML hooks carry their own. `strict` rejects unknown keys (YAML: a typo such as
/// `failmode: block` must not silently fail open).
fn parse_hook(
    value: &Value,
    loc: &Loc,
    outer: Option<(HookEvent, Option<String>)>,
    strict: bool,
) -> Result<HookSpec, HookError> {
    let obj = value
        .as_object()
        .ok_or_else(|| loc.err(format!("a hook must be a mapping, got {}", kind(value))))?;
    if strict && let Some(k) = obj.keys().find(|k| !YAML_KEYS.contains(&k.as_str())) {
        return Err(loc.field(k).err(format!(
            "unknown field (expected one of {})",
            YAML_KEYS.join(", ")
        )));
    }
    let string = |key: &str| -> Result<Option<String>, HookError> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(loc
                .field(key)
                .err(format!("must be a string, got {}", kind(v)))),
        }
    };
    let either =
        |a: &'static str, b: &'static str| -> Result<(Option<String>, &'static str), HookError> {
            match string(a)? {
                Some(v) => Ok((Some(v), a)),
                None => Ok((string(b)?, b)),
            }
        };

    let (event, matcher) = match outer {
        Some((event, matcher)) => (event, matcher),
        None => {
            let event_name = string("event")?.ok_or_else(|| loc.field("event").err("missing"))?;
            let event = HookEvent::parse(&event_name)
                .ok_or_else(|| loc.field("event").err(unknown_event(&event_name)))?;
            let matcher = string("matcher")?;
            if let Some(m) = &matcher {
                check_matcher(
                    m,
                    &loc.field("matcher"),
                    obj.get("name").and_then(Value::as_str),
                )?;
            }
            (event, matcher)
        }
    };

    let command = string("command")?;
    let script = string("script")?;
    let prompt = string("prompt")?;
    let ty = match string("type")? {
        Some(t) => t,
        None if prompt.is_some() && command.is_none() && script.is_none() => "prompt".into(),
        None => "command".into(),
    };
    let non_empty = |s: Option<String>, key: &str| -> Result<Option<String>, HookError> {
        match s {
            Some(s) if s.trim().is_empty() => Err(loc.field(key).err("must not be empty")),
            other => Ok(other),
        }
    };
    let command = non_empty(command, "command")?;
    let script = non_empty(script, "script")?;
    let prompt = non_empty(prompt, "prompt")?;
    let hook_kind = match ty.as_str() {
        "command" => match (command, script) {
            (Some(command), None) => HookKind::Command { command },
            (None, Some(script)) => HookKind::Script { script },
            (Some(_), Some(_)) => {
                return Err(loc
                    .field("script")
                    .err("give either `command` or `script`, not both"));
            }
            (None, None) => {
                return Err(loc
                    .field("command")
                    .err("missing: a command hook needs `command` (or an inline `script`)"));
            }
        },
        "prompt" => match prompt {
            Some(prompt) => HookKind::Prompt { prompt },
            None => {
                return Err(loc
                    .field("prompt")
                    .err("missing: a prompt hook needs `prompt`"));
            }
        },
        other => {
            return Err(loc
                .field("type")
                .err(format!("must be \"command\" or \"prompt\", got {other:?}")));
        }
    };

    let mut spec = HookSpec::new(event, matcher, hook_kind);
    if let Some(name) = string("name")? {
        if name.trim().is_empty() {
            return Err(loc.field("name").err("must not be empty"));
        }
        spec.name = name;
    }
    if let Some(v) = obj.get("timeout").filter(|v| !v.is_null()) {
        let l = loc.field("timeout");
        let n = v.as_u64().ok_or_else(|| {
            l.err(format!(
                "must be a whole number of seconds between 1 and 300, got {v}"
            ))
        })?;
        spec.timeout_secs = u32::try_from(n)
            .ok()
            .filter(|n| TIMEOUT_RANGE.contains(n))
            .ok_or_else(|| l.err(format!("must be between 1 and 300 seconds, got {n}")))?;
    }
    let (fm, fm_key) = either("failMode", "fail_mode")?;
    if let Some(fm) = fm {
        spec.fail_mode = FailMode::parse(&fm).ok_or_else(|| {
            loc.field(fm_key)
                .err(format!("must be \"allow\" or \"block\", got {fm:?}"))
        })?;
    }
    let mr_key = if obj.contains_key("maxRejections") {
        "maxRejections"
    } else {
        "max_rejections"
    };
    if let Some(v) = obj.get(mr_key).filter(|v| !v.is_null()) {
        let l = loc.field(mr_key);
        let n = v
            .as_u64()
            .ok_or_else(|| l.err(format!("must be a whole number between 1 and 25, got {v}")))?;
        spec.max_rejections = u32::try_from(n)
            .ok()
            .filter(|n| MAX_REJECTIONS_RANGE.contains(n))
            .ok_or_else(|| l.err(format!("must be between 1 and 25, got {n}")))?;
    }
    if let Some(a) = string("activation")? {
        spec.activation = ActivationMode::parse(&a).ok_or_else(|| {
            loc.field("activation")
                .err(format!("must be \"always\" or \"on-demand\", got {a:?}"))
        })?;
        if spec.activation == ActivationMode::OnDemand && !obj.contains_key("name") {
            return Err(loc.field("name").err(
                "missing: an on-demand hook needs a `name` (the key Activation::enable takes)",
            ));
        }
    }
    Ok(spec)
}
