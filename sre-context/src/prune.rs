//! Pruning: replace old tool outputs (and oversized tool-call arguments) by short stubs
//! that say what was there and where the full output lives, oldest first, in one batch.
//!
//! Never touched: the last `keep_recent_turns` turns, text written by the user or the model,
//! and the latest `<context-update>` of each layer (so the pinned state survives). Older
//! updates of a layer, superseded by a newer one, are stubbed like tool outputs.

use std::collections::HashMap;

use regex::Regex;
use serde_json::{Map, Value};
use sre_core::{ContentBlock, Message, Role};

use crate::tokens::Estimator;
use crate::transcript::{context_update_layer, context_update_prefix, tool_calls};

/// Marker that starts every stub (stubs are never pruned again).
pub const STUB_MARKER: &str = "[pruned";

/// What pruning may touch.
#[derive(Clone, Debug)]
pub struct PruneConfig {
    /// Turns (assistant messages, with the messages after them) never pruned. Default 3.
    pub keep_recent_turns: usize,
    /// Tool outputs smaller than this many tokens are left alone. Default 150.
    pub min_output_tokens: u64,
    /// Tool-call arguments larger than this many tokens are stubbed. Default 400.
    pub max_argument_tokens: u64,
    /// Argument values whose JSON is at most this many bytes are kept in argument stubs.
    pub keep_argument_bytes: usize,
    /// Patterns that find where a tool output was offloaded (capture group 1 is the path).
    pub offload_patterns: Vec<Regex>,
}

impl Default for PruneConfig {
    fn default() -> Self {
        let patterns = [
            r"full output: `([^`]+)`",
            r"stored in `([^`]+)`",
            r"(?:saved|written|offloaded) to `?([^\s`]+)`?",
        ];
        PruneConfig {
            keep_recent_turns: 3,
            min_output_tokens: 150,
            max_argument_tokens: 400,
            keep_argument_bytes: 160,
            offload_patterns: patterns.iter().filter_map(|p| Regex::new(p).ok()).collect(),
        }
    }
}

/// One block to stub.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PruneItem {
    /// Message index.
    pub message: usize,
    /// Block index inside the message.
    pub block: usize,
    /// Raw tokens freed (block before minus stub).
    pub freed: u64,
}

/// The blocks a prune would stub, oldest first, and what it frees.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrunePlan {
    /// Blocks, oldest first.
    pub items: Vec<PruneItem>,
    /// Raw tokens freed in total.
    pub freed: u64,
    /// Tool outputs among the items.
    pub outputs: usize,
    /// Tool-call arguments among the items.
    pub arguments: usize,
    /// Superseded layer updates among the items.
    pub updates: usize,
}

/// Index of the first message of the protected tail (the last `keep` turns).
pub fn protected_from(messages: &[Message], keep: usize) -> usize {
    if keep == 0 {
        return messages.len();
    }
    let mut seen = 0;
    for (i, m) in messages.iter().enumerate().rev() {
        if m.role == Role::Assistant {
            seen += 1;
            if seen == keep {
                return i;
            }
        }
    }
    0
}

/// The stub that replaces block `block` of message `message`, if it is prunable.
fn stub_for(
    messages: &[Message],
    calls: &HashMap<&str, (&str, &Value)>,
    latest_update: &HashMap<String, (usize, usize)>,
    (mi, bi): (usize, usize),
    est: &Estimator,
    cfg: &PruneConfig,
) -> Option<(ContentBlock, u64)> {
    let block = &messages[mi].content[bi];
    let before = est.block(block);
    let stub = match block {
        ContentBlock::ToolResult {
            tool_use_id,
            content,
            is_error,
        } => {
            if content.starts_with(STUB_MARKER) || before < cfg.min_output_tokens {
                return None;
            }
            let (name, input) = calls
                .get(tool_use_id.as_str())
                .map(|(n, i)| (*n, i.to_string()))
                .unwrap_or(("unknown", String::new()));
            ContentBlock::ToolResult {
                tool_use_id: tool_use_id.clone(),
                content: output_stub(name, &input, content, cfg),
                is_error: *is_error,
            }
        }
        ContentBlock::ToolUse { id, name, input } => {
            let text = input.to_string();
            if text.contains(STUB_MARKER) || est.text(&text) <= cfg.max_argument_tokens {
                return None;
            }
            ContentBlock::ToolUse {
                id: id.clone(),
                name: name.clone(),
                input: argument_stub(input, cfg.keep_argument_bytes),
            }
        }
        ContentBlock::Text { text } => {
            let layer = context_update_layer(text)?;
            if latest_update.get(layer) == Some(&(mi, bi)) || text.contains(STUB_MARKER) {
                return None;
            }
            ContentBlock::text(format!(
                "{}\n{STUB_MARKER}: superseded by a later update of this layer]\n</context-update>",
                context_update_prefix(layer)
            ))
        }
        ContentBlock::Thinking { .. } => return None,
    };
    let after = est.block(&stub);
    (after < before).then_some((stub, before - after))
}

