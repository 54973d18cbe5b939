//! A YAML tree that keeps the line and column of every key and value.
//!
//! Built on `saphyr-parser`'s event stream (each event carries its span); `serde_yaml_ng`
//! only locates syntax errors, not values, so it cannot point a field-level error at the
//! field. Scalars keep their source text and are resolved with the YAML 1.2 core schema on
//! demand (so `version: 1.0` can still be read as the string `"1.0"`).
//!
//! Bounded on hostile input: nesting depth, alias expansion (the "billion laughs") and
//! duplicate keys are reported, never a panic or an unbounded allocation.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde_json::Value as Json;

/// Deepest nesting of collections accepted.
pub(crate) const MAX_DEPTH: usize = 64;
/// Most nodes that aliases may copy in one file.
pub(crate) const MAX_ALIAS_NODES: usize = 100_000;

/// A position in a file: line and column, both 1-based (column in characters). Line 0
/// means "no position" (a problem with the whole file).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1, in characters.
    pub column: usize,
}

impl Pos {
    fn of(span: &Span, line_offset: usize) -> Pos {
        Pos {
            line: span.start.line() + line_offset,
            column: span.start.col() + 1,
        }
    }
}

/// A YAML node and where it starts.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub pos: Pos,
    pub value: Value,
}

/// The content of a node.
#[derive(Clone, Debug)]
pub(crate) enum Value {
    /// A scalar as written; `plain` scalars resolve to null, booleans and numbers.
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// One key of a mapping.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

/// A scalar resolved with the core schema.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Scalar<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
}

/// A problem found while parsing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct YamlError {
    pub pos: Pos,
    pub message: String,
}

impl Node {
    /// The scalar's resolved value (`None` for collections).
    pub fn scalar(&self) -> Option<Scalar<'_>> {
        match &self.value {
            Value::Scalar { text, plain: false } => Some(Scalar::Str(text)),
            Value::Scalar { text, plain: true } => Some(resolve_plain(text)),
            _ => None,
        }
    }

    /// The string, if the node is a string scalar.
    pub fn as_str(&self) -> Option<&str> {
        match self.scalar() {
            Some(Scalar::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// The source text of any non-null scalar (`1.0` stays `"1.0"`).
    pub fn scalar_text(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } if !self.is_null() => Some(text),
            _ => None,
        }
    }

    /// Whether the node is null (`~`, `null`, or empty).
    pub fn is_null(&self) -> bool {
        matches!(self.scalar(), Some(Scalar::Null))
    }

    /// The mapping's entries.
    pub fn entries(&self) -> Option<&[Entry]> {
        match &self.value {
            Value::Map(e) => Some(e),
            _ => None,
        }
    }

    /// The sequence's items.
    pub fn items(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(i) => Some(i),
            _ => None,
        }
    }

    /// The entry of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries()?.iter().find(|e| e.key == key)
    }

    /// "a string", "a list"... for error messages.
    pub fn kind_name(&self) -> &'static str {
        match &self.value {
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
            Value::Scalar { .. } => match self.scalar() {
                Some(Scalar::Null) => "nothing (null)",
                Some(Scalar::Bool(_)) => "a boolean",
                Some(Scalar::Int(_)) | Some(Scalar::Float(_)) => "a number",
                _ => "a string",
            },
        }
    }

    /// The node as JSON (non-finite floats become strings).
    pub fn to_json(&self) -> Json {
        match &self.value {
            Value::Seq(items) => Json::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => {
                let mut map = serde_json::Map::new();
                for e in entries {
                    map.entry(e.key.clone())
                        .or_insert_with(|| e.value.to_json());
                }
                Json::Object(map)
            }
            Value::Scalar { text, .. } => match self.scalar() {
                Some(Scalar::Null) => Json::Null,
                Some(Scalar::Bool(b)) => Json::Bool(b),
                Some(Scalar::Int(i)) => Json::from(i),
                Some(Scalar::Float(f)) => serde_json::Number::from_f64(f)
                    .map(Json::Number)
                    .unwrap_or_else(|| Json::String(text.clone())),
                _ => Json::String(text.clone()),
            },
        }
    }

    /// The position of the field at `path` (`spec.hooks[2].timeout`, relative to this
    /// node): the key's position for a mapping key, the item's for an index. Stops at the
    /// deepest part that exists.
    pub fn find(&self, path: &str) -> Pos {
        let mut node = self;
        let mut pos = self.pos;
        for seg in split_path(path) {
            let next = match seg {
                Seg::Key(k) => node.get(k).map(|e| (e.key_pos, &e.value)),
                Seg::Index(i) => node
                    .items()
                    .and_then(|items| items.get(i))
                    .map(|n| (n.pos, n)),
            };
            match next {
                Some((p, n)) => {
                    pos = p;
                    node = n;
                }
                None => break,
            }
        }
        pos
    }
}

enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// `a.b[2].c` -> `a`, `b`, `[2]`, `c`.
fn split_path(path: &str) -> Vec<Seg<'_>> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            out.push(Seg::Key(key));
        }
        while let Some(stripped) = rest.strip_prefix('[') {
            let Some(end) = stripped.find(']') else { break };
            match stripped[..end].parse() {
                Ok(i) => out.push(Seg::Index(i)),
                Err(_) => out.push(Seg::Key(&stripped[..end])),
            }
            rest = &stripped[end + 1..];
        }
    }
    out
}

/// YAML 1.2 core schema resolution of a plain scalar.
fn resolve_plain(text: &str) -> Scalar<'_> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "true" | "True" | "TRUE" => return Scalar::Bool(true),
        "false" | "False" | "FALSE" => return Scalar::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Scalar::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        _ => {}
    }
    let radix = match (text.strip_prefix("0x"), text.strip_prefix("0o")) {
        (Some(hex), _) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            i64::from_str_radix(hex, 16).ok()
        }
        (_, Some(oct)) if !oct.is_empty() && oct.bytes().all(|b| matches!(b, b'0'..=b'7')) => {
            i64::from_str_radix(oct, 8).ok()
        }
        _ => None,
    };
    if let Some(i) = radix {
        return Scalar::Int(i);
    }
    let numeric = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
        && text.bytes().any(|b| b.is_ascii_digit());
    if numeric {
        if let Ok(i) = text.parse::<i64>() {
            return Scalar::Int(i);
        }
        if let Ok(f) = text.parse::<f64>() {
            return Scalar::Float(f);
        }
    }
    Scalar::Str(text)
}

/// A collection being built.
enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<Entry>,
        seen: HashMap<String, Pos>,
        key: Option<(String, Pos)>,
    },
}

/// The documents of a YAML stream, and the problems found. A syntax error ends the parse
/// (the documents completed before it are kept); duplicate keys and non-scalar keys are
/// reported and parsing goes on. `line_offset` is added to every line (front matter).
pub(crate) fn parse(text: &str, line_offset: usize) -> (Vec<Node>, Vec<YamlError>) {
    let mut b = Builder {
        line_offset,
        docs: Vec::new(),
        errors: Vec::new(),
        stack: Vec::new(),
        anchors: HashMap::new(),
        alias_budget: MAX_ALIAS_NODES,
    };
    let mut parser = Parser::new_from_str(text);
    while let Some(next) = parser.next_event() {
        let (event, span) = match next {
            Ok(ev) => ev,
            Err(e) => {
                let m = e.marker();
                b.errors.push(YamlError {
                    pos: Pos {
                        line: m.line() + line_offset,
                        column: m.col() + 1,
                    },
                    message: format!("invalid YAML: {}", e.info()),
                });
                break;
            }
        };
        if let Err(e) = b.event(event, span) {
            b.errors.push(e);
            break;
        }
    }
    (b.docs, b.errors)
}

struct Builder {
    line_offset: usize,
    docs: Vec<Node>,
    errors: Vec<YamlError>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    alias_budget: usize,
}

impl Builder {
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), YamlError> {
        let pos = Pos::of(&span, self.line_offset);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let forced_str = tag
                    .as_ref()
                    .is_some_and(|t| t.is_yaml_core_schema() && t.suffix == "str");
                let node = Node {
                    pos,
                    value: Value::Scalar {
                        text: text.into_owned(),
                        plain: style == ScalarStyle::Plain && !forced_str,
                    },
                };
                self.complete(node, anchor)
            }
            Event::SequenceStart(anchor, _) => {
                self.open(pos)?;
                self.stack.push(Frame::Seq {
                    pos,
                    anchor,
                    items: Vec::new(),
                });
                Ok(())
            }
            Event::MappingStart(anchor, _) => {
                self.open(pos)?;
                self.stack.push(Frame::Map {
                    pos,
                    anchor,
                    entries: Vec::new(),
                    seen: HashMap::new(),
                    key: None,
                });
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Frame::Seq { pos, anchor, items }) => (
                        Node {
                            pos,
                            value: Value::Seq(items),
                        },
                        anchor,
                    ),
                    Some(Frame::Map {
                        pos,
                        anchor,
                        entries,
                        ..
                    }) => (
                        Node {
                            pos,
                            value: Value::Map(entries),
                        },
                        anchor,
                    ),
                    None => return Err(err(pos, "unbalanced collection end")),
                };
                self.complete(node, anchor)
            }
            Event::Alias(id) => {
                let Some(target) = self.anchors.get(&id) else {
                    return Err(err(pos, "alias to an anchor that is not defined yet"));
                };
                let size = count_nodes(target, self.alias_budget.saturating_add(1));
                if size > self.alias_budget {
                    return Err(err(
                        pos,
                        format!(
                            "aliases expand to more than {MAX_ALIAS_NODES} nodes (an alias bomb?)"
                        ),
                    ));
                }
                self.alias_budget -= size;
                let mut node = target.clone();
                node.pos = pos;
                self.complete(node, 0)
            }
            Event::DocumentStart(_)
            | Event::DocumentEnd
            | Event::StreamStart
            | Event::StreamEnd
            | Event::Nothing => Ok(()),
        }
    }

    fn open(&mut self, pos: Pos) -> Result<(), YamlError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(err(pos, format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    fn complete(&mut self, node: Node, anchor: usize) -> Result<(), YamlError> {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries, seen, key, ..
            }) => match key.take() {
                None => {
                    let text = match &node.value {
                        Value::Scalar { text, .. } => text.clone(),
                        _ => {
                            self.errors.push(err(
                                node.pos,
                                format!("a key must be a plain value, got {}", node.kind_name()),
                            ));
                            String::from("?")
                        }
                    };
                    *key = Some((text, node.pos));
                }
                Some((k, key_pos)) => {
                    if let Some(first) = seen.get(&k) {
                        self.errors.push(err(
                            key_pos,
                            format!("duplicate key `{k}` (first at line {})", first.line),
                        ));
                    } else {
                        seen.insert(k.clone(), key_pos);
                        entries.push(Entry {
                            key: k,
                            key_pos,
                            value: node,
                        });
                    }
                }
            },
        }
        Ok(())
    }
}

