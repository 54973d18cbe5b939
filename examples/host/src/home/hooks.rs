//! Hooks of an agent (`spec.hooks`) and global hooks (`kind: HookConfiguration`, Claude
//! Code `settings.json`).
//!
//! Hook semantics are sre-hooks': each hook is handed to [`HookConfig::from_yaml`] (one
//! hook at a time, so every bad hook is reported, not only the first) and its errors are
//! mapped back to the line and column of the field. What this module adds:
//! - `spec.hooks` as a map event -> list of hooks in the vendor's flat shape (`Stop: [{type:
//!   prompt, ...}]`) besides Claude Code's `{matcher, hooks: [...]}` groups;
//! - `script`, `command` and `prompt` given as a file path relative to the YAML file: a
//!   `script` or `prompt` file is read; a `command` file runs by its absolute path when it
//!   is executable, otherwise its content runs as a script (its `#!` line picks the
//!   interpreter); a path-like value naming no file is an error;
//! - the warning on `PostToolUse` hooks that can block a command-running tool.

use std::path::Path;

use serde_json::{Map, Value as Json, json};
use sre_core::HookEvent;
use sre_hooks::{FailMode, HookConfig, HookError, HookKind, HookSpec, ToolMatcher};

use super::builtin::COMMAND_TOOL_NAMES;
use super::diag::{Severity, Sink, Source, suggestion};
use super::yaml::{self, Node, Pos};

/// Largest hook script or prompt file read (the vendor's limit).
pub const MAX_HOOK_FILE: u64 = 64 * 1024;

/// Origin given to sre-hooks, stripped from its locations.
const ORIGIN: &str = "<hook>";

/// Extensions that make a single-word value a file path.
const FILE_EXTENSIONS: &[&str] = &[
    "sh", "bash", "zsh", "py", "js", "mjs", "ts", "rb", "pl", "md", "txt", "prompt",
];

/// Parse `node` (the value of `path`, e.g. `spec.hooks`): a list of hooks, or a map event
/// -> list. `agent` scopes them (`None` = global).
pub(crate) fn parse_hooks(
    node: &Node,
    path: &str,
    agent: Option<&str>,
    src: &Source,
    out: &mut Sink,
) -> HookConfig {
    let mut config = HookConfig::default();
    if let Some(items) = node.items() {
        for (i, item) in items.iter().enumerate() {
            let ipath = format!("{path}[{i}]");
            if let Some(hook) = hook_json(item, &ipath, src, out) {
                one(
                    json!([hook]),
                    "spec.hooks[0]",
                    item,
                    &ipath,
                    agent,
                    src,
                    out,
                    &mut config,
                );
            }
        }
    } else if let Some(entries) = node.entries() {
        for e in entries {
            let epath = format!("{path}.{}", e.key);
            if HookEvent::parse(&e.key).is_none() {
                let names = HookEvent::ALL.iter().map(|e| e.as_str());
                let d = out.error(
                    src,
                    e.key_pos,
                    &epath,
                    format!("unknown hook event `{}`", e.key),
                );
                match suggestion(&e.key, names) {
                    Some(h) => d.help(h),
                    None => d.help(format!(
                        "expected one of: {}",
                        HookEvent::ALL.map(|e| e.as_str()).join(", ")
                    )),
                };
                continue;
            }
            let Some(items) = e.value.items() else {
                out.error(
                    src,
                    e.value.pos,
                    &epath,
                    format!("expected a list of hooks, got {}", e.value.kind_name()),
                );
                continue;
            };
            for (j, item) in items.iter().enumerate() {
                let ipath = format!("{epath}[{j}]");
                let Some(mut hook) = hook_json(item, &ipath, src, out) else {
                    continue;
                };
                if item.get("hooks").is_some() {
                    // Claude Code's group: {matcher, hooks: [...]}.
                    let mut map = Map::new();
                    map.insert(e.key.clone(), json!([hook]));
                    let inner = format!("spec.hooks.{}[0]", e.key);
                    one(
                        Json::Object(map),
                        &inner,
                        item,
                        &ipath,
                        agent,
                        src,
                        out,
                        &mut config,
                    );
                    continue;
                }
                if let Some(obj) = hook.as_object_mut() {
                    match obj.get("event").and_then(Json::as_str) {
                        Some(ev) if ev != e.key => {
                            let pos = item.find("event");
                            out.error(
                                src,
                                pos,
                                format!("{ipath}.event"),
                                format!("`event: {ev}` in a hook listed under `{}`", e.key),
                            )
                            .help("remove `event:` (the key above names it)");
                            continue;
                        }
                        _ => {
                            obj.insert("event".into(), Json::String(e.key.clone()));
                        }
                    }
                }
                one(
                    json!([hook]),
                    "spec.hooks[0]",
                    item,
                    &ipath,
                    agent,
                    src,
                    out,
                    &mut config,
                );
            }
        }
    } else {
        out.error(
            src,
            node.pos,
            path,
            format!(
                "expected a list of hooks or a map event -> hooks, got {}",
                node.kind_name()
            ),
        );
    }
    config
}

