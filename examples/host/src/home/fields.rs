//! Reading the fields of a mapping: snake_case and camelCase spellings, aliases, typed
//! values with a diagnostic at the field on a wrong type, and unknown keys.

use std::collections::BTreeMap;

use super::diag::{Sink, Source, suggestion};
use super::yaml::{Node, Pos, Scalar};

/// `displayName`, `display-name` and `display_name` -> `display_name`.
pub(crate) fn snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for (i, c) in key.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c == '-' {
            out.push('_');
        } else {
            out.push(c);
        }
    }
    out
}

/// A name given in a file, where it was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Spanned {
    pub value: String,
    pub pos: Pos,
    pub field: String,
}

/// One field taken from a mapping.
#[derive(Clone)]
pub(crate) struct Field<'n> {
    /// The key as written.
    pub key: &'n str,
    /// The field's path, as written (`spec.displayName`).
    pub path: String,
    pub key_pos: Pos,
    pub node: &'n Node,
}

/// The fields of one mapping, consumed one by one; what is left at [`Fields::finish`] is
/// unknown.
pub(crate) struct Fields<'n> {
    node: &'n Node,
    /// Path of the mapping (`spec`), for field paths.
    pub path: String,
    used: Vec<bool>,
}

impl<'n> Fields<'n> {
    /// The fields of `node`; `None` (with an error) if it is not a mapping. A null node is
    /// an empty mapping.
    pub fn of(node: &'n Node, path: &str, src: &Source, out: &mut Sink) -> Option<Self> {
        match node.entries() {
            Some(entries) => Some(Fields {
                node,
                path: path.to_string(),
                used: vec![false; entries.len()],
            }),
            None if node.is_null() => Some(Fields {
                node,
                path: path.to_string(),
                used: Vec::new(),
            }),
            None => {
                out.error(
                    src,
                    node.pos,
                    path,
                    format!("expected a mapping, got {}", node.kind_name()),
                );
                None
            }
        }
    }

    /// The mapping's position.
    pub fn pos(&self) -> Pos {
        self.node.pos
    }

    /// `path.key`.
    pub fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// Take the field named by any of `names` (canonical snake_case; camelCase and
    /// kebab-case spellings match too). Null values count as absent. Two spellings of the
    /// same field are an error at the second.
    pub fn take(&mut self, names: &[&str], src: &Source, out: &mut Sink) -> Option<Field<'n>> {
        let entries = self.node.entries()?;
        let mut found: Option<Field<'n>> = None;
        for (i, e) in entries.iter().enumerate() {
            if self.used[i] || !names.contains(&snake(&e.key).as_str()) {
                continue;
            }
            self.used[i] = true;
            if let Some(first) = &found {
                out.error(
                    src,
                    e.key_pos,
                    self.path_of(&e.key),
                    format!("`{}` is given twice (also as `{}`)", e.key, first.key),
                )
                .help(format!("keep one of `{}` and `{}`", first.key, e.key));
                continue;
            }
            if !e.value.is_null() {
                found = Some(Field {
                    key: &e.key,
                    path: self.path_of(&e.key),
                    key_pos: e.key_pos,
                    node: &e.value,
                });
            }
        }
        found
    }

    /// Report what was not taken: `unhonoured` keys (canonical names) are warnings naming
    /// them; other keys are errors with a "did you mean" among `known`, or warnings when
    /// `lenient` (formats other tools extend) and nothing is close.
    pub fn finish(
        self,
        known: &[&str],
        unhonoured: &[(&str, &str)],
        lenient: bool,
        src: &Source,
        out: &mut Sink,
    ) {
        let Some(entries) = self.node.entries() else {
            return;
        };
        for (i, e) in entries.iter().enumerate() {
            if self.used[i] {
                continue;
            }
            let canonical = snake(&e.key);
            let path = self.path_of(&e.key);
            if let Some((_, why)) = unhonoured.iter().find(|(k, _)| *k == canonical) {
                out.warn(
                    src,
                    e.key_pos,
                    path,
                    format!("`{}` is not supported yet and is ignored: {why}", e.key),
                );
                continue;
            }
            let all = known
                .iter()
                .copied()
                .chain(unhonoured.iter().map(|(k, _)| *k));
            let help = suggestion(&canonical, all);
            if lenient && help.is_none() {
                out.warn(
                    src,
                    e.key_pos,
                    path,
                    format!("unknown field `{}` is ignored", e.key),
                );
                continue;
            }
            let d = out.error(src, e.key_pos, path, format!("unknown field `{}`", e.key));
            match help {
                Some(h) => d.help(h),
                None => d.help(format!("expected one of: {}", known.join(", "))),
            };
        }
    }
}

