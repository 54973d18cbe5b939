//! One hook object of a config file (both formats), and positions for errors and warnings.

use serde_json::{Map, Value};
use sre_core::HookEvent;

use super::ConfigWarning;
use crate::allowlist::ShellPolicy;
use crate::error::HookError;
use crate::matcher::{ActivationMode, HookFormat, ToolMatcher};
use crate::output::kind;
use crate::spec::{
    AllowlistSpec, FailMode, HookKind, HookSpec, MAX_REJECTIONS_RANGE, TIMEOUT_RANGE,
};

/// A position inside a config file, for errors and warnings.
#[derive(Clone)]
pub(super) struct Loc {
    file: String,
    path: String,
}

impl Loc {
    pub(super) fn new(file: &str, path: String) -> Self {
        Loc {
            file: file.to_string(),
            path,
        }
    }

    pub(super) fn field(&self, name: &str) -> Self {
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

    pub(super) fn index(&self, i: usize) -> Self {
        Loc {
            file: self.file.clone(),
            path: format!("{}[{i}]", self.path),
        }
    }

    fn location(&self) -> String {
        let path = if self.path.is_empty() {
            "(root)"
        } else {
            &self.path
        };
        format!("{}: {path}", self.file)
    }

    pub(super) fn err(&self, message: impl Into<String>) -> HookError {
        HookError::config(self.location(), message)
    }

    pub(super) fn warn(&self, message: impl Into<String>) -> ConfigWarning {
        ConfigWarning {
            location: self.location(),
            message: message.into(),
        }
    }
}

pub(super) fn unknown_event(name: &str) -> String {
    format!(
        "unknown event {name:?} (expected one of {})",
        implemented_events()
    )
}

pub(super) fn implemented_events() -> String {
    let known: Vec<&str> = HookEvent::ALL.iter().map(|e| e.as_str()).collect();
    known.join(", ")
}

pub(super) fn check_matcher(m: &str, loc: &Loc, hook: Option<&str>) -> Result<(), HookError> {
    let of = hook.map(|h| format!(" (hook `{h}`)")).unwrap_or_default();
    ToolMatcher::new(Some(m))
        .map(|_| ())
        .map_err(|e| loc.err(format!("invalid regex {m:?}{of}: {e}")))
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
    "allow",
    "allowEnv",
    "allow_env",
    "allowSudo",
    "allow_sudo",
    "inputField",
    "input_field",
];

const ALLOWLIST_KEYS: &[&str] = &[
    "allow",
    "allowEnv",
    "allow_env",
    "allowSudo",
    "allow_sudo",
    "inputField",
    "input_field",
];

/// Parse one hook object. `outer` is the event and matcher given by the Claude Code
/// nesting; YAML hooks carry their own. `strict` (YAML, our format) rejects unknown keys
/// and types; otherwise (Claude Code's evolving format) unknown keys are ignored and a hook
/// of a type we do not implement is skipped with a warning (`Ok(None)`).
pub(super) fn parse_hook(
    value: &Value,
    loc: &Loc,
    outer: Option<(HookEvent, Option<String>)>,
    strict: bool,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<Option<HookSpec>, HookError> {
    let obj = value
        .as_object()
        .ok_or_else(|| loc.err(format!("a hook must be a mapping, got {}", kind(value))))?;
    if strict && let Some(k) = obj.keys().find(|k| !YAML_KEYS.contains(&k.as_str())) {
        return Err(loc.field(k).err(format!(
            "unknown field (expected one of {})",
            YAML_KEYS.join(", ")
        )));
    }
    let string = |key: &str| string_field(obj, loc, key);

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
        None if obj.contains_key("allow") && command.is_none() && script.is_none() => {
            "allowlist".into()
        }
        None => "command".into(),
    };
    if ty != "allowlist"
        && let Some(k) = ALLOWLIST_KEYS.iter().find(|k| obj.contains_key(**k))
    {
        return Err(loc
            .field(k)
            .err("only for `type: allowlist` hooks".to_string()));
    }
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
        "allowlist" => {
            if event != HookEvent::PreToolUse {
                return Err(loc
                    .field("event")
                    .err(format!("an allowlist hook runs at PreToolUse, not {event}")));
            }
            if matcher
                .as_deref()
                .is_none_or(|m| matches!(m.trim(), "" | "*"))
            {
                return Err(loc.field("matcher").err(
                    "missing: an allowlist hook needs a matcher naming the shell tools (it blocks calls without a command line)",
                ));
            }
            HookKind::Allowlist(parse_allowlist(obj, loc)?)
        }
        other if strict => {
            return Err(loc.field("type").err(format!(
                "must be \"command\", \"prompt\" or \"allowlist\", got {other:?}"
            )));
        }
        other => {
            warnings.push(loc.field("type").warn(format!(
                "hook type {other:?} is not implemented by sre-harness: this hook is ignored"
            )));
            return Ok(None);
        }
    };

