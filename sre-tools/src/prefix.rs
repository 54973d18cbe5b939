//! `prefix_report`: where two model requests, as sent on the wire, stop sharing a prefix
//! (what a provider's prompt cache can reuse), with the text around the first difference.

use std::io::Read;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use sre_core::{ToolAnnotations, ToolContext, ToolError, ToolOutput, TypedTool, prefix_report};

use crate::beneath::OpenError;
use crate::error::{Error, Result};
use crate::files::blocking;
use crate::workspace::{Access, Workspace};

/// Largest request body read (a request body is rarely over a few MiB).
const MAX_BODY_BYTES: u64 = 16 * 1024 * 1024;
/// Characters shown on each side of the first difference.
const AROUND: usize = 80;

/// Arguments of `prefix_report`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrefixReportArgs {
    /// The earlier request body (a JSON file as sent to the provider), relative to the
    /// workspace root.
    pub previous: String,
    /// The later request body.
    pub next: String,
}

/// `prefix_report`: compare two request bodies the way a prompt cache sees them.
#[derive(Clone, Debug)]
pub struct PrefixReportTool {
    ws: Workspace,
}

impl PrefixReportTool {
    /// `prefix_report` over `ws`.
    pub fn new(ws: Workspace) -> Self {
        PrefixReportTool { ws }
    }

    fn read(&self, path: &str) -> Result<Vec<u8>> {
        let r = self.ws.resolve(path, Access::Read)?;
        let file = match self.ws.anchor().read(self.ws.rel_path(&r.host)?) {
            Err(OpenError::NotRegular(_)) => {
                return Err(Error::InvalidArgument(format!("`{}` is not a file", r.rel)));
            }
            other => other.map_err(|e| Error::open(e, "reading", &r.rel))?,
        };
        let mut bytes = Vec::new();
        file.take(MAX_BODY_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io("reading", &r.rel, e))?;
        if bytes.len() as u64 > MAX_BODY_BYTES {
            return Err(Error::InvalidArgument(format!(
                "`{}` is over {} MiB; a request body is not that large",
                r.rel,
                MAX_BODY_BYTES >> 20
            )));
        }
        Ok(bytes)
    }

