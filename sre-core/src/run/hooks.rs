//! Running hooks inside a run: every hook that handles an input runs concurrently under
//! the loop's hook timeout; a hook that fails however it fails (an `Err`, the timeout)
//! follows its own fail mode; decisions merge with precedence stop > block > ask >
//! continue. PreToolUse rewrites apply in hook order and the rewritten input is judged
//! again by every hook, so the tool only ever receives an input every hook has seen.

use std::sync::Arc;

use futures::future::join_all;
use serde_json::Value;

use super::Run;
use crate::error::{Error, Result};
use crate::event::EventKind;
use crate::hook::{
    FailMode, Hook, HookAction, HookDecision, HookInput, HookPayload, MergedDecision,
    merge_decisions,
};
use crate::layer::LayerContext;
use crate::tool::Tool;

impl Run<'_> {
    pub(crate) fn hook_input(&self, payload: HookPayload) -> HookInput {
        HookInput {
            session_id: self.session.id.clone(),
            transcript_path: self.transcript_path.clone(),
            cwd: self.parts.cwd.clone(),
            agent_name: self.agent.clone(),
            current_turn: self.turn,
            max_turns: self.parts.max_turns,
            payload,
        }
    }

    pub(crate) fn layer_context(&self) -> LayerContext<'_> {
        LayerContext {
            session_id: &self.session.id,
            agent: &self.agent,
        }
    }

    /// Run every hook that handles the payload, concurrently, and merge their decisions.
    /// The payload (which may hold a tool's whole output) is built only if hooks exist.
    pub(crate) async fn hooks(
        &self,
        payload: impl FnOnce() -> HookPayload,
    ) -> Result<MergedDecision> {
        if self.parts.hooks.is_empty() {
            return Ok(merge_decisions([]));
        }
        let input = self.hook_input(payload());
        self.run_hooks(&input).await
    }

    /// PreToolUse hooks for one call. Every hook judges the input; if some hook rewrites it,
    /// the first rewrite in hook order is applied and every hook judges the new input,
    /// and so on until a round brings no new rewrite. Each hook's rewrite is applied at most
    /// once per call (a hook that always appends a flag appends it once); a hook that
    /// rewrites only what an earlier rewrite produced gets its turn in a later round.
    ///
    /// The decision returned is that of the last round: whatever the rewrites, every hook
    /// judged exactly the input the tool will receive.
    pub(crate) async fn pre_tool_hooks(
        &self,
        id: &str,
        name: &str,
        input: Value,
        tool: Option<&Arc<dyn Tool>>,
    ) -> Result<(MergedDecision, Value)> {
        if self.parts.hooks.is_empty() {
            return Ok((merge_decisions([]), input));
        }
        // Annotations are those of the call with this input (a rewrite may change them).
        let payload = |input: &Value| {
            self.hook_input(HookPayload::PreToolUse {
                tool_name: name.to_string(),
                tool_input: input.clone(),
                tool_use_id: id.to_string(),
                annotations: tool.map(|t| t.call_annotations(input)),
            })
        };
        let mut applied = vec![false; self.parts.hooks.len()];
        let mut current = input;
        // At most one rewrite per hook, plus the judging round after the last one.
        for _ in 0..=self.parts.hooks.len() {
            let round = self.decide(&payload(&current), None).await?;
            let blocked = round.iter().any(|(_, d)| {
                matches!(d.action, HookAction::Block { .. } | HookAction::Stop { .. })
            });
            let next = round.iter().find_map(|(i, d)| {
                let rewritten = d.updated_input.as_ref()?;
                (!applied[*i] && *rewritten != current).then(|| (*i, rewritten.clone()))
            });
            match next {
                Some((i, rewritten)) if !blocked => {
                    applied[i] = true;
                    current = rewritten;
                }
                _ => {
                    let mut merged = merge_decisions(round.iter().map(|(_, d)| d));
                    merged.updated_input = None;
                    return Ok((merged, current));
                }
            }
        }
        let mut blocked = merge_decisions([]);
        blocked.action = HookAction::Block {
            reason: format!(
                "PreToolUse hooks kept rewriting the input of `{name}`; the call was not run"
            ),
        };
        Ok((blocked, current))
    }

    /// Run the hooks that handle `input` (or only hook `only`), concurrently, and return
    /// their decisions by hook index, failures turned into blocks per fail mode.
    async fn decide(
        &self,
        input: &HookInput,
        only: Option<usize>,
    ) -> Result<Vec<(usize, HookDecision)>> {
        let matching: Vec<(usize, &Arc<dyn Hook>)> = self
            .parts
            .hooks
            .iter()
            .enumerate()
            .filter(|(i, h)| only.is_none_or(|o| o == *i) && h.handles(input))
            .collect();
        if matching.is_empty() {
            return Ok(Vec::new());
        }
        let timeout = self.parts.hook_timeout;
        let ctx = &self.hook_ctx;
        let all = join_all(matching.iter().map(|(_, h)| async move {
            match tokio::time::timeout(timeout, h.run(input, ctx)).await {
                Ok(r) => r,
                Err(_) => Err(Error::Hook {
                    hook: h.name().to_string(),
                    message: format!("no decision within the loop's hook timeout of {timeout:?}"),
                }),
            }
        }));
        let results = tokio::select! {
            r = all => r,
            _ = self.session.cancel.cancelled() => return Err(Error::Cancelled),
        };
        let event = input.event();
        let mut decisions = Vec::with_capacity(results.len());
        for ((i, hook), result) in matching.iter().zip(results) {
            let d = match result {
                Ok(d) => d,
                Err(Error::Cancelled) => return Err(Error::Cancelled),
                Err(e) => {
                    let blocked = hook.fail_mode() == FailMode::Block;
                    self.emit(|| EventKind::HookFailed {
                        event,
                        hook: hook.name().to_string(),
                        error: e.to_string(),
                        blocked,
                    });
                    if !blocked {
                        continue;
                    }
                    HookDecision::block(format!(
                        "hook `{}` failed and fails closed (failMode: block): {e}",
                        hook.name()
                    ))
                }
            };
            if d.action != HookAction::Continue
                || d.additional_context.is_some()
                || d.updated_input.is_some()
                || d.system_message.is_some()
                || d.output.is_some()
            {
                self.emit(|| EventKind::HookDecision {
                    event,
                    hook: hook.name().to_string(),
                    action: d.action.clone(),
                    additional_context: d.additional_context.iter().cloned().collect(),
                    system_message: d.system_message.clone(),
                    output: d.output.clone(),
                });
            }
            decisions.push((*i, d));
        }
        Ok(decisions)
    }

    pub(crate) async fn run_hooks(&self, input: &HookInput) -> Result<MergedDecision> {
        let decisions = self.decide(input, None).await?;
        Ok(merge_decisions(decisions.iter().map(|(_, d)| d)))
    }
}