    let mut spec = HookSpec::new(event, matcher, hook_kind);
    // Strict parsing is for YAML agent definitions: they speak the Azure SRE Agent's
    // dialect (a PostToolUse hook sees failed calls too).
    if strict {
        spec.format = HookFormat::AgentYaml;
    }
    if matches!(spec.kind, HookKind::Allowlist(_)) {
        spec.fail_mode = FailMode::Block;
    }
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
    let (fm, fm_key) = match string("failMode")? {
        Some(v) => (Some(v), "failMode"),
        None => (string("fail_mode")?, "fail_mode"),
    };
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
    Ok(Some(spec))
}

fn string_field(
    obj: &Map<String, Value>,
    loc: &Loc,
    key: &str,
) -> Result<Option<String>, HookError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(loc
            .field(key)
            .err(format!("must be a string, got {}", kind(v)))),
    }
}

/// The first of `keys` present.
fn either<'k, 'o>(obj: &'o Map<String, Value>, keys: [&'k str; 2]) -> Option<(&'k str, &'o Value)> {
    keys.into_iter()
        .find_map(|k| obj.get(k).filter(|v| !v.is_null()).map(|v| (k, v)))
}

fn string_list(value: &Value, loc: &Loc) -> Result<Vec<String>, HookError> {
    let items = value
        .as_array()
        .ok_or_else(|| loc.err(format!("must be a list of strings, got {}", kind(value))))?;
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_str().map(str::to_string).ok_or_else(|| {
                loc.index(i)
                    .err(format!("must be a string, got {}", kind(v)))
            })
        })
        .collect()
}

fn parse_allowlist(obj: &Map<String, Value>, loc: &Loc) -> Result<AllowlistSpec, HookError> {
    let allow_loc = loc.field("allow");
    let allow = match obj.get("allow").filter(|v| !v.is_null()) {
        Some(v) => string_list(v, &allow_loc)?,
        None => return Err(allow_loc.err("missing: the allowed command prefixes")),
    };
    if allow.is_empty() {
        return Err(allow_loc.err("must not be empty"));
    }
    for (i, entry) in allow.iter().enumerate() {
        if let Err(HookError::Config { message, .. }) = ShellPolicy::new([entry]) {
            return Err(allow_loc.index(i).err(message));
        }
    }
    let allow_env = match either(obj, ["allowEnv", "allow_env"]) {
        Some((k, v)) => string_list(v, &loc.field(k))?,
        None => Vec::new(),
    };
    let allow_sudo = match either(obj, ["allowSudo", "allow_sudo"]) {
        Some((_, Value::Bool(b))) => *b,
        Some((k, v)) => {
            return Err(loc
                .field(k)
                .err(format!("must be true or false, got {}", kind(v))));
        }
        None => false,
    };
    let input_field = match either(obj, ["inputField", "input_field"]) {
        Some((_, Value::String(s))) if !s.trim().is_empty() => Some(s.clone()),
        Some((k, v)) => {
            return Err(loc
                .field(k)
                .err(format!("must be a non-empty string, got {}", kind(v))));
        }
        None => None,
    };
    Ok(AllowlistSpec {
        allow,
        allow_env,
        allow_sudo,
        input_field,
    })
}