/// The hook (or Claude Code group) at `item` as JSON, its file references resolved.
fn hook_json(item: &Node, ipath: &str, src: &Source, out: &mut Sink) -> Option<Json> {
    let mut value = item.to_json();
    let Some(obj) = value.as_object_mut() else {
        out.error(
            src,
            item.pos,
            ipath,
            format!("expected a hook (a mapping), got {}", item.kind_name()),
        );
        return None;
    };
    let mut ok = resolve_files(obj, item, ipath, src, out);
    if let (Some(Json::Array(inner)), Some(nodes)) = (
        obj.get_mut("hooks"),
        item.get("hooks").and_then(|e| e.value.items()),
    ) {
        for (k, (h, n)) in inner.iter_mut().zip(nodes).enumerate() {
            if let Some(hobj) = h.as_object_mut() {
                ok &= resolve_files(hobj, n, &format!("{ipath}.hooks[{k}]"), src, out);
            }
        }
    }
    ok.then_some(value)
}

/// Read `script`/`prompt` files and resolve `command` files named relative to the YAML
/// file. Returns false after reporting an error.
fn resolve_files(
    obj: &mut Map<String, Json>,
    node: &Node,
    path: &str,
    src: &Source,
    out: &mut Sink,
) -> bool {
    let mut ok = true;
    for key in ["script", "prompt", "command"] {
        let Some(Json::String(value)) = obj.get(key) else {
            continue;
        };
        let value = value.clone();
        if value.contains('\n') || value.trim().is_empty() {
            continue;
        }
        let fpath = format!("{path}.{key}");
        let pos = node.find(key);
        let rel = Path::new(value.trim());
        let file = src.join(rel);
        if key == "command" && rel.is_absolute() {
            continue;
        }
        if file.is_file() {
            if key == "command" && is_executable(&file) {
                obj.insert(
                    key.into(),
                    Json::String(shell_word(&file.display().to_string())),
                );
                continue;
            }
            match super::diag::inside_home(&src.home, &file).and_then(|()| read_capped(&file)) {
                Ok(text) if key == "command" && !obj.contains_key("script") => {
                    obj.remove("command");
                    obj.insert("script".into(), Json::String(text));
                }
                Ok(text) if key == "command" => {
                    // Both given: sre-hooks reports it; keep the path.
                    let _ = text;
                }
                Ok(text) => {
                    obj.insert(key.into(), Json::String(text));
                }
                Err(message) => {
                    out.error(src, pos, &fpath, message);
                    ok = false;
                }
            }
            continue;
        }
        if looks_like_file(&value, key == "command") {
            let d = out.error(
                src,
                pos,
                &fpath,
                format!(
                    "hook file `{value}` not found (looked for {})",
                    file.display()
                ),
            );
            let siblings = sibling_names(&file);
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            match suggestion(&name, siblings.iter().map(String::as_str)) {
                Some(h) => d.help(h),
                None => d.help("paths are relative to the YAML file that names them"),
            };
            ok = false;
        }
    }
    ok
}

fn read_capped(file: &Path) -> Result<String, String> {
    let len = std::fs::metadata(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?
        .len();
    if len > MAX_HOOK_FILE {
        return Err(format!(
            "{} is {len} bytes; hook files are limited to {MAX_HOOK_FILE} bytes",
            file.display()
        ));
    }
    std::fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))
}

fn is_executable(file: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(file).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

/// `path` quoted for `/bin/sh` when it needs it.
fn shell_word(path: &str) -> String {
    if path
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c))
    {
        path.to_string()
    } else {
        format!("'{}'", path.replace('\'', r"'\''"))
    }
}

/// A single word that names a file: it has a path separator or a script extension. For
/// `command`, a bare name is a program on `PATH`, so only relative paths count.
fn looks_like_file(value: &str, command: bool) -> bool {
    let v = value.trim();
    if v.contains(char::is_whitespace) {
        return false;
    }
    let has_ext = Path::new(v)
        .extension()
        .is_some_and(|e| FILE_EXTENSIONS.contains(&e.to_string_lossy().as_ref()));
    if command {
        v.starts_with("./") || v.starts_with("../") || (v.contains('/') && has_ext)
    } else {
        v.contains('/') || has_ext
    }
}

