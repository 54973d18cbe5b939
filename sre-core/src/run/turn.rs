//! One model call: the turn and cost limits, dynamic layers that changed, the budget
//! (prune or compact, metered), then the call itself under cancellation.

use std::time::Instant;

use super::Run;
use crate::agent::{Outcome, StopCause};
use crate::budget::{BudgetVerdict, BudgetView, ReportedPrompt, Rewrite};
use crate::error::{Error, Result};
use crate::event::EventKind;
use crate::hook::{HookAction, HookPayload};
use crate::message::{ContentBlock, Message, Role};
use crate::metered::MeteredModel;
use crate::model::{ModelResponse, StreamEvent, collect_stream};
use crate::session::SessionRecord;

/// What stands in the transcript for a response with no content (providers reject empty
/// messages); it is never part of an answer.
pub(crate) const EMPTY_RESPONSE: &str = "(empty response)";

/// Ledger label of compaction calls, below the agent's name.
pub(crate) const COMPACTION_LABEL: &str = "budget:compaction";

impl Run<'_> {
    /// Limits, dynamic layers and the budget. `Some(outcome)` ends the run.
    pub(super) async fn before_model_call(&mut self) -> Result<Option<Outcome>> {
        if self.turn - self.task_start_turn >= self.parts.max_turns {
            return self.finish(StopCause::MaxTurns, None).await.map(Some);
        }
        if let Some(reason) = self.cost_cap_reached() {
            return self
                .finish(StopCause::CostCapReached { reason }, None)
                .await
                .map(Some);
        }
        self.refresh_dynamic_layers().await?;
        if let Some(reason) = self.apply_budget().await? {
            return self
                .finish(StopCause::StoppedByHook { reason }, None)
                .await
                .map(Some);
        }
        Ok(None)
    }

    /// Whether the agent tree (this agent, its subagents, its judges and compactions) has
    /// spent its cap.
    fn cost_cap_reached(&self) -> Option<String> {
        let cap = &self.parts.cost_cap;
        if cap.max_tokens.is_none() && cap.max_usd.is_none() {
            return None;
        }
        let total = self.ledger.total();
        let tokens = total.usage.prompt_tokens() + total.usage.output_tokens;
        if let Some(max) = cap.max_tokens
            && tokens >= max
        {
            return Some(format!(
                "the agent tree used {tokens} tokens, at or over its cap of {max}"
            ));
        }
        if let Some(max) = cap.max_usd
            && total.cost_usd >= max
        {
            return Some(format!(
                "the agent tree spent ${:.4}, at or over its cap of ${max:.4}",
                total.cost_usd
            ));
        }
        None
    }

    async fn refresh_dynamic_layers(&mut self) -> Result<()> {
        for (i, layer) in self.parts.layers.iter().enumerate() {
            if !layer.is_dynamic() {
                continue;
            }
            let text = layer.render(&self.layer_context()).await?;
            // What the model last saw of this layer: this run's last render, else (after a
            // resume) the last update in the transcript, else the session's system block,
            // else nothing (a layer that rendered empty at start has no block).
            let previous = match &self.layer_texts[i] {
                Some(t) => t.as_str(),
                None => last_layer_update(&self.request.messages, layer.name())
                    .or_else(|| {
                        self.request
                            .system
                            .iter()
                            .find(|b| b.name == layer.name())
                            .map(|b| b.text.as_str())
                    })
                    .unwrap_or(""),
            };
            if previous != text {
                let name = layer.name().to_string();
                self.layer_texts[i] = Some(text.clone());
                self.emit(|| EventKind::LayerChanged {
                    layer: name.clone(),
                });
                self.append_user(vec![ContentBlock::text(format!(
                    "<context-update layer=\"{name}\">\n{text}\n</context-update>"
                ))])
                .await?;
            }
        }
        Ok(())
    }

    /// Prune or compact if the budget says so. `Some(reason)`: a PreCompact hook stopped
    /// the run.
    async fn apply_budget(&mut self) -> Result<Option<String>> {
        let Some(budget) = self.parts.budget.clone() else {
            return Ok(None);
        };
        let info = self.parts.model.info();
        let view = BudgetView {
            info,
            request: &self.request,
            last_reported: self.last_reported,
        };
        let verdict = budget.assess(&view);
        let rewrite = match verdict {
            BudgetVerdict::Fits => return Ok(None),
            BudgetVerdict::Prune => budget.prune(&view).await?,
            BudgetVerdict::Compact => {
                let merged = self
                    .hooks(|| HookPayload::PreCompact {
                        trigger: "auto".into(),
                    })
                    .await?;
                if let HookAction::Stop { reason } = merged.action {
                    return Ok(Some(reason));
                }
                let metered = MeteredModel::new(
                    self.parts.model.clone(),
                    self.ledger.clone(),
                    format!("{}/{COMPACTION_LABEL}", self.agent),
                    self.session.id.clone(),
                    self.session.events.clone(),
                )
                .also_into(self.hook_ctx.own_ledger.clone());
                let view = BudgetView {
                    info,
                    request: &self.request,
                    last_reported: self.last_reported,
                };
                let compacted = tokio::select! {
                    r = budget.compact(&view, &metered) => r?,
                    _ = self.session.cancel.cancelled() => return Err(Error::Cancelled),
                };
                Some(compacted)
            }
        };
        if let Some(Rewrite {
            messages,
            tokens_before,
            tokens_after,
            note,
        }) = rewrite
        {
            self.persist(&[SessionRecord::Rewrite {
                verdict,
                messages: messages.clone(),
            }])
            .await?;
            self.request.messages = messages;
            self.last_reported = None;
            self.emit(|| EventKind::BudgetAction {
                verdict,
                tokens_before,
                tokens_after,
                note,
            });
        }
        Ok(None)
    }

    pub(super) async fn call_model(&mut self) -> Result<()> {
        self.turn += 1;
        let turn = self.turn;
        self.emit(|| EventKind::TurnStarted { turn });
        self.emit(|| EventKind::ModelRequest {
            turn,
            messages: self.request.messages.len(),
            model: self.parts.model.info().name.clone(),
            provider: self.parts.model.provider().to_string(),
            max_tokens: self.request.max_output_tokens,
        });
        let started = Instant::now();
        let model = self.parts.model.as_ref();
        let call = async {
            if self.parts.streaming {
                let stream = model.stream(&self.request).await?;
                collect_stream(stream, |e| {
                    if let StreamEvent::TextDelta { text } = e {
                        self.emit(|| EventKind::TextDelta { text: text.clone() });
                    }
                })
                .await
            } else {
                model.complete(&self.request).await
            }
        };
        // Cancellation wins over a call that ended because of it (a retry layer gives up
        // its backoff when the run is cancelled).
        let response: Option<Result<ModelResponse, _>> = tokio::select! {
            biased;
            _ = self.session.cancel.cancelled() => None,
            r = call => Some(r),
        };
        let Some(response) = response else {
            self.turn -= 1;
            return self.cancelled().await.map(|_| ());
        };
        let response = response?;
        let duration = started.elapsed();
        self.ledger
            .record(&self.agent, response.usage, model.info());
        self.last_reported = Some(ReportedPrompt {
            messages: self.request.messages.len(),
            prompt_tokens: response.usage.prompt_tokens(),
        });
        let mut content = response.content;
        if content.is_empty() {
            content.push(ContentBlock::text(EMPTY_RESPONSE));
        }
        let message = Message {
            role: Role::Assistant,
            content,
        };
        self.emit(|| EventKind::ModelResponse {
            turn,
            usage: response.usage,
            stop_reason: response.stop_reason.clone(),
            response_id: response.request_id.clone(),
            cost_usd: response.usage.cost_usd(&model.info().pricing),
            cacheable: response.usage.prompt_tokens() >= model.info().min_cacheable_tokens,
            duration,
            text: message.text(),
        });
        let cut = response.stop_reason == crate::model::StopReason::MaxTokens;
        self.persist(&[SessionRecord::Message {
            message: message.clone(),
            turn,
            usage: Some(response.usage),
            stop_reason: cut.then_some(response.stop_reason),
        }])
        .await?;
        self.note_answer(
            &message,
            cut.then_some(&crate::model::StopReason::MaxTokens),
        );
        self.request.messages.push(message);
        Ok(())
    }
}

/// The text of the last `<context-update>` of layer `name` in `messages`, if any.
fn last_layer_update<'m>(messages: &'m [Message], name: &str) -> Option<&'m str> {
    let open = format!("<context-update layer=\"{name}\">\n");
    messages
        .iter()
        .rev()
        .flat_map(|m| m.content.iter().rev())
        .find_map(|b| match b {
            ContentBlock::Text { text } => text
                .strip_prefix(open.as_str())?
                .strip_suffix("\n</context-update>"),
            _ => None,
        })
}
