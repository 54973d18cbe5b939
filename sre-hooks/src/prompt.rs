//! Prompt hooks: a judge model reads the JSON context and answers `{"ok": true}` or
//! `{"ok": false, "reason": "..."}`.
//!
//! The template's `$ARGUMENTS` is replaced by the pretty-printed JSON context (appended
//! after a blank line when the placeholder is absent). The answer may be wrapped in prose
//! or a code fence; the first JSON object with a boolean `ok` wins. `ok: false` is a
//! `Block` with the reason (on `Stop`, the loop feeds it back to the agent). No answer, a
//! model error or a timeout is a failure decided by the hook's [`FailMode`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use sre_core::{
    Hook, HookContext, HookDecision, HookInput, Message, Model, ModelRequest, SystemBlock,
};

use crate::error::HookError;
use crate::matcher::{HookFilter, stop_rejections};
use crate::spec::{DEFAULT_MAX_REJECTIONS, DEFAULT_TIMEOUT_SECS, FailMode, finish};

/// The system prompt given to the judge model.
pub const JUDGE_SYSTEM_PROMPT: &str = "You are a hook of an autonomous SRE agent: you evaluate one event of its \
run against the instructions in the user message. Answer with one JSON object and nothing else: \
{\"ok\": true} to let it proceed, or {\"ok\": false, \"reason\": \"...\"} to refuse it, where the reason \
tells the agent precisely what to fix.";

/// Completion cap of a judge call.
const JUDGE_MAX_TOKENS: u64 = 1024;

/// A hook that asks a model. See the module docs.
#[derive(Clone)]
pub struct PromptHook {
    filter: HookFilter,
    template: String,
    model: Arc<dyn Model>,
    timeout: Duration,
    fail_mode: FailMode,
    max_rejections: u32,
}

impl std::fmt::Debug for PromptHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptHook")
            .field("filter", &self.filter)
            .field("model", &self.model.info().name)
            .field("timeout", &self.timeout)
            .field("fail_mode", &self.fail_mode)
            .field("max_rejections", &self.max_rejections)
            .finish_non_exhaustive()
    }
}

impl PromptHook {
    /// A prompt hook with defaults (30 s, failMode allow, 3 rejections).
    pub fn new(filter: HookFilter, template: impl Into<String>, model: Arc<dyn Model>) -> Self {
        PromptHook {
            filter,
            template: template.into(),
            model,
            timeout: Duration::from_secs(u64::from(DEFAULT_TIMEOUT_SECS)),
            fail_mode: FailMode::Allow,
            max_rejections: DEFAULT_MAX_REJECTIONS,
        }
    }

    /// Timeout of the model call.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// What a failure means.
    pub fn fail_mode(mut self, mode: FailMode) -> Self {
        self.fail_mode = mode;
        self
    }

    /// Once `stop_rejection_count` reaches this, the hook stops rejecting (without calling
    /// the model).
    pub fn max_rejections(mut self, n: u32) -> Self {
        self.max_rejections = n;
        self
    }

    /// The prompt sent for `input`.
    pub fn render(&self, input: &HookInput) -> String {
        let args = serde_json::to_string_pretty(&self.filter.input_json(input)).unwrap_or_default();
        if self.template.contains("$ARGUMENTS") {
            self.template.replace("$ARGUMENTS", &args)
        } else {
            format!("{}\n\n{args}", self.template)
        }
    }

    /// Ask the model (its call counted in `ctx`'s ledger as `<agent>/hook:<name>`).
    pub async fn evaluate(
        &self,
        input: &HookInput,
        ctx: &HookContext,
    ) -> Result<HookDecision, HookError> {
        let name = &self.filter.name;
        let label = format!("hook:{name}");
        let model = ctx.metered(self.model.clone(), &label);
        let request = ModelRequest {
            tools: Vec::new(),
            system: vec![SystemBlock {
                name: "system".into(),
                text: JUDGE_SYSTEM_PROMPT.into(),
            }],
            messages: vec![Message::user(self.render(input))],
            max_output_tokens: self.model.info().max_output_tokens.min(JUDGE_MAX_TOKENS),
            temperature: None,
            agent: format!("{}/{label}", ctx.agent),
            session_id: input.session_id.clone(),
            call: ctx.call_context(),
        };
        let response = tokio::time::timeout(self.timeout, model.complete(&request))
            .await
            .map_err(|_| HookError::Timeout {
                hook: name.clone(),
                timeout_ms: self.timeout.as_millis() as u64,
            })?
            .map_err(|e| HookError::Model {
                hook: name.clone(),
                message: e.to_string(),
            })?;
        let text = Message {
            role: sre_core::Role::Assistant,
            content: response.content,
        }
        .text();
        match parse_verdict(&text) {
            Some((true, _)) => Ok(HookDecision::allow()),
            Some((false, reason)) => {
                Ok(HookDecision::block(reason.unwrap_or_else(|| {
                    format!("rejected by prompt hook `{name}`")
                })))
            }
            None => {
                let shown: String = text.chars().take(200).collect();
                Err(HookError::Output {
                    hook: name.clone(),
                    message: format!("the model did not answer {{\"ok\": true|false}}: {shown:?}"),
                })
            }
        }
    }
}

#[async_trait]
impl Hook for PromptHook {
    fn name(&self) -> &str {
        &self.filter.name
    }

    fn handles(&self, input: &HookInput) -> bool {
        self.filter.handles(input)
    }

    fn fail_mode(&self) -> FailMode {
        self.fail_mode
    }

    async fn run(
        &self,
        input: &HookInput,
        ctx: &HookContext,
    ) -> Result<HookDecision, sre_core::Error> {
        if stop_rejections(input).is_some_and(|n| n >= self.max_rejections) {
            // The limit is reached: let the answer through without asking.
            return Ok(HookDecision::allow());
        }
        let result = self.evaluate(input, ctx).await;
        finish(&self.filter.name, input, self.max_rejections, result)
    }
}

/// Find the verdict in a model answer: the first JSON object (possibly inside prose or a
/// code fence) with a boolean `ok`. Returns `(ok, reason)`.
pub fn parse_verdict(text: &str) -> Option<(bool, Option<String>)> {
    let verdict = |v: &Value| -> Option<(bool, Option<String>)> {
        let ok = v.get("ok")?.as_bool()?;
        let reason = v
            .get("reason")
            .and_then(Value::as_str)
            .map(str::to_string)
            .filter(|r| !r.trim().is_empty());
        Some((ok, reason))
    };
    for (i, _) in text.match_indices('{') {
        let mut stream = serde_json::Deserializer::from_str(&text[i..]).into_iter::<Value>();
        if let Some(Ok(v)) = stream.next()
            && let Some(found) = verdict(&v)
        {
            return Some(found);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::parse_verdict;

    #[test]
    fn verdicts_in_prose_and_fences() {
        assert_eq!(parse_verdict(r#"{"ok": true}"#), Some((true, None)));
        assert_eq!(
            parse_verdict(
                "Sure.\n```json\n{\"ok\": false, \"reason\": \"no numbers\"}\n```\nHope it helps."
            ),
            Some((false, Some("no numbers".into())))
        );
        assert_eq!(
            parse_verdict(r#"{"note": {"x": 1}} then {"ok": true}"#),
            Some((true, None))
        );
        assert_eq!(parse_verdict("I think it is fine"), None);
        assert_eq!(parse_verdict(r#"{"ok": "yes"}"#), None);
    }
}
