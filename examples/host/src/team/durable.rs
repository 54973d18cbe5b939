//! The durable approver: a `Review` agent's calls wait in the store for a person, and the
//! run parks (`Approval::Park`) instead of holding a task; `resume` finds the decision.
//! Approval policies (by tool and command prefix, for one thread or all) decide first.

use std::sync::Arc;

use async_trait::async_trait;
use sre_core::{Approval, Approver, HookInput, HookPayload};

use crate::store::approvals::judge;
use crate::store::{ApprovalRecord, ApprovalStore, Effect};

/// The thread a session belongs to: hop and child sessions are named `<thread>--...`.
pub fn thread_of(session: &str) -> &str {
    session.split("--").next().unwrap_or(session)
}

/// Asks people through the approval store; see the module docs.
#[derive(Clone)]
pub struct DurableApprover {
    store: Arc<dyn ApprovalStore>,
}

impl DurableApprover {
    /// Requests and policies in `store`.
    pub fn new(store: Arc<dyn ApprovalStore>) -> Self {
        DurableApprover { store }
    }
}

#[async_trait]
impl Approver for DurableApprover {
    /// A task (a prompt a hook asked about) cannot wait in the store: denied.
    async fn approve(&self, _input: &HookInput, _reason: &str) -> bool {
        false
    }

    async fn decide(&self, input: &HookInput, reason: &str) -> Approval {
        let HookPayload::PreToolUse {
            tool_name,
            tool_input,
            tool_use_id,
            ..
        } = &input.payload
        else {
            return Approval::Deny { reason: None };
        };
        let store = self.store.clone();
        let new = ApprovalRecord {
            id: String::new(),
            thread: thread_of(&input.session_id).to_string(),
            session: input.session_id.clone(),
            tool_use_id: tool_use_id.clone(),
            agent: input.agent_name.clone(),
            tool: tool_name.clone(),
            input: tool_input.clone(),
            reason: reason.to_string(),
            status: "pending".into(),
            approved_input: None,
            note: None,
            created_at: chrono::Utc::now(),
            decided_at: None,
            decided_by: None,
        };
        // SQLite is synchronous: off the runtime's threads.
        let looked = tokio::task::spawn_blocking(move || {
            // A person's decision on this very call comes first: a later policy does not
            // undo an explicit denial.
            if let Some(existing) = store.find(&new.session, &new.tool_use_id)? {
                return Ok(Ok(existing));
            }
            let command = new.input.get("command").and_then(|c| c.as_str());
            let policies = store.policies(&new.thread, &new.tool)?;
            match judge(&policies, command) {
                Some(effect) => Ok(Err(effect)),
                None => store.request(&new).map(Ok),
            }
        })
        .await;
        let record = match looked {
            Ok(Ok(Ok(record))) => record,
            Ok(Ok(Err(Effect::Allow))) => return Approval::Approve,
            Ok(Ok(Err(Effect::Deny))) => {
                return Approval::Deny {
                    reason: Some("an approval policy refuses this call".into()),
                };
            }
            // The store failed: nobody can decide, so the call does not run.
            Ok(Err(e)) => {
                return Approval::Deny {
                    reason: Some(format!("the approval store failed: {e}")),
                };
            }
            Err(e) => {
                return Approval::Deny {
                    reason: Some(format!("the approval store failed: {e}")),
                };
            }
        };
        // A decision is about the input the person saw: another input under the same call
        // id (a provider reusing ids) is not what was decided.
        if &record.input != tool_input {
            return Approval::Deny {
                reason: Some(format!(
                    "request {} was made for another input of this call; ask again with a new call",
                    record.id
                )),
            };
        }
        match record.status.as_str() {
            "approved" => match record.approved_input {
                Some(input) => Approval::ApproveEdited { input },
                None => Approval::Approve,
            },
            "denied" => Approval::Deny {
                reason: record.note,
            },
            _ => Approval::Park { request: record.id },
        }
    }
}