/// Text of the stub that replaces a tool output.
pub fn output_stub(tool: &str, input: &str, content: &str, cfg: &PruneConfig) -> String {
    let lines = content.lines().count();
    let args = sre_core::text::truncate_middle(input, 120).replace('\n', " ");
    let first = content
        .lines()
        .find(|l| !l.trim().is_empty())
        .map(|l| {
            let cut = sre_core::text::floor_char_boundary(l.trim(), 100);
            l.trim()[..cut].to_string()
        })
        .unwrap_or_default();
    let path = cfg
        .offload_patterns
        .iter()
        .find_map(|re| re.captures(content).and_then(|c| c.get(1)))
        .map(|m| m.as_str().to_string());
    let whereabouts = match path {
        Some(p) => format!("the full output is stored in `{p}` (read or grep it there)"),
        None => "it was removed to save context; re-run the call if you need it again".into(),
    };
    format!(
        "{STUB_MARKER} output of `{tool}` {args}: {} bytes, {lines} lines; first line: {first:?}; {whereabouts}]",
        content.len()
    )
}

/// Arguments with every large value replaced by a note of its size.
fn argument_stub(input: &Value, keep_bytes: usize) -> Value {
    let Value::Object(map) = input else {
        return Value::Object(Map::new());
    };
    let mut out = Map::new();
    for (k, v) in map {
        let text = v.to_string();
        if text.len() <= keep_bytes {
            out.insert(k.clone(), v.clone());
        } else {
            out.insert(
                k.clone(),
                Value::String(format!("{STUB_MARKER}: {} bytes]", text.len())),
            );
        }
    }
    out.into_iter().collect::<Map<String, Value>>().into()
}

/// Plan a prune that frees at least `need` raw tokens if it can (everything prunable when
/// `need` is `u64::MAX`), oldest first.
pub fn plan(messages: &[Message], need: u64, est: &Estimator, cfg: &PruneConfig) -> PrunePlan {
    let stop = protected_from(messages, cfg.keep_recent_turns);
    let calls = tool_calls(messages);
    let latest = latest_updates(messages);
    let mut plan = PrunePlan::default();
    for (mi, m) in messages.iter().enumerate().take(stop) {
        for (bi, block) in m.content.iter().enumerate() {
            if plan.freed >= need {
                return plan;
            }
            if let Some((_, freed)) = stub_for(messages, &calls, &latest, (mi, bi), est, cfg) {
                match block {
                    ContentBlock::ToolResult { .. } => plan.outputs += 1,
                    ContentBlock::ToolUse { .. } => plan.arguments += 1,
                    _ => plan.updates += 1,
                }
                plan.freed += freed;
                plan.items.push(PruneItem {
                    message: mi,
                    block: bi,
                    freed,
                });
            }
        }
    }
    plan
}

/// Apply a plan made on `messages`.
pub fn apply(
    messages: &[Message],
    plan: &PrunePlan,
    est: &Estimator,
    cfg: &PruneConfig,
) -> Vec<Message> {
    let calls = tool_calls(messages);
    let latest = latest_updates(messages);
    let mut out = messages.to_vec();
    for item in &plan.items {
        if let Some((stub, _)) = stub_for(
            messages,
            &calls,
            &latest,
            (item.message, item.block),
            est,
            cfg,
        ) {
            out[item.message].content[item.block] = stub;
        }
    }
    out
}

