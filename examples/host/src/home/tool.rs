//! Python tools: `kind: PythonTool` (ours), the vendor's `ExtendedAgentTool` with `type:
//! PythonTool`, and `ToolList` (`spec.tools: [...]`).

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value as Json;

use super::diag::{Sink, Source, suggestion};
use super::document::{Envelope, read_text};
use super::fields::Fields;
use super::yaml::{Node, Pos, Scalar};
use super::{Loaded, Location};

/// Longest `timeout_seconds` accepted.
pub const MAX_TOOL_TIMEOUT_SECS: f64 = 3600.0;

/// The JSON type of a parameter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ParamType {
    /// `string` (the default: the portal passes strings).
    #[default]
    String,
    /// `integer`.
    Integer,
    /// `number`.
    Number,
    /// `boolean`.
    Boolean,
    /// `array`.
    Array,
    /// `object`.
    Object,
}

impl ParamType {
    /// The JSON Schema name.
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Integer => "integer",
            ParamType::Number => "number",
            ParamType::Boolean => "boolean",
            ParamType::Array => "array",
            ParamType::Object => "object",
        }
    }

    /// Parse a JSON Schema or Python type name (`int`, `str`, `float`, `bool`, `list`,
    /// `dict` too).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "string" | "str" => ParamType::String,
            "integer" | "int" => ParamType::Integer,
            "number" | "float" => ParamType::Number,
            "boolean" | "bool" => ParamType::Boolean,
            "array" | "list" => ParamType::Array,
            "object" | "dict" => ParamType::Object,
            _ => return None,
        })
    }

    fn accepts(self, v: &Json) -> bool {
        match self {
            ParamType::String => v.is_string(),
            ParamType::Integer => v.is_i64() || v.is_u64(),
            ParamType::Number => v.is_number(),
            ParamType::Boolean => v.is_boolean(),
            ParamType::Array => v.is_array(),
            ParamType::Object => v.is_object(),
        }
    }
}

/// One parameter of a Python tool.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamDef {
    /// Name (a Python identifier: an argument of `main`).
    pub name: String,
    /// Declared type.
    pub ty: ParamType,
    /// What it is, for the model.
    pub description: Option<String>,
    /// Whether the model must give it (default: true unless it has a default).
    pub required: bool,
    /// Default value.
    pub default: Option<Json>,
}

/// One Python tool: a function `def main(<params>) -> dict`.
#[derive(Clone, Debug, PartialEq)]
pub struct PythonToolDef {
    /// Unique tool name.
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// Parameters, in order.
    pub parameters: Vec<ParamDef>,
    /// The source (inline `function_code`, or the content of `function_file`).
    pub code: String,
    /// The file the code came from (`function_file`, absolute).
    pub code_file: Option<PathBuf>,
    /// Per-call timeout (`timeout_seconds`; `None`: the runtime's default).
    pub timeout: Option<Duration>,
    /// pip requirement specifiers, installed once into the tool's environment.
    pub dependencies: Vec<String>,
    /// Where it is defined.
    pub location: Location,
}

/// A tool as parsed.
pub(crate) struct ToolDraft {
    pub def: PythonToolDef,
    pub file: usize,
    pub name_pos: Pos,
}

const TOOL_FIELDS: &[&str] = &[
    "name",
    "type",
    "description",
    "parameters",
    "function_code",
    "function_file",
    "timeout_seconds",
    "dependencies",
];

const PARAM_FIELDS: &[&str] = &["name", "type", "description", "required", "default"];

pub(crate) fn parse_tool_document(
    env: &Envelope<'_>,
    file: usize,
    src: &Source,
    out: &mut Sink,
    loaded: &mut Loaded,
) {
    let Some(spec) = env.spec else { return };
    if env.kind == "ToolList" {
        let Some(mut f) = Fields::of(spec, "spec", src, out) else {
            return;
        };
        if let Some(list) = f.take(&["tools"], src, out) {
            match list.node.items() {
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        if let Some(t) =
                            parse_tool(item, &format!("spec.tools[{i}]"), None, file, src, out)
                        {
                            loaded.tools.push(t);
                        }
                    }
                }
                None => {
                    out.error(
                        src,
                        list.node.pos,
                        "spec.tools",
                        format!("expected a list of tools, got {}", list.node.kind_name()),
                    );
                }
            }
        } else {
            out.error(src, f.pos(), "spec.tools", "missing: the list of tools");
        }
        f.finish(&["tools"], &[], false, src, out);
        return;
    }
    let meta = env.meta_name.as_ref().map(|m| (m.value.clone(), m.pos));
    if let Some(t) = parse_tool(spec, "spec", meta, file, src, out) {
        loaded.tools.push(t);
    }
}