    /// The report, synchronously.
    pub fn report(&self, args: &PrefixReportArgs) -> Result<String> {
        let previous = self.read(&args.previous)?;
        let next = self.read(&args.next)?;
        let r = prefix_report(&previous, &next);
        let mut out = format!(
            "previous: {} ({} bytes in cache order)\nnext: {} ({} bytes in cache order)\n\
             common prefix: {} bytes (~{} tokens at 4 bytes a token), {:.1}% of the previous\n",
            args.previous,
            r.previous_bytes,
            args.next,
            r.next_bytes,
            r.common_bytes,
            r.common_tokens_estimate,
            r.reuse_ratio() * 100.0
        );
        match &r.first_difference {
            None => out.push_str("first difference: none (the next request only appends)\n"),
            Some(path) => {
                out.push_str(&format!("first difference: {path}\n"));
                if let (Ok(a), Ok(b)) = (
                    serde_json::from_slice::<Value>(&previous),
                    serde_json::from_slice::<Value>(&next),
                ) && let (Some(Value::String(a)), Some(Value::String(b))) =
                    (at_path(&a, path), at_path(&b, path))
                {
                    let (before, a_after, b_after) = around(a, b);
                    out.push_str(&format!(
                        "  common text before it: ...{before:?}\n  previous goes on: {a_after:?}...\n  next goes on:     {b_after:?}...\n"
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// The value at a path such as `messages[0].content` (the form `prefix_report` names).
fn at_path<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = v;
    for segment in path.split('.') {
        let (key, rest) = segment
            .split_once('[')
            .map_or((segment, ""), |(k, r)| (k, r));
        if !key.is_empty() {
            cur = cur.get(key)?;
        }
        for index in rest.split('[').filter(|s| !s.is_empty()) {
            cur = cur.get(index.strip_suffix(']')?.parse::<usize>().ok()?)?;
        }
    }
    Some(cur)
}

/// The common text just before the first differing character, and what follows it in each.
fn around<'a>(a: &'a str, b: &'a str) -> (&'a str, &'a str, &'a str) {
    let mut at = a
        .char_indices()
        .zip(b.chars())
        .find(|((_, ca), cb)| ca != cb)
        .map_or(a.len().min(b.len()), |((i, _), _)| i);
    while !a.is_char_boundary(at) || !b.is_char_boundary(at) {
        at -= 1;
    }
    let start = a[..at]
        .char_indices()
        .rev()
        .nth(AROUND - 1)
        .map_or(0, |(i, _)| i);
    let end = |s: &'a str| -> &'a str {
        let rest = &s[at..];
        rest.char_indices()
            .nth(AROUND)
            .map_or(rest, |(i, _)| &rest[..i])
    };
    (&a[start..at], end(a), end(b))
}

#[async_trait]
impl TypedTool for PrefixReportTool {
    type Args = PrefixReportArgs;

    fn name(&self) -> &str {
        "prefix_report"
    }

    fn description(&self) -> &str {
        "Compare two model request bodies (JSON files as sent to the provider) the way a prompt \
         cache does: the common prefix in bytes and estimated tokens, the share of the earlier \
         request it reuses, the first JSON path where they differ and the text around it. Use it \
         to prove where a prompt stops being cacheable."
    }

    fn annotations(&self) -> ToolAnnotations {
        ToolAnnotations::read_only()
    }

    async fn run(
        &self,
        args: PrefixReportArgs,
        _ctx: &ToolContext,
    ) -> Result<ToolOutput, ToolError> {
        let this = self.clone();
        Ok(ToolOutput::ok(blocking(move || this.report(&args)).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool_over(files: &[(&str, &[u8])]) -> (tempfile::TempDir, PrefixReportTool) {
        let dir = tempfile::tempdir().unwrap();
        for (name, body) in files {
            std::fs::write(dir.path().join(name), body).unwrap();
        }
        let ws = Workspace::builder(dir.path()).build().unwrap();
        (dir, PrefixReportTool::new(ws))
    }

    fn args(previous: &str, next: &str) -> PrefixReportArgs {
        PrefixReportArgs {
            previous: previous.into(),
            next: next.into(),
        }
    }

    #[test]
    fn a_report_names_where_two_bodies_part_and_the_text_around_it() {
        let a =
            br#"{"model":"m","messages":[{"role":"system","content":"static part. tenant A"}]}"#;
        let b =
            br#"{"model":"m","messages":[{"role":"system","content":"static part. tenant B"}]}"#;
        let grown = br#"{"model":"m","messages":[{"role":"system","content":"static part. tenant A"},{"role":"user","content":"q"}]}"#;
        let (_d, tool) = tool_over(&[("a.json", a), ("b.json", b), ("c.json", grown)]);
        let out = tool.report(&args("a.json", "b.json")).unwrap();
        assert!(
            out.contains("first difference: messages[0].content\n"),
            "{out}"
        );
        assert!(
            out.contains(r#"common text before it: ..."static part. tenant "#),
            "{out}"
        );
        assert!(out.contains(r#"previous goes on: "A"..."#), "{out}");
        assert!(out.contains(r#"next goes on:     "B"..."#), "{out}");
        let out = tool.report(&args("a.json", "c.json")).unwrap();
        assert!(out.contains("first difference: none"), "{out}");
    }

    #[test]
    fn bad_paths_and_bodies_are_clear_errors_or_raw_comparisons() {
        let (dir, tool) = tool_over(&[("a.json", b"not json"), ("b.json", b"not json!")]);
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let out = tool.report(&args("a.json", "b.json")).unwrap();
        assert!(out.contains("common prefix: 8 bytes"), "{out}");
        let e = tool.report(&args("missing.json", "b.json")).unwrap_err();
        assert!(e.to_string().contains("missing.json"), "{e}");
        let e = tool.report(&args("sub", "b.json")).unwrap_err();
        assert!(e.to_string().contains("not a file"), "{e}");
        assert!(tool.report(&args("../x", "b.json")).is_err());
        let huge = vec![b' '; (MAX_BODY_BYTES + 1) as usize];
        std::fs::write(dir.path().join("huge.json"), huge).unwrap();
        let e = tool.report(&args("huge.json", "b.json")).unwrap_err();
        assert!(e.to_string().contains("is over 16 MiB"), "{e}");
    }

    #[test]
    fn a_path_names_nested_values() {
        let v = serde_json::json!({"messages": [{"content": [{"text": "x"}]}]});
        assert_eq!(
            at_path(&v, "messages[0].content[0].text"),
            Some(&Value::from("x"))
        );
        assert_eq!(at_path(&v, "messages[3].content"), None);
        assert_eq!(at_path(&v, "messages[x]"), None);
        assert_eq!(at_path(&v, "(root)"), None);
    }

    #[test]
    fn the_text_around_the_first_difference_is_cut_on_character_boundaries() {
        let a = format!("{}é policies", "é".repeat(100));
        let b = format!("{}é context", "é".repeat(100));
        let (before, x, y) = around(&a, &b);
        assert_eq!(before.chars().count(), AROUND);
        assert_eq!((x, y), ("policies", "context"));
        assert_eq!(around("same", "same"), ("same", "", ""));
        assert_eq!(around("ab", "abc"), ("ab", "", "c"));
    }
}
