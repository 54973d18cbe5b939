//! Loading hook definitions from YAML agent definitions and Claude Code settings JSON.
//!
//! YAML (`kind: AgentConfiguration` or `ExtendedAgent` documents, several per file allowed,
//! `kind: HookConfiguration` documents or a bare list of hooks, which are global):
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
//! The two formats differ in what `PostToolUse` means ([`HookFormat`](crate::HookFormat)):
//! a hook from YAML (the Azure SRE Agent's format, which has no `PostToolUseFailure`) also
//! runs after failed calls and is told `"hook_event_name": "PostToolUse"`,
//! `"tool_succeeded": false`; a hook from Claude Code settings keeps Claude's meaning
//! (successful calls only; failed ones are `PostToolUseFailure`).
//!
//! Claude Code settings (`{"hooks": {"<Event>": [{"matcher": ..., "hooks": [...]}]}}`); the
//! hooks are global. Our extension keys (`name`, `script`, `failMode`, `maxRejections`,
//! `activation`, and `type: allowlist` with `allow`...) are accepted inside the inner hook
//! objects. A Claude Code plugin folder loads with [`HookConfig::from_plugin_dir`].
//!
//! Errors name the file, the path inside it and the field:
//! `agent.yaml: spec.hooks[2].timeout: must be between 1 and 300 seconds, got 0`.
//!
//! Claude Code's format evolves (it has more events than sre-core implements): in settings
//! JSON and plugin files, an event or hook type we do not implement is skipped with a
//! [`ConfigWarning`] in [`HookConfig::warnings`] (e.g. `settings.json: hooks.Notification:
//! ...`), and the rest loads. In YAML, our own strict format, it is an error.

mod hook;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};
use sre_core::HookEvent;

use self::hook::{Loc, check_matcher, implemented_events, parse_hook};
use crate::error::HookError;
use crate::output::kind;
use crate::registry::HookRegistry;
use crate::spec::{BuildContext, HookSpec};

/// A part of a config file that was skipped (an event or hook type sre-harness does not
/// implement). Print them: a skipped hook does not run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigWarning {
    /// File and path inside it (`settings.json: hooks.Notification`).
    pub location: String,
    /// What was skipped and why.
    pub message: String,
}

impl std::fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// Hook definitions by scope: global ones and per-agent ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HookConfig {
    /// Hooks of every agent (run first).
    pub global: Vec<HookSpec>,
    /// Hooks of one agent, by agent name (run after the global ones).
    pub agents: BTreeMap<String, Vec<HookSpec>>,
    /// What was skipped while loading (settings JSON and plugins only).
    pub warnings: Vec<ConfigWarning>,
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
                        let loc = Loc::new(&file, format!("[{j}]"));
                        config.global.extend(parse_hook(
                            item,
                            &loc,
                            None,
                            true,
                            &mut config.warnings,
                        )?);
                    }
                }
                Value::Object(obj) => {
                    let (agent, hooks) = parse_agent_document(obj, &file, &mut config.warnings)?;
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
        config.global = parse_event_map(
            hooks,
            &Loc::new(origin, "hooks".into()),
            false,
            &mut config.warnings,
        )?;
        Ok(config)
    }

    /// Load the hooks of a Claude Code plugin folder: `<plugin>/hooks/hooks.json` (or the
    /// file named by `"hooks"` in `<plugin>/.claude-plugin/plugin.json`), in the settings
    /// format. Every hook gets the folder as its plugin root: its process runs with
    /// `CLAUDE_PLUGIN_ROOT` set to it, so `${CLAUDE_PLUGIN_ROOT}/scripts/check.sh` works.
    pub fn from_plugin_dir(dir: impl AsRef<Path>) -> Result<Self, HookError> {
        let dir = dir.as_ref();
        let root = std::fs::canonicalize(dir).map_err(|e| HookError::io(dir, e))?;
        let manifest = root.join(".claude-plugin").join("plugin.json");
        let mut file = root.join("hooks").join("hooks.json");
        if manifest.is_file() {
            let text =
                std::fs::read_to_string(&manifest).map_err(|e| HookError::io(&manifest, e))?;
            let origin = manifest.display().to_string();
            let value: Value = serde_json::from_str(&text).map_err(|e| {
                HookError::config(
                    format!("{origin}:{}:{}", e.line(), e.column()),
                    format!("invalid JSON: {e}"),
                )
            })?;
            match value.get("hooks") {
                None | Some(Value::Null) => {}
                Some(Value::String(path)) => file = root.join(path),
                Some(v) => {
                    return Err(HookError::config(
                        format!("{origin}: hooks"),
                        format!(
                            "expected the path of the plugin's hooks file, got {} (inline hooks are not supported)",
                            kind(v)
                        ),
                    ));
                }
            }
        }
        let text = std::fs::read_to_string(&file).map_err(|e| HookError::io(&file, e))?;
        let mut config = Self::from_settings_json(&text, &file.display().to_string())?;
        for spec in config.global.iter_mut() {
            spec.plugin_root = Some(root.clone());
        }
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
        self.warnings.extend(other.warnings);
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

/// Parse the Claude Code nesting `{"<Event>": [{"matcher": ..., "hooks": [...]}]}` at `at`.
/// `strict` (YAML): an unknown event is an error; otherwise a warning and its hooks are
/// skipped.
fn parse_event_map(
    hooks: &Map<String, Value>,
    at: &Loc,
    strict: bool,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<Vec<HookSpec>, HookError> {
    let mut out = Vec::new();
    for (event_name, groups) in hooks {
        let loc = at.field(event_name);
        let Some(event) = HookEvent::parse(event_name) else {
            if strict {
                return Err(loc.err(self::hook::unknown_event(event_name)));
            }
            let count: usize = groups
                .as_array()
                .map(|gs| {
                    gs.iter()
                        .map(|g| g.get("hooks").and_then(Value::as_array).map_or(0, Vec::len))
                        .sum()
                })
                .unwrap_or(0);
            warnings.push(loc.warn(format!(
                "event {event_name:?} is not implemented by sre-harness: its {count} hook(s) are ignored (implemented: {})",
                implemented_events()
            )));
            continue;
        };
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
                out.extend(parse_hook(
                    entry,
                    &hloc,
                    Some((event, matcher.clone())),
                    strict,
                    warnings,
                )?);
            }
        }
    }
    Ok(out)
}

fn parse_agent_document(
    obj: &Map<String, Value>,
    file: &str,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<(Option<String>, Vec<HookSpec>), HookError> {
    let root = Loc::new(file, String::new());
    if let Some(k) = obj.get("kind") {
        match k.as_str() {
            Some("AgentConfiguration") | Some("ExtendedAgent") | Some("HookConfiguration") => {}
            Some(other) => {
                return Err(root.field("kind").err(format!(
                    "expected `AgentConfiguration` or `ExtendedAgent` (or `HookConfiguration` for global hooks), got {other:?}"
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
        Some(Value::Object(map)) => {
            return Ok((agent, parse_event_map(map, &hooks_loc, true, warnings)?));
        }
        Some(v) => return Err(hooks_loc.err(format!("must be a list, got {}", kind(v)))),
    };
    let mut out = Vec::with_capacity(hooks.len());
    for (i, h) in hooks.iter().enumerate() {
        out.extend(parse_hook(h, &hooks_loc.index(i), None, true, warnings)?);
    }
    Ok((agent, out))
}