fn parse_tool(
    node: &Node,
    path: &str,
    meta_name: Option<(String, Pos)>,
    file: usize,
    src: &Source,
    out: &mut Sink,
) -> Option<ToolDraft> {
    let mut f = Fields::of(node, path, src, out)?;
    let p = |k: &str| format!("{path}.{k}");
    if let Some(t) = f.take(&["type"], src, out)
        && let Some(ty) = t.string(src, out)
        && ty != "PythonTool"
    {
        out.warn(
            src,
            t.node.pos,
            &t.path,
            format!("tools of type `{ty}` are not supported yet: this tool is skipped"),
        )
        .help("only `type: PythonTool` tools load");
        return None;
    }
    let (name, name_pos) = match f.take(&["name"], src, out) {
        Some(n) => (n.string(src, out)?, n.node.pos),
        None => match meta_name {
            Some(m) => m,
            None => {
                out.error(src, f.pos(), p("name"), "missing: a tool needs a name");
                return None;
            }
        },
    };
    super::agent::check_name(&name, name_pos, &p("name"), "tool", src, out);
    let description = match f.take(&["description"], src, out) {
        Some(d) => d.string(src, out).unwrap_or_default(),
        None => {
            out.error(
                src,
                f.pos(),
                p("description"),
                "missing: the model reads it to choose the tool",
            );
            String::new()
        }
    };
    let parameters = match f.take(&["parameters"], src, out) {
        Some(x) => parse_params(x.node, &p(x.key), src, out),
        None => Vec::new(),
    };
    let inline = f.take(&["function_code"], src, out);
    let named = f.take(&["function_file"], src, out);
    let (code, code_file, code_pos, code_field) = match (inline, named) {
        (Some(c), None) => (c.string(src, out)?, None, c.node.pos, p(c.key)),
        (None, Some(fl)) => {
            let rel = fl.string(src, out)?;
            let abs = src.join(&rel);
            let text = read_text(&abs, fl.node.pos, &p(fl.key), src, out)?;
            (text, Some(abs), fl.node.pos, p(fl.key))
        }
        (Some(_), Some(fl)) => {
            out.error(
                src,
                fl.key_pos,
                p(fl.key),
                "give either `function_code` or `function_file`, not both",
            );
            return None;
        }
        (None, None) => {
            out.error(
                src,
                f.pos(),
                p("function_code"),
                "missing: the code (`function_code` inline, or `function_file` beside this YAML)",
            );
            return None;
        }
    };
    check_main(&code, &parameters, code_pos, &code_field, src, out);
    let timeout = f.take(&["timeout_seconds"], src, out).and_then(|t| {
        let s = t.number(src, out)?;
        if !(s > 0.0 && s <= MAX_TOOL_TIMEOUT_SECS) {
            out.error(
                src,
                t.node.pos,
                &t.path,
                format!("must be more than 0 and at most {MAX_TOOL_TIMEOUT_SECS} seconds, got {s}"),
            );
            return None;
        }
        Some(Duration::from_secs_f64(s))
    });
    let dependencies = f
        .take(&["dependencies"], src, out)
        .map(|d| d.strings(false, src, out))
        .unwrap_or_default();
    for d in &dependencies {
        let v = d.value.trim();
        if v.is_empty() || v.starts_with('-') {
            out.error(
                src,
                d.pos,
                &d.field,
                format!(
                    "`{}` is not a requirement (pip options are not allowed)",
                    d.value
                ),
            );
        }
    }
    f.finish(TOOL_FIELDS, &[], false, src, out);
    Some(ToolDraft {
        def: PythonToolDef {
            name,
            description,
            parameters,
            code,
            code_file,
            timeout,
            dependencies: dependencies.into_iter().map(|d| d.value).collect(),
            location: Location::new(src, node.pos),
        },
        file,
        name_pos,
    })
}

