//! Auto-compaction: the model writes a structured handoff summary and the session goes on
//! from that summary, the recent user messages (within a token allowance) and the pinned
//! state. System prompt and layers stay in the system blocks, untouched.

use sre_core::{ContentBlock, Message, Model, ModelRequest, Role};

use crate::error::ContextError;
use crate::prune::{self, PruneConfig};
use crate::tokens::Estimator;
use crate::transcript::{self, context_update, context_update_layer};

/// The default summary prompt. `{summary_tokens}` is replaced by the summary's token
/// allowance; `{pinned_state}` by the current pinned state (or `(none)`).
pub const DEFAULT_TEMPLATE: &str = "\
<compaction-request>
The conversation so far is about to be replaced by your summary; nothing else of it will \
remain, except the user's recent messages and the pinned investigation state shown below. \
Do not call tools. Write a handoff summary that another engineer could continue from, in at \
most {summary_tokens} tokens, with these sections:

## Findings
What is established, with the actual numbers (error rates, latencies, counts, timestamps, \
versions, sizes).
## Hypotheses
Each with its status (open, supported, refuted, confirmed) and why.
## Evidence
The data behind each finding and hypothesis: exact values and where they came from.
## Timeline
Timestamped events of the incident and of the investigation.
## Files and queries that mattered
Paths, commands, queries and dashboards, with what each showed.
## Open questions
What is still unknown and the next steps.

Pinned investigation state (kept verbatim after compaction; do not repeat it, add to it):
{pinned_state}
</compaction-request>";

/// Opening tag of the summary block in a compacted transcript.
pub const SUMMARY_TAG: &str = "<handoff-summary>";
const CONTINUE_TAG: &str = "<compaction-note>";

/// Compaction settings.
#[derive(Clone, Debug)]
pub struct CompactConfig {
    /// `ModelRequest.agent` of the summary request (routing, accounting). Default `compactor`.
    pub agent: String,
    /// The summary prompt; see [`DEFAULT_TEMPLATE`] for the placeholders.
    pub template: String,
    /// Completion tokens allowed for the summary. Default 2000.
    pub summary_tokens: u64,
    /// Tokens of recent user messages carried over verbatim. Default 2000.
    pub user_message_tokens: u64,
}

impl Default for CompactConfig {
    fn default() -> Self {
        CompactConfig {
            agent: "compactor".into(),
            template: DEFAULT_TEMPLATE.into(),
            summary_tokens: 2000,
            user_message_tokens: 2000,
        }
    }
}

/// What a compaction produced.
#[derive(Clone, Debug)]
pub struct Compacted {
    /// The transcript to continue from.
    pub messages: Vec<Message>,
    /// Messages dropped (oldest first) because the summary request would not fit.
    pub dropped: usize,
    /// Tool outputs stubbed for the same reason.
    pub stubbed: usize,
    /// User messages carried over.
    pub carried: usize,
    /// Raw tokens of the summary.
    pub summary_tokens: u64,
}

/// Whether a user text block is something the user (or the harness on its behalf, e.g. a
/// Stop-hook rejection) said, as opposed to a layer update, hook context or compaction text.
fn is_user_text(text: &str) -> bool {
    !(context_update_layer(text).is_some()
        || text.starts_with("<hook-context>")
        || text.starts_with(SUMMARY_TAG)
        || text.starts_with(CONTINUE_TAG)
        || text.starts_with("<compaction-request>"))
}

/// The most recent user texts that fit in `allowance` raw tokens, oldest first.
fn recent_user_texts(messages: &[Message], allowance: u64, est: &Estimator) -> Vec<String> {
    let mut out = Vec::new();
    let mut left = allowance;
    for m in messages.iter().rev().filter(|m| m.role == Role::User) {
        for b in m.content.iter().rev() {
            let ContentBlock::Text { text } = b else {
                continue;
            };
            if !is_user_text(text) {
                continue;
            }
            let n = est.text(text);
            if n <= left {
                left -= n;
                out.push(text.clone());
            } else {
                if out.is_empty() && left > 50 {
                    // The latest message alone is too long: keep its head and tail.
                    let bytes = (left as usize).saturating_mul(3);
                    out.push(sre_core::text::truncate_middle(text, bytes));
                }
                out.reverse();
                return out;
            }
        }
    }
    out.reverse();
    out
}

