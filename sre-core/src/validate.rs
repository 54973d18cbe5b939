//! Request validation before sending: a harness bug surfaces as a clear local error
//! instead of a provider's HTTP 400.

use std::collections::{HashMap, HashSet};

use crate::error::ModelError;
use crate::message::{ContentBlock, Message, Role};
use crate::model::ModelRequest;

/// Check that `request` is well formed: at least one message, the first from the user;
/// no empty message and no empty text block; tool-use ids unique; every tool use answered
/// by exactly one tool result in the next message, and no result without its use; tool
/// names unique and schemas JSON objects of `type: object`.
pub fn validate_request(request: &ModelRequest) -> Result<(), ModelError> {
    let bad = |message: String| Err(ModelError::InvalidRequest { message });
    let mut names = HashSet::new();
    for (i, tool) in request.tools.iter().enumerate() {
        if !names.insert(tool.name.as_str()) {
            return bad(format!(
                "tools[{i}]: the name `{}` is used twice",
                tool.name
            ));
        }
        let is_object = tool.input_schema.get("type").and_then(|t| t.as_str()) == Some("object");
        if !is_object {
            return bad(format!(
                "tools[{i}] (`{}`): input_schema must be a JSON schema with \"type\": \"object\"",
                tool.name
            ));
        }
    }
    validate_transcript(&request.messages)?;
    let pending = request.messages.last().filter(|m| m.has_tool_uses());
    if let Some((id, ..)) = pending.and_then(|m| m.tool_uses().next()) {
        return bad(format!(
            "tool use `{id}` in messages[{}] has no result (the request ends with unanswered tool calls)",
            request.messages.len() - 1
        ));
    }
    Ok(())
}

/// Check a transcript's invariants: at least one message, the first from the user; no
/// empty message and no empty text block; tool-use ids unique, only in assistant messages;
/// every tool use answered by exactly one result in the next message and no result without
/// its use. The last message may be an assistant message whose calls have not run yet.
/// (Budgets use this to check a rewritten transcript; [`validate_request`] adds that a
/// request has no unanswered calls.)
pub fn validate_transcript(messages: &[Message]) -> Result<(), ModelError> {
    let bad = |message: String| Err(ModelError::InvalidRequest { message });
    match messages.first() {
        None => return bad("the request has no messages".into()),
        Some(m) if m.role != Role::User => return bad("messages[0] must be a user message".into()),
        _ => {}
    }
    let mut ids = HashSet::new();
    // tool_use id -> index of the message that asked for it, while unanswered
    let mut pending: HashMap<&str, usize> = HashMap::new();
    for (i, message) in messages.iter().enumerate() {
        if message.content.is_empty() {
            return bad(format!("messages[{i}] has no content"));
        }
        for (j, block) in message.content.iter().enumerate() {
            match block {
                ContentBlock::Text { text } if text.is_empty() => {
                    return bad(format!("messages[{i}].content[{j}] is an empty text block"));
                }
                ContentBlock::ToolUse { id, name, .. } => {
                    if message.role != Role::Assistant {
                        return bad(format!(
                            "messages[{i}].content[{j}]: tool use `{id}` in a user message"
                        ));
                    }
                    if !ids.insert(id.as_str()) {
                        return bad(format!(
                            "messages[{i}].content[{j}]: tool use id `{id}` ({name}) is not unique"
                        ));
                    }
                    pending.insert(id, i);
                }
                ContentBlock::ToolResult { tool_use_id, .. } => {
                    match pending.remove(tool_use_id.as_str()) {
                        Some(asked) if asked + 1 == i => {}
                        Some(asked) => {
                            return bad(format!(
                                "messages[{i}].content[{j}]: result for `{tool_use_id}` does not directly follow its use in messages[{asked}]"
                            ));
                        }
                        None => {
                            return bad(format!(
                                "messages[{i}].content[{j}]: result for `{tool_use_id}` has no matching tool use (or a second result)"
                            ));
                        }
                    }
                }
                _ => {}
            }
        }
        // Every use asked two messages ago or earlier must be answered by now.
        if let Some((id, asked)) = pending.iter().find(|(_, asked)| **asked < i) {
            return bad(format!(
                "tool use `{id}` in messages[{asked}] has no result in messages[{}]",
                asked + 1
            ));
        }
    }
    // Uses still pending are in the last message: calls not run yet.
    Ok(())
}