fn err(pos: Pos, message: impl Into<String>) -> YamlError {
    YamlError {
        pos,
        message: message.into(),
    }
}

/// Nodes in `node`, counting no further than `cap`.
fn count_nodes(node: &Node, cap: usize) -> usize {
    let mut count = 0usize;
    let mut todo = vec![node];
    while let Some(n) = todo.pop() {
        count += 1;
        if count > cap {
            break;
        }
        match &n.value {
            Value::Seq(items) => todo.extend(items.iter()),
            Value::Map(entries) => todo.extend(entries.iter().map(|e| &e.value)),
            Value::Scalar { .. } => {}
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Node {
        let (mut docs, errors) = parse(text, 0);
        assert!(errors.is_empty(), "{errors:?}");
        docs.remove(0)
    }

    #[test]
    fn positions_point_at_keys_and_items() {
        let doc = one("a: 1\nspec:\n  tools:\n    - grep\n    - grepp\n");
        assert_eq!(doc.find("spec.tools[1]"), Pos { line: 5, column: 7 });
        assert_eq!(doc.find("spec.tools"), Pos { line: 3, column: 3 });
        assert_eq!(doc.find("spec.missing"), Pos { line: 2, column: 1 });
    }

    #[test]
    fn scalars_resolve_with_the_core_schema_and_keep_their_text() {
        let doc = one("a: 1.0\nb: '1'\nc: ~\nd: yes\ne: 0x1f\nf: .inf\ng: -3\n");
        assert_eq!(
            doc.get("a").map(|e| e.value.scalar()),
            Some(Some(Scalar::Float(1.0)))
        );
        assert_eq!(
            doc.get("a").and_then(|e| e.value.scalar_text()),
            Some("1.0")
        );
        assert_eq!(doc.get("b").and_then(|e| e.value.as_str()), Some("1"));
        assert!(doc.get("c").is_some_and(|e| e.value.is_null()));
        assert_eq!(doc.get("d").and_then(|e| e.value.as_str()), Some("yes"));
        assert_eq!(
            doc.get("e").map(|e| e.value.scalar()),
            Some(Some(Scalar::Int(31)))
        );
        assert_eq!(
            doc.get("g").map(|e| e.value.scalar()),
            Some(Some(Scalar::Int(-3)))
        );
        assert_eq!(
            doc.get("f").map(|e| e.value.to_json()),
            Some(Json::String(".inf".into()))
        );
    }

    #[test]
    fn duplicate_keys_are_reported_at_the_second() {
        let (_, errors) = parse("a: 1\nb: 2\na: 3\n", 0);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].pos, Pos { line: 3, column: 1 });
    }

    #[test]
    fn alias_bombs_and_deep_nesting_are_refused() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..8 {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("l{}", i - 1)
            };
            bomb.push_str(&format!(
                "l{i}: &l{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
        }
        let (_, errors) = parse(&bomb, 0);
        assert!(errors[0].message.contains("alias bomb"), "{errors:?}");
        let deep = "[".repeat(200) + &"]".repeat(200);
        let (_, errors) = parse(&deep, 0);
        assert!(errors[0].message.contains("nesting"), "{errors:?}");
    }

    #[test]
    fn several_documents_and_line_offsets() {
        let (docs, errors) = parse("a: 1\n---\nb: 2\n", 1);
        assert!(errors.is_empty());
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].find("b"), Pos { line: 4, column: 1 });
    }
}
