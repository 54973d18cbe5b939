//! Ending an answer: Stop (or SubagentStop) hooks that accept, stop or reject it (fed back
//! to the agent up to the rejection limit), and answers cut at the output token limit,
//! which the agent is asked to continue.

use super::Run;
use crate::agent::{Outcome, StopCause};
use crate::error::Result;
use crate::event::EventKind;
use crate::hook::{HookAction, HookPayload};
use crate::message::Message;
use crate::session::SessionRecord;

/// What the agent is told when its answer was cut at the output token limit.
pub(crate) const CONTINUE_PROMPT: &str = "Your answer was cut off at the output token limit. \
     Continue exactly where it stopped, without repeating anything.";

impl Run<'_> {
    /// The last answer was cut at the output limit: ask for the rest, or end with what was
    /// written once the continuation limit is reached.
    pub(super) async fn continue_cut_answer(&mut self) -> Result<Option<Outcome>> {
        if self.continuations > self.parts.max_output_continuations {
            let answer = std::mem::take(&mut self.answer_prefix);
            return self
                .finish(StopCause::OutputLimit, Some(answer))
                .await
                .map(Some);
        }
        let turn = self.turn;
        self.emit(|| EventKind::OutputContinued { turn });
        self.append_user(vec![crate::message::ContentBlock::text(CONTINUE_PROMPT)])
            .await?;
        Ok(None)
    }

    pub(super) async fn stop_hooks(&mut self, answer: String) -> Result<Option<Outcome>> {
        let count = self.rejections.len() as u32;
        let merged = self
            .hooks(|| HookPayload::Stop {
                final_output: answer.clone(),
                stop_hook_active: count > 0,
                rejection_count: count,
                subagent: self.parts.is_subagent,
            })
            .await?;
        match merged.action {
            HookAction::Continue => self
                .finish(StopCause::Completed, Some(answer))
                .await
                .map(Some),
            HookAction::Stop { reason } => self
                .finish(StopCause::StoppedByHook { reason }, Some(answer))
                .await
                .map(Some),
            HookAction::Block { reason } | HookAction::Ask { reason } => {
                self.rejections.push(reason.clone());
                let n = self.rejections.len() as u32;
                self.emit(|| EventKind::StopRejected {
                    reason: reason.clone(),
                    count: n,
                });
                if n > self.parts.max_stop_rejections {
                    // The last rejection and the end are one write: a crash cannot lose the
                    // end and ask the judge again.
                    let cause = StopCause::MaxRejections {
                        last_reason: reason.clone(),
                    };
                    self.persist(&[
                        SessionRecord::StopRejected {
                            reason,
                            feedback: None,
                        },
                        SessionRecord::Finished {
                            cause: cause.clone(),
                            answer: Some(answer.clone()),
                        },
                    ])
                    .await?;
                    return Ok(Some(self.finished_now(cause, Some(answer))));
                }
                let feedback = Message::user(format!(
                    "A Stop hook rejected your answer ({n} of at most {} rejections): {reason}\n\
                     Keep investigating, then give a complete final answer.",
                    self.parts.max_stop_rejections
                ));
                self.persist(&[SessionRecord::StopRejected {
                    reason,
                    feedback: Some(feedback.clone()),
                }])
                .await?;
                self.request.messages.push(feedback);
                Ok(None)
            }
        }
    }
}
