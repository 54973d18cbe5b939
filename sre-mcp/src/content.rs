//! Mapping MCP tool results (wire JSON) to the text the model sees.
//!
//! Works on the wire format (`serde_json::Value`) rather than SDK types, so SDK churn does
//! not reach it and every content kind the spec defines is handled even if the SDK adds
//! variants.

use serde_json::Value;
use sre_core::ToolOutput;

/// Map a `CallToolResult` (as JSON) to a [`ToolOutput`].
///
/// Text blocks are kept verbatim; images and audio become placeholders such as
/// `[image: image/png, 12345 bytes]`; resource links become `[resource link: ...]`;
/// embedded text resources are inlined; `structuredContent` is appended as JSON, without
/// what the text blocks already show (see [`SAME_AS_TEXT`]); `isError` sets `is_error`.
pub fn map_call_result(result: &Value) -> ToolOutput {
    let is_error = result
        .get("isError")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut parts: Vec<String> = Vec::new();
    let blocks = result
        .get("content")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for block in blocks {
        parts.push(map_block(block));
    }
    if let Some(structured) = result.get("structuredContent").filter(|v| !v.is_null())
        && let Some(json) = structured_text(blocks, structured)
    {
        if parts.is_empty() {
            parts.push(json);
        } else {
            parts.push(format!("structured content:\n{json}"));
        }
    }
    if let Some(task) = result.get("task") {
        // A task result (SEP-2663) that we could not follow: say so rather than hide it.
        parts.push(format!(
            "[task created: {}]",
            serde_json::to_string(task).unwrap_or_default()
        ));
    }
    ToolOutput {
        content: parts.join("\n"),
        is_error,
    }
}

/// Stands for a string of `structuredContent` that a text block already shows whole.
pub const SAME_AS_TEXT: &str = "[same as the text above]";

/// What to show of `structuredContent` next to the content blocks, or `None` when the text
/// blocks already carry all of it. Servers often send one payload twice (a filesystem
/// server's file read: the file as text and again as `{"content": <the file>}`), which
/// would double what the model reads. So:
/// * a text block that parses as JSON equal to `structuredContent` makes it redundant;
/// * every string inside it that equals a whole text block is replaced by
///   [`SAME_AS_TEXT`]; if nothing else is left (no number, boolean, null or other
///   string), it is redundant;
/// * otherwise it is shown (pretty JSON), with those strings replaced.
fn structured_text(blocks: &[Value], structured: &Value) -> Option<String> {
    let texts: Vec<&str> = blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    let json_equal = texts
        .iter()
        .filter_map(|t| serde_json::from_str::<Value>(t).ok())
        .any(|v| &v == structured);
    if json_equal {
        return None;
    }
    let (shown, has_more) = elide(structured, &texts);
    has_more.then(|| serde_json::to_string_pretty(&shown).unwrap_or_default())
}