fn parse_params(node: &Node, path: &str, src: &Source, out: &mut Sink) -> Vec<ParamDef> {
    let Some(items) = node.items() else {
        out.error(
            src,
            node.pos,
            path,
            format!("expected a list of parameters, got {}", node.kind_name()),
        );
        return Vec::new();
    };
    let mut params: Vec<ParamDef> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let ipath = format!("{path}[{i}]");
        let Some(mut f) = Fields::of(item, &ipath, src, out) else {
            continue;
        };
        let q = |k: &str| format!("{ipath}.{k}");
        let Some(n) = f.take(&["name"], src, out) else {
            out.error(
                src,
                item.pos,
                q("name"),
                "missing: a parameter needs a name",
            );
            continue;
        };
        let Some(name) = n.string(src, out) else {
            continue;
        };
        if !is_identifier(&name) {
            out.error(
                src,
                n.node.pos,
                q("name"),
                format!("`{name}` is not a Python identifier (it is an argument of `main`)"),
            );
        } else if params.iter().any(|p| p.name == name) {
            out.error(
                src,
                n.node.pos,
                q("name"),
                format!("parameter `{name}` is declared twice"),
            );
        }
        let ty = match f.take(&["type"], src, out) {
            Some(t) => match t.string(src, out) {
                Some(s) => ParamType::parse(&s).unwrap_or_else(|| {
                    let names = ["string", "integer", "number", "boolean", "array", "object"];
                    let d = out.error(src, t.node.pos, q("type"), format!("unknown type `{s}`"));
                    match suggestion(&s, names) {
                        Some(h) => d.help(h),
                        None => d.help(format!("expected one of: {}", names.join(", "))),
                    };
                    ParamType::String
                }),
                None => ParamType::String,
            },
            None => ParamType::String,
        };
        let description = f
            .take(&["description"], src, out)
            .and_then(|d| d.string(src, out));
        let default = f.take(&["default"], src, out).map(|d| {
            let v = match (ty, d.node.scalar()) {
                // `default: 443` for a string parameter: keep it as written.
                (ParamType::String, Some(s)) if !matches!(s, Scalar::Str(_)) => {
                    Json::String(d.node.scalar_text().unwrap_or_default().to_string())
                }
                _ => d.node.to_json(),
            };
            if !ty.accepts(&v) {
                out.error(
                    src,
                    d.node.pos,
                    q("default"),
                    format!("the default is {}, not {}", d.node.kind_name(), ty.as_str()),
                );
            }
            v
        });
        let required = f
            .take(&["required"], src, out)
            .and_then(|r| r.bool(src, out))
            .unwrap_or(default.is_none());
        f.finish(PARAM_FIELDS, &[], false, src, out);
        params.push(ParamDef {
            name,
            ty,
            description,
            required,
            default,
        });
    }
    params
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// `main`'s arguments: names, whether each has a default, and whether `**kwargs` is there.
fn main_signature(code: &str) -> Option<(Vec<(String, bool)>, bool)> {
    let start = code.split_inclusive('\n').scan(0usize, |off, line| {
        let here = *off;
        *off += line.len();
        Some((here, line))
    });
    let mut sig_start = None;
    for (off, line) in start {
        let t = line.trim_start();
        let t = t.strip_prefix("async ").map(str::trim_start).unwrap_or(t);
        if let Some(rest) = t.strip_prefix("def")
            && rest.starts_with(char::is_whitespace)
            && let Some(after) = rest.trim_start().strip_prefix("main")
            && after.trim_start().starts_with('(')
            && line.len() == line.trim_start().len()
        {
            let open = off + line.find('(')?;
            sig_start = Some(open + 1);
            break;
        }
    }
    let body = &code[sig_start?..];
    let (mut depth, mut quote, mut end) = (0i32, None::<char>, None);
    for (i, c) in body.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')') if depth == 0 => {
                end = Some(i);
                break;
            }
            (None, ')' | ']' | '}') => depth -= 1,
            _ => {}
        }
    }
    let inner = &body[..end?];
    let (mut args, mut kwargs, mut cur, mut depth, mut quote) =
        (Vec::new(), false, String::new(), 0i32, None::<char>);
    let push = |arg: &str, args: &mut Vec<(String, bool)>, kwargs: &mut bool| {
        let a = arg.trim();
        if a.starts_with("**") {
            *kwargs = true;
        } else if !a.is_empty() && !a.starts_with('*') && a != "/" {
            let has_default = a.contains('=');
            let name = a.split([':', '=']).next().unwrap_or("").trim().to_string();
            args.push((name, has_default));
        }
    };
    for c in inner.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') => depth -= 1,
            (None, ',') if depth == 0 => {
                push(&cur, &mut args, &mut kwargs);
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    push(&cur, &mut args, &mut kwargs);
    Some((args, kwargs))
}

/// The code defines a top-level `main` whose arguments match the declared parameters.
fn check_main(
    code: &str,
    params: &[ParamDef],
    pos: Pos,
    field: &str,
    src: &Source,
    out: &mut Sink,
) {
    let Some((args, kwargs)) = main_signature(code) else {
        out.error(
            src,
            pos,
            field,
            "the code defines no top-level `def main(...)`",
        )
        .help("a Python tool is a function `def main(<parameters>) -> dict`");
        return;
    };
    for p in params {
        if !kwargs && !args.iter().any(|(a, _)| *a == p.name) {
            out.error(
                src,
                pos,
                field,
                format!("parameter `{}` is not an argument of `main`", p.name),
            );
        }
    }
    for (a, has_default) in &args {
        if !has_default && !params.iter().any(|p| p.name == *a) {
            out.error(
                src,
                pos,
                field,
                format!("`main` needs `{a}`, which is not declared in `parameters`"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::main_signature;

    #[test]
    fn main_signatures_are_read() {
        let (args, kw) = main_signature("import x\n\ndef main(domain, port=\"443\"):\n  pass\n")
            .unwrap_or_default();
        assert_eq!(
            args,
            vec![("domain".to_string(), false), ("port".to_string(), true)]
        );
        assert!(!kw);
        let (args, kw) =
            main_signature("async def main(a: int = (1, 2),\n   *, b: str, **rest) -> dict:\n")
                .unwrap_or_default();
        assert_eq!(
            args,
            vec![("a".to_string(), true), ("b".to_string(), false)]
        );
        assert!(kw);
        assert!(main_signature("def helper():\n    def main(x): pass\n").is_none());
        assert!(main_signature("def maintain(x): pass\n").is_none());
    }
}