fn sibling_names(file: &Path) -> Vec<String> {
    let Some(dir) = file.parent() else {
        return Vec::new();
    };
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .take(500)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Parse one hook (or group) with sre-hooks. `hooks` is the value of `spec.hooks` in the
/// document handed over; `inner` is the path of the hook in it; `item` and `ipath` are the
/// hook's node and path in the real file.
#[allow(clippy::too_many_arguments)]
fn one(
    hooks: Json,
    inner: &str,
    item: &Node,
    ipath: &str,
    agent: Option<&str>,
    src: &Source,
    out: &mut Sink,
    config: &mut HookConfig,
) {
    let doc = match agent {
        Some(name) => {
            json!({"kind": "AgentConfiguration", "metadata": {"name": name}, "spec": {"hooks": hooks}})
        }
        None => json!({"kind": "HookConfiguration", "spec": {"hooks": hooks}}),
    };
    let text = match serde_yaml_ng::to_string(&doc) {
        Ok(t) => t,
        Err(e) => {
            out.error(src, item.pos, ipath, format!("cannot read this hook: {e}"));
            return;
        }
    };
    let map = |location: &str| -> (Pos, String) {
        let path = location.strip_prefix(ORIGIN).unwrap_or(location);
        let path = path.trim_start_matches(':').trim_start();
        match path.strip_prefix(inner) {
            Some(rest) => (item.find(rest), format!("{ipath}{rest}")),
            None => (item.pos, ipath.to_string()),
        }
    };
    match HookConfig::from_yaml(&text, ORIGIN) {
        Ok(cfg) => {
            for w in &cfg.warnings {
                let (pos, field) = map(&w.location);
                out.warn(src, pos, field, w.message.clone());
            }
            for (_, spec) in cfg.iter() {
                check_post_tool_use(spec, src, item.pos, ipath, out);
            }
            let mut cfg = cfg;
            cfg.warnings.clear();
            config.merge(cfg);
        }
        Err(HookError::Config { location, message }) => {
            let (pos, field) = map(&location);
            out.error(src, pos, field, message);
        }
        Err(e) => {
            out.error(src, item.pos, ipath, e.to_string());
        }
    }
}

/// Warn when a `PostToolUse` hook that can block (command or prompt) matches a
/// command-running tool: the command already ran when the hook sees it. Hooks on every tool
/// that fail open (audit hooks) are not warned about.
pub(crate) fn check_post_tool_use(
    spec: &HookSpec,
    src: &Source,
    pos: Pos,
    path: &str,
    out: &mut Sink,
) {
    if spec.event != HookEvent::PostToolUse {
        return;
    }
    let can_block = matches!(
        spec.kind,
        HookKind::Command { .. } | HookKind::Script { .. } | HookKind::Prompt { .. }
    );
    // A hook on every tool that fails open is an observer (an audit log): only hooks that
    // name the command tools, or fail closed, are meant to stop a call.
    let observer = spec.matcher.is_none() && spec.fail_mode == FailMode::Allow;
    let Ok(matcher) = ToolMatcher::new(spec.matcher.as_deref()) else {
        return;
    };
    let hit: Vec<&str> = COMMAND_TOOL_NAMES
        .iter()
        .copied()
        .filter(|t| matcher.matches(Some(t)))
        .collect();
    if !can_block || observer || hit.is_empty() {
        return;
    }
    out.at(
        Severity::Warning,
        src,
        pos,
        path,
        format!(
            "PostToolUse hook `{}` can block `{}`, but it runs after the command ran: blocking cannot undo it",
            spec.name,
            hit.join("`, `")
        ),
    )
    .help("gate the call before it runs with a PreToolUse hook on the same matcher (e.g. `type: allowlist`)");
}

/// The hooks of a Claude Code settings file (global), through
/// [`HookConfig::from_settings_json`]; its warnings become diagnostics.
pub(crate) fn parse_settings(src: &Source, out: &mut Sink) -> HookConfig {
    // JSON is YAML: parse it again for positions (best effort).
    let (docs, _) = yaml::parse(&src.text, 0);
    let root = docs.first();
    let locate = |path: &str| root.map_or(Pos::default(), |r| r.find(path));
    let origin = src.rel.display().to_string();
    let split = |location: &str| -> (Pos, String) {
        let rest = location.strip_prefix(origin.as_str()).unwrap_or(location);
        if let Some(lc) = rest.strip_prefix(':')
            && let Some((l, c)) = lc.split_once(':')
            && let (Ok(line), Ok(column)) = (l.trim().parse(), c.trim().parse())
        {
            return (Pos { line, column }, String::new());
        }
        let path = rest.trim_start_matches(':').trim_start();
        (locate(path), path.to_string())
    };
    match HookConfig::from_settings_json(&src.text, &origin) {
        Ok(mut cfg) => {
            for w in std::mem::take(&mut cfg.warnings) {
                let (pos, field) = split(&w.location);
                out.warn(src, pos, field, w.message);
            }
            for spec in &cfg.global {
                let path = format!("hooks.{}", spec.event.as_str());
                check_post_tool_use(spec, src, locate(&path), &path, out);
            }
            cfg
        }
        Err(HookError::Config { location, message }) => {
            let (pos, field) = split(&location);
            out.error(src, pos, field, message);
            HookConfig::default()
        }
        Err(e) => {
            out.error(src, Pos::default(), "", e.to_string());
            HookConfig::default()
        }
    }
}