/// `value` with strings equal to one of `texts` replaced by [`SAME_AS_TEXT`], and whether
/// anything else (a scalar that is not such a string) remains.
fn elide(value: &Value, texts: &[&str]) -> (Value, bool) {
    match value {
        Value::String(s) if texts.contains(&s.as_str()) => {
            (Value::String(SAME_AS_TEXT.to_string()), false)
        }
        Value::Array(items) => {
            let mut more = false;
            let items = items
                .iter()
                .map(|v| {
                    let (v, m) = elide(v, texts);
                    more |= m;
                    v
                })
                .collect();
            (Value::Array(items), more)
        }
        Value::Object(map) => {
            let mut more = false;
            let map = map
                .iter()
                .map(|(k, v)| {
                    let (v, m) = elide(v, texts);
                    more |= m;
                    (k.clone(), v)
                })
                .collect();
            (Value::Object(map), more)
        }
        other => (other.clone(), true),
    }
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// Decoded size of a base64 payload (without decoding it).
pub(crate) fn base64_decoded_len(data: &str) -> usize {
    let trimmed = data.trim_end();
    let len = trimmed.bytes().filter(|b| !b.is_ascii_whitespace()).count();
    let padding = trimmed.bytes().rev().take_while(|b| *b == b'=').count();
    (len / 4) * 3
        + match len % 4 {
            2 => 1,
            3 => 2,
            _ => 0,
        }
        - padding.min((len / 4) * 3)
}

fn map_block(block: &Value) -> String {
    let kind = str_field(block, "type").unwrap_or("unknown");
    match kind {
        "text" => str_field(block, "text").unwrap_or_default().to_string(),
        "image" | "audio" => {
            let mime = str_field(block, "mimeType").unwrap_or("application/octet-stream");
            let bytes = base64_decoded_len(str_field(block, "data").unwrap_or_default());
            format!("[{kind}: {mime}, {bytes} bytes]")
        }
        "resource_link" => {
            let uri = str_field(block, "uri").unwrap_or_default();
            let name = str_field(block, "name").unwrap_or(uri);
            let mut s = format!("[resource link: {name} <{uri}>");
            if let Some(mime) = str_field(block, "mimeType") {
                s.push_str(&format!(", {mime}"));
            }
            if let Some(desc) = str_field(block, "description") {
                s.push_str(&format!(": {desc}"));
            }
            s.push(']');
            s
        }
        "resource" => {
            let res = block.get("resource").unwrap_or(&Value::Null);
            let uri = str_field(res, "uri").unwrap_or_default();
            let mime = str_field(res, "mimeType");
            if let Some(text) = str_field(res, "text") {
                format!("[resource: {uri}]\n{text}")
            } else {
                let bytes = base64_decoded_len(str_field(res, "blob").unwrap_or_default());
                format!(
                    "[resource: {uri}, {}, {bytes} bytes]",
                    mime.unwrap_or("application/octet-stream")
                )
            }
        }
        other => format!(
            "[{other} content: {}]",
            serde_json::to_string(block).unwrap_or_default()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn maps_every_kind() {
        let r = json!({
            "content": [
                {"type": "text", "text": "hello"},
                {"type": "image", "mimeType": "image/png", "data": "AAAA"},
                {"type": "resource_link", "uri": "file:///a", "name": "a", "mimeType": "text/plain"},
                {"type": "resource", "resource": {"uri": "mem://x", "text": "inline"}},
                {"type": "resource", "resource": {"uri": "mem://y", "blob": "AAE=", "mimeType": "application/zip"}}
            ],
            "structuredContent": {"sum": 3},
            "isError": true
        });
        let out = map_call_result(&r);
        assert!(out.is_error);
        assert_eq!(
            out.content,
            "hello\n[image: image/png, 3 bytes]\n[resource link: a <file:///a>, text/plain]\n\
             [resource: mem://x]\ninline\n[resource: mem://y, application/zip, 2 bytes]\n\
             structured content:\n{\n  \"sum\": 3\n}"
        );
    }

    #[test]
    fn structured_duplicate_of_text_is_not_repeated() {
        let r = json!({
            "content": [{"type": "text", "text": "{\"sum\": 3}"}],
            "structuredContent": {"sum": 3}
        });
        assert_eq!(map_call_result(&r).content, "{\"sum\": 3}");
        let only = json!({"content": [], "structuredContent": {"a": 1}});
        assert_eq!(map_call_result(&only).content, "{\n  \"a\": 1\n}");
    }

    #[test]
    fn text_repeated_inside_structured_content_is_shown_once() {
        let file = "line 1\nline 2\n".repeat(100);
        // A filesystem server's read: the file as text, and as {"content": file}.
        let read = json!({
            "content": [{"type": "text", "text": file}],
            "structuredContent": {"content": file}
        });
        assert_eq!(map_call_result(&read).content, file);
        // Other facts of the structured content are kept; the repeated text is not.
        let stat = json!({
            "content": [{"type": "text", "text": file}],
            "structuredContent": {"content": file, "size": 1400, "lines": ["other"]}
        });
        assert_eq!(
            map_call_result(&stat).content,
            format!(
                "{file}\nstructured content:\n{}",
                serde_json::to_string_pretty(
                    &json!({"content": SAME_AS_TEXT, "size": 1400, "lines": ["other"]})
                )
                .unwrap()
            )
        );
        // Different text: both are kept.
        let both = json!({
            "content": [{"type": "text", "text": "summary"}],
            "structuredContent": {"content": "details"}
        });
        assert_eq!(
            map_call_result(&both).content,
            "summary\nstructured content:\n{\n  \"content\": \"details\"\n}"
        );
    }

    #[test]
    fn base64_len() {
        assert_eq!(base64_decoded_len(""), 0);
        assert_eq!(base64_decoded_len("Zg=="), 1);
        assert_eq!(base64_decoded_len("Zm8="), 2);
        assert_eq!(base64_decoded_len("Zm9v"), 3);
    }
}