impl<'n> Field<'n> {
    fn type_error(&self, expected: &str, src: &Source, out: &mut Sink) {
        out.error(
            src,
            self.node.pos,
            &self.path,
            format!("expected {expected}, got {}", self.node.kind_name()),
        );
    }

    /// A string (a number or boolean is an error: quote it).
    pub fn string(&self, src: &Source, out: &mut Sink) -> Option<String> {
        match self.node.as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                self.type_error("a string", src, out);
                if self.node.scalar().is_some()
                    && let Some(d) = out.errors.last_mut()
                {
                    d.help("put it in quotes");
                }
                None
            }
        }
    }

    /// Any scalar, as written (`1.0` stays `"1.0"`): for versions and labels.
    pub fn text(&self, src: &Source, out: &mut Sink) -> Option<String> {
        match self.node.scalar_text() {
            Some(s) => Some(s.to_string()),
            None => {
                self.type_error("a string", src, out);
                None
            }
        }
    }

    /// `true` or `false`.
    pub fn bool(&self, src: &Source, out: &mut Sink) -> Option<bool> {
        match self.node.scalar() {
            Some(Scalar::Bool(b)) => Some(b),
            _ => {
                self.type_error("true or false", src, out);
                None
            }
        }
    }

    /// A finite number.
    pub fn number(&self, src: &Source, out: &mut Sink) -> Option<f64> {
        match self.node.scalar() {
            Some(Scalar::Int(i)) => Some(i as f64),
            Some(Scalar::Float(f)) if f.is_finite() => Some(f),
            _ => {
                self.type_error("a number", src, out);
                None
            }
        }
    }

    /// A whole number >= 0.
    pub fn count(&self, src: &Source, out: &mut Sink) -> Option<u64> {
        match self.node.scalar() {
            Some(Scalar::Int(i)) if i >= 0 => u64::try_from(i).ok(),
            _ => {
                self.type_error("a whole number (0 or more)", src, out);
                None
            }
        }
    }

    /// A list of strings, each with its position. With `split_string`, a single string is
    /// accepted too and split on whitespace (`allowed-tools: Read Grep`).
    pub fn strings(&self, split_string: bool, src: &Source, out: &mut Sink) -> Vec<Spanned> {
        let path = &self.path;
        if split_string && let Some(s) = self.node.as_str() {
            return s
                .split_whitespace()
                .map(|w| Spanned {
                    value: w.to_string(),
                    pos: self.node.pos,
                    field: path.to_string(),
                })
                .collect();
        }
        let Some(items) = self.node.items() else {
            self.type_error("a list of strings", src, out);
            return Vec::new();
        };
        let mut v = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let ipath = format!("{path}[{i}]");
            match item.as_str() {
                Some(s) => v.push(Spanned {
                    value: s.to_string(),
                    pos: item.pos,
                    field: ipath,
                }),
                None => {
                    out.error(
                        src,
                        item.pos,
                        ipath,
                        format!("expected a string, got {}", item.kind_name()),
                    );
                }
            }
        }
        v
    }

    /// A mapping of string to scalar (values kept as written).
    pub fn string_map(&self, src: &Source, out: &mut Sink) -> BTreeMap<String, String> {
        let path = &self.path;
        let mut map = BTreeMap::new();
        let Some(entries) = self.node.entries() else {
            self.type_error("a mapping of names to strings", src, out);
            return map;
        };
        for e in entries {
            match e.value.scalar_text() {
                Some(v) => {
                    map.insert(e.key.clone(), v.to_string());
                }
                None if e.value.is_null() => {
                    map.insert(e.key.clone(), String::new());
                }
                None => {
                    out.error(
                        src,
                        e.value.pos,
                        format!("{path}.{}", e.key),
                        format!("expected a string, got {}", e.value.kind_name()),
                    );
                }
            }
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use super::snake;

    #[test]
    fn spellings_normalise_to_snake_case() {
        assert_eq!(snake("displayName"), "display_name");
        assert_eq!(snake("display_name"), "display_name");
        assert_eq!(snake("allowed-tools"), "allowed_tools");
        assert_eq!(snake("llmModelName"), "llm_model_name");
        assert_eq!(snake("mcpConnectors"), "mcp_connectors");
    }
}
