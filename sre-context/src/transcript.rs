//! Transcript invariants every rewrite keeps: each `tool_use` has its `tool_result` and each
//! result its use, no message is empty, and the first message is a user message.

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use sre_core::{ContentBlock, Message, Role};

/// Opening tag of a dynamic layer update appended by the loop.
pub(crate) fn context_update_prefix(layer: &str) -> String {
    format!("<context-update layer=\"{layer}\">")
}

/// The layer a `<context-update layer="...">` text block is for.
pub(crate) fn context_update_layer(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("<context-update layer=\"")?;
    let end = rest.find('"')?;
    Some(&rest[..end])
}

/// The text of a context update for `layer`, as the loop writes it.
pub(crate) fn context_update(layer: &str, text: &str) -> String {
    format!(
        "{}\n{text}\n</context-update>",
        context_update_prefix(layer)
    )
}

/// Tool name and input of every tool call, by call id.
pub(crate) fn tool_calls(messages: &[Message]) -> HashMap<&str, (&str, &Value)> {
    let mut out = HashMap::new();
    for m in messages {
        if m.role == Role::Assistant {
            for (id, name, input) in m.tool_uses() {
                out.insert(id, (name, input));
            }
        }
    }
    out
}

/// Whether the transcript keeps every invariant (see the module doc): the checks of
/// [`sre_core::validate_transcript`], which a provider request must also pass. Returns the
/// first violation found.
pub fn check(messages: &[Message]) -> Result<(), String> {
    sre_core::validate_transcript(messages).map_err(|e| e.to_string())
}

/// Restore the invariants after messages were dropped from the front: remove results whose
/// use is gone and uses whose result is gone (the last message may keep pending calls),
/// drop messages left empty, and make the first message a user message (prepending `note`
/// if needed).
pub fn repair(messages: Vec<Message>, note: &str) -> Vec<Message> {
    let n = messages.len();
    // Uses answered in the next message; results whose use is in the previous message.
    let mut keep_use: HashSet<String> = HashSet::new();
    let mut keep_result: HashSet<(usize, String)> = HashSet::new();
    for (i, m) in messages.iter().enumerate() {
        if m.role != Role::Assistant {
            continue;
        }
        let next = messages.get(i + 1).filter(|n| n.role == Role::User);
        for (id, _, _) in m.tool_uses() {
            let answered = next.is_some_and(|n| {
                n.content.iter().any(|b| {
                    matches!(b, ContentBlock::ToolResult { tool_use_id, .. } if tool_use_id == id)
                })
            });
            if answered {
                keep_use.insert(id.to_string());
                keep_result.insert((i + 1, id.to_string()));
            } else if i + 1 == n {
                keep_use.insert(id.to_string());
            }
        }
    }
    let mut out: Vec<Message> = Vec::with_capacity(n + 1);
    for (i, mut m) in messages.into_iter().enumerate() {
        m.content.retain(|b| match b {
            ContentBlock::ToolUse { id, .. } => m.role == Role::Assistant && keep_use.contains(id),
            ContentBlock::ToolResult { tool_use_id, .. } => {
                keep_result.contains(&(i, tool_use_id.clone()))
            }
            _ => true,
        });
        if !m.content.is_empty() {
            out.push(m);
        }
    }
    if out.first().is_some_and(|m| m.role != Role::User) {
        out.insert(0, Message::user(note));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn use_msg(ids: &[&str]) -> Message {
        Message {
            role: Role::Assistant,
            content: ids
                .iter()
                .map(|id| ContentBlock::ToolUse {
                    id: id.to_string(),
                    name: "t".into(),
                    input: json!({}),
                })
                .collect(),
        }
    }

    fn result_msg(ids: &[&str]) -> Message {
        Message {
            role: Role::User,
            content: ids
                .iter()
                .map(|id| ContentBlock::ToolResult {
                    tool_use_id: id.to_string(),
                    content: "out".into(),
                    is_error: false,
                })
                .collect(),
        }
    }

    #[test]
    fn repair_drops_orphans_and_starts_with_a_user_message() {
        let t = vec![
            result_msg(&["a"]),
            use_msg(&["b"]),
            result_msg(&["b"]),
            use_msg(&["c"]),
        ];
        assert!(check(&t).is_err());
        let fixed = repair(t, "[dropped]");
        check(&fixed).unwrap();
        assert_eq!(fixed[0], Message::user("[dropped]"));
        assert_eq!(fixed.len(), 4);
    }

    #[test]
    fn every_suffix_of_a_transcript_repairs_to_a_valid_one() {
        let mut t = vec![Message::user("task")];
        for k in 0..6 {
            let a = format!("x{k}");
            let b = format!("y{k}");
            t.push(use_msg(&[&a, &b]));
            t.push(result_msg(&[&a, &b]));
            t.push(Message::user(
                "<context-update layer=\"s\">\n1\n</context-update>",
            ));
        }
        check(&t).unwrap();
        for start in 0..t.len() {
            let fixed = repair(t[start..].to_vec(), "[dropped]");
            check(&fixed).unwrap_or_else(|e| panic!("start {start}: {e}"));
        }
    }
}