/// Position of the latest `<context-update>` block of each layer.
fn latest_updates(messages: &[Message]) -> HashMap<String, (usize, usize)> {
    let mut out = HashMap::new();
    for (mi, m) in messages.iter().enumerate() {
        if m.role != Role::User {
            continue;
        }
        for (bi, b) in m.content.iter().enumerate() {
            if let ContentBlock::Text { text } = b
                && let Some(layer) = context_update_layer(text)
            {
                out.insert(layer.to_string(), (mi, bi));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn turn(k: usize, output: &str) -> [Message; 2] {
        [
            Message {
                role: Role::Assistant,
                content: vec![ContentBlock::ToolUse {
                    id: format!("c{k}"),
                    name: "logs".into(),
                    input: json!({"q": format!("query {k}")}),
                }],
            },
            Message {
                role: Role::User,
                content: vec![ContentBlock::ToolResult {
                    tool_use_id: format!("c{k}"),
                    content: output.to_string(),
                    is_error: false,
                }],
            },
        ]
    }

    #[test]
    fn stubs_old_outputs_keeps_recent_turns_and_offload_paths() {
        let est = Estimator::heuristic();
        let cfg = PruneConfig::default();
        let big = "ERROR pool timeout after 30000 ms\n".repeat(100);
        let offloaded = format!(
            "[output of `logs` was 90000 bytes; stored in `scratch/offload/logs-ab.txt`. Preview:]\n{big}"
        );
        let mut t = vec![Message::user("task")];
        t.extend(turn(0, &offloaded));
        for k in 1..6 {
            t.extend(turn(k, &big));
        }
        let p = plan(&t, u64::MAX, &est, &cfg);
        assert_eq!(p.outputs, 3, "turns 0..3 prunable, the last 3 kept");
        let pruned = apply(&t, &p, &est, &cfg);
        crate::transcript::check(&pruned).unwrap();
        let ContentBlock::ToolResult { content, .. } = &pruned[2].content[0] else {
            panic!()
        };
        assert!(content.contains("scratch/offload/logs-ab.txt"), "{content}");
        let ContentBlock::ToolResult { content, .. } = &pruned[4].content[0] else {
            panic!()
        };
        assert!(content.contains("re-run"), "{content}");
        assert!(content.contains("query 1"), "{content}");
        assert_eq!(pruned[7..], t[7..]);
        // Pruning again finds nothing.
        assert_eq!(plan(&pruned, u64::MAX, &est, &cfg).items.len(), 0);
        // A small need prunes only the oldest.
        assert_eq!(plan(&t, 10, &est, &cfg).items.len(), 1);
    }

    #[test]
    fn superseded_layer_updates_are_stubbed_the_latest_is_kept() {
        let est = Estimator::heuristic();
        let cfg = PruneConfig::default();
        let state = |v: &str| {
            Message::user(crate::transcript::context_update(
                "investigation-state",
                &format!("{v} {}", "evidence line\n".repeat(50)),
            ))
        };
        let mut t = vec![Message::user("task"), Message::assistant("a"), state("v1")];
        t.push(Message::assistant("b"));
        t.push(state("v2"));
        for k in 0..4 {
            t.extend(turn(k, "short"));
        }
        let p = plan(&t, u64::MAX, &est, &cfg);
        assert_eq!((p.updates, p.outputs), (1, 0));
        let pruned = apply(&t, &p, &est, &cfg);
        assert!(pruned[2].text().contains("superseded"));
        assert_eq!(pruned[4], t[4]);
    }

    #[test]
    fn oversized_arguments_keep_small_fields() {
        let input = json!({"path": "a.yaml", "content": "x".repeat(5000)});
        let stub = argument_stub(&input, 160);
        assert_eq!(stub["path"], "a.yaml");
        assert!(stub["content"].as_str().unwrap().contains("5002 bytes"));
    }
}