/// Run a compaction of `request` (the request about to be sent) with `model`.
///
/// `window` is the context window; `current` the request's size as the budget measured it
/// (exact where the provider reported it); `pinned` the current pinned state text (may be
/// empty).
#[allow(clippy::too_many_arguments)]
pub async fn compact(
    request: &ModelRequest,
    current: u64,
    window: u64,
    pinned: &str,
    model: &dyn Model,
    est: &Estimator,
    cfg: &CompactConfig,
    prune_cfg: &PruneConfig,
) -> sre_core::Result<Compacted> {
    let pinned_shown = if pinned.is_empty() { "(none)" } else { pinned };
    let instruction = cfg
        .template
        .replace("{summary_tokens}", &cfg.summary_tokens.to_string())
        .replace("{pinned_state}", pinned_shown);

    // Fit the summary request in the window: stub old outputs, then drop the oldest messages.
    let fixed = est.with_margin(
        est.prefix(&request.tools, &request.system)
            + est.text(&instruction)
            + crate::tokens::BLOCK_OVERHEAD
            + crate::tokens::MESSAGE_OVERHEAD,
    ) + cfg.summary_tokens;
    if fixed >= window {
        return Err(ContextError::Compaction(format!(
            "the summary request alone ({fixed} tokens with the summary allowance) does not fit the {window}-token window"
        ))
        .into());
    }
    let room = window - fixed;
    let mut messages = request.messages.clone();
    let mut stubbed = 0;
    let mut dropped = 0;
    let fits = current + est.with_margin(est.text(&instruction)) + cfg.summary_tokens <= window;
    if !fits && est.with_margin(est.messages(&messages)) > room {
        let all = PruneConfig {
            keep_recent_turns: 0,
            ..prune_cfg.clone()
        };
        let plan = prune::plan(&messages, u64::MAX, est, &all);
        stubbed = plan.outputs;
        messages = prune::apply(&messages, &plan, est, &all);
        let mut sizes: Vec<u64> = messages.iter().map(|m| est.message(m)).collect();
        let mut total: u64 = sizes.iter().sum();
        let mut cut = 0;
        while est.with_margin(total) > room && cut + 1 < messages.len() {
            total -= sizes[cut];
            cut += 1;
        }
        if cut > 0 {
            dropped = cut;
            messages.drain(..cut);
            sizes.drain(..cut);
            let note = format!("[{cut} earlier messages were dropped to fit the summary request]");
            messages = transcript::repair(messages, &note);
        }
        if est.with_margin(est.messages(&messages)) > room {
            // Even the newest message alone is too big: keep its head and tail.
            for m in &mut messages {
                let max = (room as usize).saturating_mul(2) / m.content.len().max(1);
                for b in &mut m.content {
                    if let ContentBlock::Text { text }
                    | ContentBlock::ToolResult { content: text, .. } = b
                    {
                        *text = sre_core::text::truncate_middle(text, max);
                    }
                }
            }
        }
    }
    match messages.last_mut() {
        Some(last) if last.role == Role::User => last.content.push(ContentBlock::text(instruction)),
        _ => messages.push(Message::user(instruction)),
    }
    let summary_request = ModelRequest {
        tools: request.tools.clone(),
        system: request.system.clone(),
        messages,
        max_output_tokens: cfg.summary_tokens,
        agent: cfg.agent.clone(),
        session_id: request.session_id.clone(),
        call: request.call.clone(),
        temperature: request.temperature,
    };
    let response = model.complete(&summary_request).await?;
    let summary = response
        .content
        .iter()
        .filter_map(|b| match b {
            ContentBlock::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let summary = summary.trim();
    if summary.is_empty() {
        return Err(ContextError::Compaction("the model returned an empty summary".into()).into());
    }

    let carried = recent_user_texts(&request.messages, cfg.user_message_tokens, est);
    let mut content = vec![ContentBlock::text(format!(
        "{SUMMARY_TAG}\nThe earlier part of this session was compacted into this handoff summary.\n\n{summary}\n</handoff-summary>"
    ))];
    let n_carried = carried.len();
    content.extend(carried.into_iter().map(ContentBlock::text));
    if !pinned.is_empty() {
        content.push(ContentBlock::text(context_update(
            crate::PINNED_LAYER,
            pinned,
        )));
    }
    content.push(ContentBlock::text(format!(
        "{CONTINUE_TAG}Continue the investigation from the summary{} above; the system prompt and context layers are unchanged.</compaction-note>",
        if pinned.is_empty() { "" } else { " and the pinned state" }
    )));
    Ok(Compacted {
        messages: vec![Message {
            role: Role::User,
            content,
        }],
        dropped,
        stubbed,
        carried: n_carried,
        summary_tokens: est.text(summary),
    })
}
